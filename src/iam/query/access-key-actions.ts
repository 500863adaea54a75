import type { AccessKeyMetadata } from '../users.js';
import type { QueryAction, XmlObject } from './action.js';
import { ACCESS_KEY_ID, requiredEnumParam, requiredParam } from './params.js';
import type { IamQueryServices } from './services.js';
import { userNameOrCaller } from './user-actions.js';

const STATUSES = ['Active', 'Inactive'] as const;

function metadataShape(key: AccessKeyMetadata): XmlObject {
  return {
    UserName: key.userName,
    AccessKeyId: key.accessKeyId,
    Status: key.status,
    CreateDate: key.createDate,
  };
}

/**
 * CreateAccessKey, ListAccessKeys, UpdateAccessKey, DeleteAccessKey (without UserName: the
 * caller's own keys) and GetAccessKeyLastUsed.
 */
export function accessKeyActions({ users, arns }: IamQueryServices): QueryAction[] {
  const userResource: QueryAction['resource'] = (params, context) =>
    arns.user(userNameOrCaller(params, context));
  return [
    {
      service: 'iam',
      name: 'CreateAccessKey',
      readOnly: false,
      resource: userResource,
      async handle(params, context) {
        const key = await users.createAccessKey(userNameOrCaller(params, context));
        // The only time the secret leaves the store.
        return {
          AccessKey: {
            UserName: key.userName,
            AccessKeyId: key.accessKeyId,
            Status: key.status,
            SecretAccessKey: key.secretAccessKey,
            CreateDate: key.createDate,
          },
        };
      },
    },
    {
      service: 'iam',
      name: 'ListAccessKeys',
      readOnly: true,
      resource: userResource,
      async handle(params, context) {
        const keys = await users.listAccessKeys(userNameOrCaller(params, context));
        // At most two keys per user: never more than one page.
        return { AccessKeyMetadata: keys.map(metadataShape), IsTruncated: false };
      },
    },
    {
      service: 'iam',
      name: 'UpdateAccessKey',
      readOnly: false,
      resource: userResource,
      async handle(params, context) {
        await users.updateAccessKey(
          userNameOrCaller(params, context),
          requiredParam(params, 'AccessKeyId', ACCESS_KEY_ID),
          requiredEnumParam(params, 'Status', STATUSES),
        );
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'DeleteAccessKey',
      readOnly: false,
      resource: userResource,
      async handle(params, context) {
        await users.deleteAccessKey(
          userNameOrCaller(params, context),
          requiredParam(params, 'AccessKeyId', ACCESS_KEY_ID),
        );
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'GetAccessKeyLastUsed',
      readOnly: true,
      // Authorized on the key's owner, as IAM does; an unknown key is then NoSuchEntity.
      async resource(params) {
        const owner = await users.keyOwner(requiredParam(params, 'AccessKeyId', ACCESS_KEY_ID));
        return owner === undefined ? '*' : arns.user(owner);
      },
      async handle(params) {
        const used = await users.accessKeyLastUsed(
          requiredParam(params, 'AccessKeyId', ACCESS_KEY_ID),
        );
        return {
          UserName: used.userName,
          // A key never used reports N/A, as IAM does.
          AccessKeyLastUsed: used.lastUsed
            ? {
                LastUsedDate: used.lastUsed.date,
                ServiceName: used.lastUsed.serviceName,
                Region: used.lastUsed.region,
              }
            : { ServiceName: 'N/A', Region: 'N/A' },
        };
      },
    },
  ];
}
