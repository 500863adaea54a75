import { queryField } from '../../guard/field-guard.js';
import type { QueryAction, QueryContext, QueryParams } from './action.js';
import {
  optionalParam,
  pageUnderPathPrefix,
  refuseUnsupported,
  requiredParam,
  USER_NAME,
} from './params.js';
import type { IamQueryServices } from './services.js';
import { listShape, userShape } from './shapes.js';

/** `UserName`, or the caller when it is absent (GetUser, the access key actions). */
export function userNameOrCaller(params: QueryParams, context: QueryContext): string {
  return optionalParam(params, 'UserName', USER_NAME) ?? context.caller.userName;
}

/** CreateUser, GetUser, ListUsers, DeleteUser. */
export function userActions({ users, arns }: IamQueryServices): QueryAction[] {
  return [
    {
      service: 'iam',
      name: 'CreateUser',
      readOnly: false,
      resource: (params) => arns.user(requiredParam(params, 'UserName', USER_NAME)),
      freeFormFields: (params) => queryField(params, 'UserName', 'names'),
      async handle(params) {
        refuseUnsupported(params, ['Tags', 'PermissionsBoundary']);
        const user = await users.createUser(requiredParam(params, 'UserName', USER_NAME));
        return { User: userShape(user, arns) };
      },
    },
    {
      service: 'iam',
      name: 'GetUser',
      readOnly: true,
      resource: (params, context) => arns.user(userNameOrCaller(params, context)),
      async handle(params, context) {
        const user = await users.requireUser(userNameOrCaller(params, context));
        return { User: userShape(user, arns) };
      },
    },
    {
      service: 'iam',
      name: 'ListUsers',
      readOnly: true,
      async handle(params) {
        const page = await pageUnderPathPrefix(params, (request) => users.listUsers(request));
        return listShape('Users', page, (user) => userShape(user, arns));
      },
    },
    {
      service: 'iam',
      name: 'DeleteUser',
      readOnly: false,
      resource: (params) => arns.user(requiredParam(params, 'UserName', USER_NAME)),
      async handle(params) {
        await users.deleteUser(requiredParam(params, 'UserName', USER_NAME));
        return undefined;
      },
    },
  ];
}
