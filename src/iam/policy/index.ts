import { IamPolicyDocument, type IamPolicyKind } from './document.js';

export {
  iamContextReader,
  type IamCredentials,
  type IamPrincipal,
  type IamPrincipalType,
  type IamRequestContext,
} from './context.js';
export { IAM_POLICY_SIZE_LIMITS, IamPolicyDocument, type IamPolicyKind } from './document.js';
export {
  accessDeniedMessage,
  accessDeniedReason,
  describeIamDecision,
  evaluateIamPolicies,
  type IamDecision,
  type IamEvalDecision,
  type IamPolicy,
  type IamRequest,
  type MatchedStatement,
} from './evaluate.js';
export { policySizeCharacters } from '../../policy/statement.js';

/**
 * Parses, validates and compiles an identity-based policy document once; keep the result and
 * evaluate it as often as needed. Throws MalformedPolicyDocument or LimitExceeded (400/409 in
 * IAM's Query API) with IAM's words and where the fault is.
 */
export function parseIamPolicy(
  text: string,
  kind: IamPolicyKind,
  owner?: string,
): IamPolicyDocument {
  return IamPolicyDocument.parse(text, kind, owner);
}
