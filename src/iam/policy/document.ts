import { BulwarkError } from '../../errors.js';
import {
  CompiledPolicy,
  policySizeCharacters,
  type PolicyFlaw,
  type PolicyGrammar,
} from '../../policy/statement.js';
import { iamContextReader, type IamRequestContext } from './context.js';

/**
 * An IAM identity-based policy document: the policy grammar IoT policies share
 * (`src/policy/statement.ts`), IAM's request context (`context.ts`), IAM's size limits and IAM's
 * wording of a malformed document (MalformedPolicyDocument, 400).
 */

/** Where a document is used, which sets its size limit. */
export type IamPolicyKind = 'managed' | 'user-inline' | 'group-inline';

/**
 * IAM's quotas (reference_iam-quotas#reference_iam-quotas-entity-length), whitespace not counted.
 * Inline limits apply to all of a user's (a group's) inline policies together: the caller checks
 * that sum with `policySizeCharacters`; `parseIamPolicy` checks the one document.
 */
export const IAM_POLICY_SIZE_LIMITS: Readonly<Record<IamPolicyKind, number>> = {
  managed: 6144,
  'user-inline': 2048,
  'group-inline': 5120,
};

/** IAM's own words for each flaw, which the AWS CLI shows; the detail after them says where. */
const IAM_WORDING: Record<PolicyFlaw, string> = {
  syntax: 'Syntax errors in policy.',
  version: 'The policy failed legacy parsing.',
  principal: 'Policy document should not specify a principal.',
  effect: 'The policy failed legacy parsing.',
  'missing-action': 'Policy statement must contain actions.',
  action: 'Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.',
  'missing-resource': 'Policy statement must contain resources.',
  resource: 'Resource must be in ARN format or "*".',
  'condition-operator': 'Invalid Condition type.',
  'condition-value': 'Syntax errors in policy.',
};

function malformed(flaw: PolicyFlaw, detail: string): BulwarkError {
  return new BulwarkError('MalformedPolicyDocument', `${IAM_WORDING[flaw]} ${detail}.`);
}

const IAM_GRAMMAR: PolicyGrammar<IamRequestContext> = { keys: iamContextReader, malformed };

/** IAM allows letters and digits in a Sid, and each Sid once per policy. */
const SID_FORMAT = /^[A-Za-z0-9]*$/;

/** The size error IAM gives (LimitExceeded, as CreatePolicy and PutUserPolicy answer). */
function tooLarge(kind: IamPolicyKind, characters: number, owner: string | undefined) {
  const limit = IAM_POLICY_SIZE_LIMITS[kind];
  const details = { kind, characters, limit };
  if (kind === 'managed')
    return new BulwarkError(
      'LimitExceeded',
      `Cannot exceed quota for PolicySize: ${limit}`,
      details,
    );
  const entity = kind === 'user-inline' ? 'user' : 'group';
  return new BulwarkError(
    'LimitExceeded',
    `Maximum policy size of ${limit} bytes exceeded for ${entity}${owner === undefined ? '' : ` ${owner}`}`,
    details,
  );
}

/** A compiled IAM policy document. */
export class IamPolicyDocument extends CompiledPolicy<IamRequestContext> {
  private constructor(text: string) {
    super(text, IAM_GRAMMAR);
    const seen = new Set<string>();
    for (const statement of this.statements) {
      const sid = statement.sid;
      // An empty Sid is no identifier (generated policies often carry several).
      if (sid === undefined || sid === '') continue;
      const problem = !SID_FORMAT.test(sid)
        ? 'Statement IDs (SID) must be alpha-numeric.'
        : seen.has(sid)
          ? 'Statement IDs (SID) in a single policy must be unique.'
          : undefined;
      if (problem)
        throw new BulwarkError(
          'MalformedPolicyDocument',
          `${problem} Statement[${statement.index}].Sid is ${JSON.stringify(sid)}.`,
        );
      seen.add(sid);
    }
  }

  /**
   * Parses, validates and compiles a policy document for its use (`kind` sets the size limit;
   * `owner`, the user or group of an inline policy, names it in the size error). Throws
   * LimitExceeded or MalformedPolicyDocument with IAM's words and where the fault is.
   */
  static parse(text: string, kind: IamPolicyKind, owner?: string): IamPolicyDocument {
    const characters = policySizeCharacters(text);
    if (characters > IAM_POLICY_SIZE_LIMITS[kind]) throw tooLarge(kind, characters, owner);
    return new IamPolicyDocument(text);
  }
}
