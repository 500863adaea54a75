import { applicableStatements, type StatementMatch } from '../../policy/evaluate.js';
import type { IamRequestContext } from './context.js';
import type { IamPolicyDocument } from './document.js';

/**
 * IAM policy evaluation for identity-based policies (reference_policies_evaluation-logic): an
 * implicit deny to start with, an explicit Deny in any policy wins, otherwise any Allow allows.
 * The answer says which statements decided, as the policy simulator's EvalDecision,
 * MatchedStatements and MissingContextValues do, so that every deny can name its reason.
 */

/** A policy that applies to the principal: attached managed (with its ARN) or inline. */
export interface IamPolicy {
  name: string;
  /** Managed policies only; inline policies have none. */
  arn?: string;
  document: IamPolicyDocument;
}

export interface IamRequest {
  /** `service:Action`, e.g. `iot:CreateThing`; matched case-insensitively. */
  action: string;
  /** The resource's ARN, or `*` for actions on no particular resource. */
  resource: string;
  context: IamRequestContext;
}

/** The simulator's EvalDecision values. */
export type IamEvalDecision = 'allowed' | 'explicitDeny' | 'implicitDeny';

export interface MatchedStatement {
  policyName: string;
  policyArn?: string;
  sid?: string;
  /** The statement's position in its policy, from 0: what names a statement without a Sid. */
  statementIndex: number;
}

export interface IamDecision {
  decision: IamEvalDecision;
  /**
   * The statements that decided: the Deny statements that applied for `explicitDeny`, the Allow
   * statements for `allowed`; none for `implicitDeny` (no statement matched).
   */
  matchedStatements: MatchedStatement[];
  /** Condition keys and variables a statement read but the request context lacked, sorted. */
  missingContextValues: string[];
}

function matched({ policy, statement }: StatementMatch<IamPolicy, IamRequestContext>) {
  const match: MatchedStatement = { policyName: policy.name, statementIndex: statement.index };
  if (policy.arn !== undefined) match.policyArn = policy.arn;
  if (statement.sid !== undefined) match.sid = statement.sid;
  return match;
}

/**
 * The decision for one request under the union of a principal's identity-based policies (its
 * inline and attached policies and its groups'). Synchronous; every statement is evaluated, so
 * the answer lists all the deciding statements and every missing context key.
 */
export function evaluateIamPolicies(
  policies: readonly IamPolicy[],
  request: IamRequest,
): IamDecision {
  const { denying, allowing, missingContextValues } = applicableStatements(
    policies,
    request.action,
    request.resource,
    request.context,
  );
  if (denying.length > 0)
    return {
      decision: 'explicitDeny',
      matchedStatements: denying.map(matched),
      missingContextValues,
    };
  if (allowing.length > 0)
    return { decision: 'allowed', matchedStatements: allowing.map(matched), missingContextValues };
  return { decision: 'implicitDeny', matchedStatements: [], missingContextValues };
}

function statementName(statement: MatchedStatement): string {
  const which = statement.sid
    ? `statement ${statement.sid}`
    : `statement #${statement.statementIndex}`;
  return `${which} of policy ${statement.policyArn ?? statement.policyName}`;
}

/**
 * A decision in one line for the audit trail (DP-5.2): `explicitDeny: statement DenyDelete of
 * policy arn:…`, `allowed: statement #0 of policy inline-name`, `implicitDeny: no statement
 * matched`.
 */
export function describeIamDecision(decision: IamDecision): string {
  if (decision.matchedStatements.length === 0) return `${decision.decision}: no statement matched`;
  return `${decision.decision}: ${decision.matchedStatements.map(statementName).join('; ')}`;
}

/**
 * The end of AWS's AccessDenied message for a deny: `because no identity-based policy allows the
 * iot:CreateThing action`, or `with an explicit deny in an identity-based policy: <policy ARN>`
 * (AWS names a managed policy by its ARN; an inline policy has none, and is not named).
 */
export function accessDeniedReason(action: string, decision: IamDecision): string {
  if (decision.decision !== 'explicitDeny')
    return `because no identity-based policy allows the ${action} action`;
  const arn = decision.matchedStatements.find((statement) => statement.policyArn)?.policyArn;
  return `with an explicit deny in an identity-based policy${arn ? `: ${arn}` : ''}`;
}

/**
 * AWS's AccessDenied message: `User: arn:aws:iam::123456789012:user/bob is not authorized to
 * perform: iot:CreateThing on resource: arn:aws:iot:…:thing/x because no identity-based policy
 * allows the iot:CreateThing action`.
 */
export function accessDeniedMessage(
  principalArn: string,
  request: Pick<IamRequest, 'action' | 'resource'>,
  decision: IamDecision,
): string {
  return `User: ${principalArn} is not authorized to perform: ${request.action} on resource: ${request.resource} ${accessDeniedReason(request.action, decision)}`;
}
