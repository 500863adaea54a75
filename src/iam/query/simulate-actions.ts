import { BulwarkError } from '../../errors.js';
import type { IamAuthorizer } from '../authorize.js';
import type { IamArns } from '../arns.js';
import type { IamUsers } from '../users.js';
import type { QueryAction, QueryParams, XmlObject } from './action.js';
import { POLICY_ARN, requiredParam } from './params.js';

/** IAM's bounds on one simulation. */
const MAX_ACTIONS = 100;
const MAX_RESOURCES = 100;

/** The values of a `Name.member.N` list, in order. */
function memberList(params: QueryParams, name: string): string[] {
  const values: string[] = [];
  for (let index = 1; params[`${name}.member.${index}`] !== undefined; index++)
    values.push(params[`${name}.member.${index}`] as string);
  return values;
}

/** `ContextEntries.member.N.ContextKeyName` / `.ContextKeyValues.member.M` as condition keys. */
function contextKeys(params: QueryParams): Record<string, string[]> {
  const keys: Record<string, string[]> = {};
  for (let index = 1; ; index++) {
    const prefix = `ContextEntries.member.${index}`;
    const name = params[`${prefix}.ContextKeyName`];
    if (name === undefined) return keys;
    keys[name] = memberList(params, `${prefix}.ContextKeyValues`);
  }
}

/**
 * SimulatePrincipalPolicy: what a user's policies (its own and its groups') decide for each
 * action on each resource, with the deciding statements and the context keys the policies need
 * but the simulation did not supply: the same evaluation every real request goes through.
 */
export function simulateActions(
  authorizer: IamAuthorizer,
  users: IamUsers,
  arns: IamArns,
): QueryAction[] {
  return [
    {
      service: 'iam',
      name: 'SimulatePrincipalPolicy',
      readOnly: true,
      resource: (params) => requiredParam(params, 'PolicySourceArn', POLICY_ARN),
      async handle(params) {
        const sourceArn = requiredParam(params, 'PolicySourceArn', POLICY_ARN);
        const userName = sourceArn.startsWith(arns.user(''))
          ? sourceArn.slice(arns.user('').length)
          : undefined;
        const user = userName !== undefined ? await users.getUser(userName) : undefined;
        if (!user)
          throw new BulwarkError(
            'NoSuchEntity',
            `PolicySourceArn ${sourceArn} is not a user of this account.`,
          );
        const actions = memberList(params, 'ActionNames');
        if (actions.length === 0 || actions.length > MAX_ACTIONS)
          throw new BulwarkError(
            'InvalidInput',
            `ActionNames must list 1 to ${MAX_ACTIONS} actions.`,
          );
        const resources = memberList(params, 'ResourceArns');
        if (resources.length > MAX_RESOURCES)
          throw new BulwarkError('InvalidInput', `ResourceArns may list at most ${MAX_RESOURCES}.`);
        const policies = await authorizer.policiesOf(user.userName);
        const keys = contextKeys(params);
        const caller = {
          arn: sourceArn,
          principalId: user.userId,
          userName: user.userName,
          // As a request signed with the user's long-term access key.
          accessKeyId: 'AKIASIMULATION',
        };
        const results: XmlObject[] = [];
        for (const action of actions)
          for (const resource of resources.length > 0 ? resources : ['*']) {
            const decision = authorizer.decide(policies, caller, action, resource, { keys });
            results.push({
              EvalActionName: action,
              EvalResourceName: resource,
              EvalDecision: decision.decision,
              MatchedStatements: decision.matchedStatements.map((statement) => ({
                SourcePolicyId: statement.policyName,
                SourcePolicyType: statement.policyArn ? 'user-managed' : 'user',
              })),
              MissingContextValues: decision.missingContextValues,
            });
          }
        return { EvaluationResults: results, IsTruncated: false };
      },
    },
  ];
}
