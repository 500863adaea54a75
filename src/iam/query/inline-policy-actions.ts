import { queryField } from '../../guard/field-guard.js';
import type { QueryAction } from './action.js';
import {
  pageParams,
  policyHolderParams,
  POLICY_DOCUMENT,
  POLICY_NAME,
  requiredParam,
} from './params.js';
import type { IamQueryServices } from './services.js';
import { encodedDocument, listShape } from './shapes.js';

/**
 * PutUserPolicy, GetUserPolicy, ListUserPolicies, DeleteUserPolicy and the same four for groups:
 * the same calls, named `{Verb}{User|Group}Policy`, with `UserName` or `GroupName`.
 */
export function inlinePolicyActions({ inlinePolicies, arns }: IamQueryServices): QueryAction[] {
  return (['user', 'group'] as const).flatMap((type): QueryAction[] => {
    const { noun, holderOf, resource } = policyHolderParams(type, arns);
    return [
      {
        service: 'iam',
        name: `Put${noun}Policy`,
        readOnly: false,
        resource,
        // The user or group it names exists already; the policy's name is new.
        freeFormFields: (params) => queryField(params, 'PolicyName', 'names'),
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
