import type { AuthorizationContext } from './context.js';
import type { CompiledPolicy, Statement } from './statement.js';

/**
 * IAM's evaluation logic, which IoT policies follow (iot-policies; IAM
 * reference_policies_evaluation-logic): every request is denied by default; a statement that
 * allows it turns that into an allow; a statement that denies it wins over every allow. The
 * policies that apply to a principal (an IoT certificate's and its thing's groups', an IAM
 * user's and its groups') are one union. Generic over the request context `C`, so that IoT and
 * IAM policies share it.
 */

/** `implicit-deny`: no statement allowed the request; `deny`: a statement denied it. */
export type Decision = 'allow' | 'deny' | 'implicit-deny';

/** The IoT actions the broker and the data plane ask about. */
export const IOT_ACTIONS = {
  connect: 'iot:Connect',
  publish: 'iot:Publish',
  retainPublish: 'iot:RetainPublish',
  subscribe: 'iot:Subscribe',
  receive: 'iot:Receive',
} as const;

/**
 * What one policy says about a request, given whether an earlier policy already allowed it (its
 * allow statements are then skipped: only a deny could still change the outcome).
 */
export function judge<C>(
  policy: CompiledPolicy<C>,
  action: string,
  resourceArn: string,
  context: C,
  allowedAlready: boolean,
): 'deny' | 'allow' | 'silent' {
  for (const statement of policy.denies)
    if (statement.applies(action, resourceArn, context)) return 'deny';
  if (allowedAlready) return 'silent';
  for (const statement of policy.allows)
    if (statement.applies(action, resourceArn, context)) return 'allow';
  return 'silent';
}

/** The decision for `action` on `resourceArn` under the union of `policies`. Synchronous, pure. */
export function evaluate<C>(
  policies: Iterable<CompiledPolicy<C>>,
  action: string,
  resourceArn: string,
  context: C,
): Decision {
  let allowed = false;
  for (const policy of policies) {
    const verdict = judge(policy, action, resourceArn, context, allowed);
    if (verdict === 'deny') return 'deny';
    if (verdict === 'allow') allowed = true;
  }
  return allowed ? 'allow' : 'implicit-deny';
}

/** A statement that applies to a request, with the policy it belongs to. */
export interface StatementMatch<P, C> {
  policy: P;
  statement: Statement<C>;
}

/** Every statement that applies to a request, and what the request lacked. */
export interface ApplicableStatements<P, C> {
  denying: StatementMatch<P, C>[];
  allowing: StatementMatch<P, C>[];
  /** Context keys and variables the statements read but the request did not have, sorted. */
  missingContextValues: string[];
}

/**
 * Evaluates every statement of every policy (no short cut), in order: what explanations are
 * built from (TestAuthorization, IAM's matched statements and SimulatePrincipalPolicy).
 */
export function applicableStatements<C, P extends { readonly document: CompiledPolicy<C> }>(
  policies: readonly P[],
  action: string,
  resourceArn: string,
  context: C,
): ApplicableStatements<P, C> {
  const missing = new Set<string>();
  const denying: StatementMatch<P, C>[] = [];
  const allowing: StatementMatch<P, C>[] = [];
  for (const policy of policies)
    for (const statement of policy.document.statements)
      if (statement.applies(action, resourceArn, context, missing))
        (statement.effect === 'Deny' ? denying : allowing).push({ policy, statement });
  return { denying, allowing, missingContextValues: [...missing].sort() };
}

export interface NamedPolicy<T = string, C = AuthorizationContext> {
  name: T;
  document: CompiledPolicy<C>;
}

/** Why a decision came out as it did, for TestAuthorization. */
export interface Explanation<T> {
  decision: Decision;
  /** Policies with a statement that allowed the request. */
  allowing: T[];
  /** Policies with a statement that denied it. */
  denying: T[];
  /** Policies that neither allowed nor denied it. */
  silent: T[];
  /** Context keys and variables the policies read but the request did not have. */
  missingContextValues: string[];
}

/** Evaluates every statement of every policy (no short cut) and says which policy did what. */
export function explain<T, C>(
  policies: readonly NamedPolicy<T, C>[],
  action: string,
  resourceArn: string,
  context: C,
): Explanation<T> {
  const applicable = applicableStatements(policies, action, resourceArn, context);
  const denyingPolicies = new Set(applicable.denying.map((match) => match.policy));
  const allowingPolicies = new Set(applicable.allowing.map((match) => match.policy));
  const namesOf = (chosen: (policy: NamedPolicy<T, C>) => boolean) =>
    policies.filter(chosen).map((policy) => policy.name);
  const denying = namesOf((policy) => denyingPolicies.has(policy));
  const allowing = namesOf((policy) => allowingPolicies.has(policy));
  const silent = namesOf((policy) => !denyingPolicies.has(policy) && !allowingPolicies.has(policy));
  const decision: Decision =
    denying.length > 0 ? 'deny' : allowing.length > 0 ? 'allow' : 'implicit-deny';
  return {
    decision,
    allowing,
    denying,
    silent,
    missingContextValues: applicable.missingContextValues,
  };
}
