import { queryField } from '../../guard/field-guard.js';
import type { ManagedPolicy, ManagedPolicyVersion } from '../managed-policies.js';
import type { QueryAction, QueryParams, XmlObject } from './action.js';
import {
  booleanParam,
  DESCRIPTION,
  enumParam,
  optionalParam,
  pageParams,
  policyHolderParams,
  pageUnderPathPrefix,
  pathPrefixParam,
  POLICY_ARN,
  POLICY_DOCUMENT,
  POLICY_NAME,
  POLICY_VERSION_ID,
  refuseUnsupported,
  requiredParam,
} from './params.js';
import type { IamQueryServices } from './services.js';
import { encodedDocument, listShape } from './shapes.js';

/** IAM's Policy shape; ListPolicies leaves the description out, as IAM does. */
function policyShape(policy: ManagedPolicy, withDescription: boolean): XmlObject {
  return {
    PolicyName: policy.policyName,
    DefaultVersionId: policy.defaultVersionId,
    PolicyId: policy.policyId,
    Path: '/',
    Arn: policy.arn,
    AttachmentCount: policy.attachmentCount,
    PermissionsBoundaryUsageCount: 0,
    IsAttachable: true,
    Description: withDescription ? policy.description : undefined,
    CreateDate: policy.createDate,
    UpdateDate: policy.updateDate,
  };
}

function policyArnParam(params: QueryParams): string {
  return requiredParam(params, 'PolicyArn', POLICY_ARN);
}

/**
 * CreatePolicy, GetPolicy, ListPolicies, DeletePolicy; policy versions (create, get, list, set
 * default, delete); ListEntitiesForPolicy; attaching, detaching and listing the managed policies
 * of users and groups.
 */
