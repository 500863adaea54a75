import { BulwarkError } from '../errors.js';

/** The account password policy (`iam.passwordPolicy`), by IAM's names. */
export interface PasswordPolicy {
  minimumPasswordLength: number;
  requireSymbols: boolean;
  requireNumbers: boolean;
  requireUppercaseCharacters: boolean;
  requireLowercaseCharacters: boolean;
  /** How many recent passwords, the current one included, a new one may not repeat; null: off. */
  passwordReusePrevention: number | null;
  /** Days after which the password must be changed at the next sign-in; null: never. */
  maxPasswordAge: number | null;
}

/** IAM's longest password. */
export const MAX_PASSWORD_LENGTH = 128;
/** The characters IAM accepts in a password (the CreateLoginProfile model's pattern). */
const PASSWORD_CHARACTERS = /^[\t\n\r\u0020-\u00FF]+$/;
/** What IAM counts as a symbol. */
const SYMBOL = /[!@#$%^&*()_+\-=[\]{}|']/;

/**
 * Checks a new password against the policy; throws PasswordPolicyViolation naming every rule it
 * breaks (never the password itself).
 */
export function checkPasswordPolicy(password: string, policy: PasswordPolicy): void {
  const length = [...password].length;
  if (length > MAX_PASSWORD_LENGTH || !PASSWORD_CHARACTERS.test(password))
    throw new BulwarkError(
      'PasswordPolicyViolation',
      `The password must be at most ${MAX_PASSWORD_LENGTH} characters of Latin-1 (tab, newline and U+0020 to U+00FF).`,
    );
  const broken: string[] = [];
  if (length < policy.minimumPasswordLength)
    broken.push(`at least ${policy.minimumPasswordLength} characters`);
  if (policy.requireUppercaseCharacters && !/[A-Z]/.test(password))
    broken.push('an uppercase letter (A-Z)');
  if (policy.requireLowercaseCharacters && !/[a-z]/.test(password))
    broken.push('a lowercase letter (a-z)');
  if (policy.requireNumbers && !/[0-9]/.test(password)) broken.push('a number (0-9)');
  if (policy.requireSymbols && !SYMBOL.test(password))
    broken.push("a symbol (! @ # $ % ^ & * ( ) _ + - = [ ] { } | ')");
  if (broken.length)
    throw new BulwarkError(
      'PasswordPolicyViolation',
      `Password does not conform to the account password policy: it needs ${broken.join(', ')}.`,
    );
}

/** The error for a password among the user's last `count`. */
export function passwordReused(count: number): BulwarkError {
  return new BulwarkError(
    'PasswordPolicyViolation',
    `Password does not conform to the account password policy: it must differ from the last ${count} password${count === 1 ? '' : 's'}.`,
  );
}
