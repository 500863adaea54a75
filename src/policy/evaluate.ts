import type { AuthorizationContext } from './context.js';
import type { PolicyDocument } from './document.js';

/**
 * IAM's evaluation logic, which IoT policies follow (iot-policies; IAM
 * reference_policies_evaluation-logic): every request is denied by default; a statement that
 * allows it turns that into an allow; a statement that denies it wins over every allow. The
 * policies that apply to a principal (its own, its thing's groups') are one union.
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
export function judge(
  policy: PolicyDocument,
  action: string,
  resourceArn: string,
  context: AuthorizationContext,
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
export function evaluate(
  policies: Iterable<PolicyDocument>,
  action: string,
  resourceArn: string,
  context: AuthorizationContext,
): Decision {
  let allowed = false;
  for (const policy of policies) {
    const verdict = judge(policy, action, resourceArn, context, allowed);
    if (verdict === 'deny') return 'deny';
    if (verdict === 'allow') allowed = true;
  }
  return allowed ? 'allow' : 'implicit-deny';
}

export interface NamedPolicy<T = string> {
  name: T;
  document: PolicyDocument;
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
export function explain<T>(
  policies: readonly NamedPolicy<T>[],
  action: string,
  resourceArn: string,
  context: AuthorizationContext,
): Explanation<T> {
  const missing = new Set<string>();
  const allowing: T[] = [];
  const denying: T[] = [];
  const silent: T[] = [];
  for (const { name, document } of policies) {
    const denies = document.denies.some((statement) =>
      statement.applies(action, resourceArn, context, missing),
    );
    const allows = document.allows.some((statement) =>
      statement.applies(action, resourceArn, context, missing),
    );
    if (denies) denying.push(name);
    if (allows) allowing.push(name);
    if (!denies && !allows) silent.push(name);
  }
  const decision: Decision =
    denying.length > 0 ? 'deny' : allowing.length > 0 ? 'allow' : 'implicit-deny';
  return { decision, allowing, denying, silent, missingContextValues: [...missing].sort() };
}
