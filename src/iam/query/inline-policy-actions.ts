import type { PolicyHolder } from '../inline-policies.js';
import type { QueryAction, QueryParams } from './action.js';
import {
  GROUP_NAME,
  pageParams,
  POLICY_DOCUMENT,
  POLICY_NAME,
  requiredParam,
  USER_NAME,
} from './params.js';
import type { IamQueryServices } from './services.js';
import { encodedDocument, listShape } from './shapes.js';

/**
 * PutUserPolicy, GetUserPolicy, ListUserPolicies, DeleteUserPolicy and the same four for groups:
 * the same calls, named `{Verb}{User|Group}Policy`, with `UserName` or `GroupName`.
 */
export function inlinePolicyActions({ inlinePolicies, arns }: IamQueryServices): QueryAction[] {
  return (['user', 'group'] as const).flatMap((type): QueryAction[] => {
    const noun = type === 'user' ? 'User' : 'Group';
    const holderOf = (params: QueryParams): PolicyHolder => ({
      type,
      name:
        type === 'user'
          ? requiredParam(params, 'UserName', USER_NAME)
          : requiredParam(params, 'GroupName', GROUP_NAME),
    });
    const resource = (params: QueryParams) => {
      const holder = holderOf(params);
      return type === 'user' ? arns.user(holder.name) : arns.group(holder.name);
    };
    return [
      {
        service: 'iam',
        name: `Put${noun}Policy`,
        readOnly: false,
        resource,
        async handle(params) {
          await inlinePolicies.put(
            holderOf(params),
            requiredParam(params, 'PolicyName', POLICY_NAME),
            requiredParam(params, 'PolicyDocument', POLICY_DOCUMENT),
          );
          return undefined;
        },
      },
      {
        service: 'iam',
        name: `Get${noun}Policy`,
        readOnly: true,
        resource,
        async handle(params) {
          const holder = holderOf(params);
          const policy = await inlinePolicies.get(
            holder,
            requiredParam(params, 'PolicyName', POLICY_NAME),
          );
          return {
            [`${noun}Name`]: holder.name,
            PolicyName: policy.policyName,
            PolicyDocument: encodedDocument(policy.policyDocument),
          };
        },
      },
      {
        service: 'iam',
        name: `List${noun}Policies`,
        readOnly: true,
        resource,
        async handle(params) {
          const page = await inlinePolicies.listNames(holderOf(params), pageParams(params));
          return listShape('PolicyNames', page, (name) => name);
        },
      },
      {
        service: 'iam',
        name: `Delete${noun}Policy`,
        readOnly: false,
        resource,
        async handle(params) {
          await inlinePolicies.delete(
            holderOf(params),
            requiredParam(params, 'PolicyName', POLICY_NAME),
          );
          return undefined;
        },
      },
    ];
  });
}
