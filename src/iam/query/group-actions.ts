import { queryField } from '../../guard/field-guard.js';
import type { QueryAction, QueryParams } from './action.js';
import {
  GROUP_NAME,
  pageParams,
  pageUnderPathPrefix,
  refuseUnsupported,
  requiredParam,
  USER_NAME,
} from './params.js';
import type { IamQueryServices } from './services.js';
import { groupShape, listShape, userShape } from './shapes.js';

/** CreateGroup, GetGroup, ListGroups, DeleteGroup, AddUserToGroup, RemoveUserFromGroup, ListGroupsForUser. */
export function groupActions({ groups, arns }: IamQueryServices): QueryAction[] {
  const groupArn = (params: QueryParams) =>
    arns.group(requiredParam(params, 'GroupName', GROUP_NAME));
  const membership = (params: QueryParams) => ({
    groupName: requiredParam(params, 'GroupName', GROUP_NAME),
    userName: requiredParam(params, 'UserName', USER_NAME),
  });
  return [
    {
      service: 'iam',
      name: 'CreateGroup',
      readOnly: false,
      resource: groupArn,
      freeFormFields: (params) => queryField(params, 'GroupName', 'names'),
      async handle(params) {
        refuseUnsupported(params, []);
        const group = await groups.createGroup(requiredParam(params, 'GroupName', GROUP_NAME));
        return { Group: groupShape(group, arns) };
      },
    },
    {
      service: 'iam',
      name: 'GetGroup',
      readOnly: true,
      resource: groupArn,
      async handle(params) {
        const groupName = requiredParam(params, 'GroupName', GROUP_NAME);
        const request = pageParams(params);
        const group = await groups.requireGroup(groupName);
        const members = await groups.listMembers(groupName, request);
        return {
          Group: groupShape(group, arns),
          ...listShape('Users', members, (user) => userShape(user, arns)),
        };
      },
    },
    {
      service: 'iam',
      name: 'ListGroups',
      readOnly: true,
      async handle(params) {
        const page = await pageUnderPathPrefix(params, (request) => groups.listGroups(request));
        return listShape('Groups', page, (group) => groupShape(group, arns));
      },
    },
    {
      service: 'iam',
      name: 'DeleteGroup',
      readOnly: false,
      resource: groupArn,
      async handle(params) {
        await groups.deleteGroup(requiredParam(params, 'GroupName', GROUP_NAME));
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'AddUserToGroup',
      readOnly: false,
      resource: groupArn,
      async handle(params) {
        const { groupName, userName } = membership(params);
        await groups.addUser(groupName, userName);
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'RemoveUserFromGroup',
      readOnly: false,
      resource: groupArn,
      async handle(params) {
        const { groupName, userName } = membership(params);
        await groups.removeUser(groupName, userName);
        return undefined;
      },
    },
    {
      service: 'iam',
      name: 'ListGroupsForUser',
      readOnly: true,
      resource: (params) => arns.user(requiredParam(params, 'UserName', USER_NAME)),
      async handle(params) {
        const userName = requiredParam(params, 'UserName', USER_NAME);
        const page = await groups.listGroupsForUser(userName, pageParams(params));
        return listShape('Groups', page, (group) => groupShape(group, arns));
      },
    },
  ];
}
