import { BulwarkError } from '../errors.js';
import { contextReader, type AuthorizationContext } from './context.js';
import {
  CompiledPolicy,
  policySizeCharacters,
  type PolicyFlaw,
  type PolicyGrammar,
} from './statement.js';

/**
 * An IoT policy document: the shared policy grammar (`statement.ts`) with IoT's condition keys and
 * variables (`context.ts`) and IoT's error, MalformedPolicyException.
 */

/** AWS's limit: 2048 characters, whitespace not counted (CreatePolicy, CreatePolicyVersion). */
export const MAX_POLICY_DOCUMENT_CHARACTERS = 2048;

function malformed(flaw: PolicyFlaw, detail: string): BulwarkError {
  const message =
    flaw === 'principal'
      ? `${detail}: an IoT policy applies to the principals it is attached to and names none`
      : detail;
  return new BulwarkError('MalformedPolicy', message);
}

const IOT_GRAMMAR: PolicyGrammar<AuthorizationContext> = { keys: contextReader, malformed };

/** A compiled IoT policy document. */
export class PolicyDocument extends CompiledPolicy<AuthorizationContext> {
  private constructor(text: string) {
    super(text, IOT_GRAMMAR);
  }

  /** Parses and validates a document; throws MalformedPolicy (400) with what is wrong. */
  static parse(text: string): PolicyDocument {
    const length = policySizeCharacters(text);
    if (length > MAX_POLICY_DOCUMENT_CHARACTERS)
      throw malformed(
        'syntax',
        `The policy document has ${length} characters excluding whitespace; the limit is ${MAX_POLICY_DOCUMENT_CHARACTERS}`,
      );
    return new PolicyDocument(text);
  }
}