export function managedPolicyActions({
  managedPolicies,
  arns,
  users,
  groups,
}: IamQueryServices): QueryAction[] {
  const attachmentActions = (['user', 'group'] as const).flatMap((type): QueryAction[] => {
    const { noun, holderOf, resource } = policyHolderParams(type, arns);
    return [
      {
        service: 'iam',
        name: `Attach${noun}Policy`,
        readOnly: false,
        resource,
        async handle(params) {
          await managedPolicies.attach(holderOf(params), policyArnParam(params));
          return undefined;
        },
      },
      {
        service: 'iam',
        name: `Detach${noun}Policy`,
        readOnly: false,
        resource,
        async handle(params) {
          await managedPolicies.detach(holderOf(params), policyArnParam(params));
          return undefined;
        },
      },
      {
        service: 'iam',
        name: `ListAttached${noun}Policies`,
        readOnly: true,
        resource,
        async handle(params) {
          const holder = holderOf(params);
          const page = await pageUnderPathPrefix(params, (request) =>
            managedPolicies.listAttached(holder, request),
          );
          return listShape('AttachedPolicies', page, (policy) => ({
            PolicyName: policy.policyName,
            PolicyArn: policy.policyArn,
          }));
        },
      },
    ];
  });
  return [
    {
      service: 'iam',
      name: 'CreatePolicy',
      readOnly: false,
      resource: (params) => arns.policy(requiredParam(params, 'PolicyName', POLICY_NAME)),
      freeFormFields: (params) => [
        ...queryField(params, 'PolicyName', 'names'),
        ...queryField(params, 'Description', 'descriptions'),
      ],
      async handle(params) {
        refuseUnsupported(params, ['Tags']);
        const policy = await managedPolicies.create(
          requiredParam(params, 'PolicyName', POLICY_NAME),
          requiredParam(params, 'PolicyDocument', POLICY_DOCUMENT),
          optionalParam(params, 'Description', DESCRIPTION),
        );
        return { Policy: policyShape(policy, true) };
      },
    },
    {
      service: 'iam',
      name: 'GetPolicy',
      readOnly: true,
      resource: policyArnParam,
      async handle(params) {
        return { Policy: policyShape(await managedPolicies.get(policyArnParam(params)), true) };
      },
    },
    {
      service: 'iam',
      name: 'GetPolicyVersion',
      readOnly: true,
      resource: policyArnParam,
      async handle(params) {
        const version = await managedPolicies.getVersion(
          policyArnParam(params),
          requiredParam(params, 'VersionId', POLICY_VERSION_ID),
        );
        return {
          PolicyVersion: {
            Document: encodedDocument(version.document),
            VersionId: version.versionId,
            IsDefaultVersion: version.isDefaultVersion,
            CreateDate: version.createDate,
          },
        };
      },
    },
    {
      service: 'iam',
      name: 'ListPolicies',
      readOnly: true,
      async handle(params) {
        const usage = enumParam(params, 'PolicyUsageFilter', [
          'PermissionsPolicy',
          'PermissionsBoundary',
        ] as const);
        const page = await managedPolicies.list(
          {
            scope: enumParam(params, 'Scope', ['All', 'AWS', 'Local'] as const) ?? 'All',
            onlyAttached: booleanParam(params, 'OnlyAttached') ?? false,
            pathPrefix: pathPrefixParam(params),
            ...(usage !== undefined ? { usage } : {}),
          },
          pageParams(params),
        );
        return listShape('Policies', page, (policy) => policyShape(policy, false));
      },
    },
    {
      service: 'iam',
      name: 'DeletePolicy',
      readOnly: false,
      resource: policyArnParam,
      async handle(params) {
        await managedPolicies.delete(policyArnParam(params));
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'CreatePolicyVersion',
      readOnly: false,
      resource: policyArnParam,
      async handle(params) {
        const version = await managedPolicies.createVersion(
          policyArnParam(params),
          requiredParam(params, 'PolicyDocument', POLICY_DOCUMENT),
          booleanParam(params, 'SetAsDefault') ?? false,
        );
        return { PolicyVersion: versionShape(version) };
      },
    },
    {
      service: 'iam',
      name: 'ListPolicyVersions',
      readOnly: true,
      resource: policyArnParam,
      async handle(params) {
        const versions = await managedPolicies.listVersions(policyArnParam(params));
        return { Versions: versions.map(versionShape), IsTruncated: false };
      },
    },
    {
      service: 'iam',
      name: 'SetDefaultPolicyVersion',
      readOnly: false,
      resource: policyArnParam,
      async handle(params) {
        await managedPolicies.setDefaultVersion(
          policyArnParam(params),
          requiredParam(params, 'VersionId', POLICY_VERSION_ID),
        );
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'DeletePolicyVersion',
      readOnly: false,
      resource: policyArnParam,
      async handle(params) {
        await managedPolicies.deleteVersion(
          policyArnParam(params),
          requiredParam(params, 'VersionId', POLICY_VERSION_ID),
        );
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'ListEntitiesForPolicy',
      readOnly: true,
      resource: policyArnParam,
      async handle(params) {
        refuseUnsupported(params, ['PathPrefix', 'PolicyUsageFilter']);
        const entities = await managedPolicies.entities(policyArnParam(params));
        const [attachedUsers, attachedGroups] = await Promise.all([
          Promise.all(entities.userNames.map((name) => users.getUser(name))),
          Promise.all(entities.groupNames.map((name) => groups.getGroup(name))),
        ]);
        return {
          PolicyGroups: attachedGroups.flatMap((group) =>
            group ? [{ GroupName: group.groupName, GroupId: group.groupId }] : [],
          ),
          PolicyUsers: attachedUsers.flatMap((user) =>
            user ? [{ UserName: user.userName, UserId: user.userId }] : [],
          ),
          PolicyRoles: [],
          IsTruncated: false,
        };
      },
    },
    ...attachmentActions,
  ];
}

/** IAM's PolicyVersion shape; the document only where IAM returns it (GetPolicyVersion). */
function versionShape(version: ManagedPolicyVersion): XmlObject {
  return {
    VersionId: version.versionId,
    IsDefaultVersion: version.isDefaultVersion,
    CreateDate: version.createDate,
  };
}
