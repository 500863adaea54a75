import { optionalString, requiredString } from '../api/validation.js';
import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import { SourceFailures, tooManyAttempts, type SourceLimit } from './lockout.js';
import type { VirtualMfaDevices } from './mfa.js';
import type { LoginProfiles } from './passwords.js';
import type { IamUser, IamUsers } from './users.js';

export interface SignInRequest {
  userName: string;
  password: string;
  /** The current code of one of the user's MFA devices. */
  mfaCode?: string;
  sourceIp: string;
}

export interface SignInResult {
  userName: string;
  mfaAuthenticated: boolean;
  /** The user must choose a new password (set so by an administrator, or older than the policy allows). */
  passwordResetRequired: boolean;
}

/** The body of `POST /console/sign-in`, checked; the error never echoes the password. */
export function signInRequestOf(body: Record<string, unknown>, sourceIp: string): SignInRequest {
  const mfaCode = optionalString(body.mfaCode, 'mfaCode', { min: 6, max: 6, pattern: '[0-9]+' });
  return {
    userName: requiredString(body.userName, 'userName', {
      min: 1,
      max: 64,
      pattern: '[\\w+=,.@-]+',
    }),
    password: requiredString(body.password, 'password', { min: 1, max: 128 }),
    ...(mfaCode !== undefined ? { mfaCode } : {}),
    sourceIp,
  };
}

/**
 * What an attempt established, for the audit trail; never the password or the code.
 * `outcome`: signed in; refused for a wrong password or code (or no password, or MFA required
 * without a device); refused because the name is no IAM user's; answered that an MFA code is
 * needed (not a guess); refused unchecked, because of too many failures; failed on the
 * server's side.
 */
export interface SignInFacts {
  outcome: 'success' | 'failed' | 'no-such-user' | 'mfa-required' | 'throttled' | 'error';
  /** The user the name belongs to; undefined for a name that is no IAM user's. */
  user?: IamUser;
  /** Whether a code was checked against one of the user's MFA devices. */
  mfaUsed: boolean;
}

/** A sign-in attempt: its result or error, and what the audit trail records of it. */
export type SignInAttempt = { facts: SignInFacts } & (
  { ok: true; result: SignInResult } | { ok: false; error: unknown }
);

export interface ConsoleSignInOptions {
  profiles: LoginProfiles;
  mfaDevices: VirtualMfaDevices;
  /**
   * Tells a name that is an IAM user's from one that is not, for the audit trail (which hides
   * the latter: it may be a password typed in the wrong field). Without it every refused name
   * is hidden.
   */
  users?: Pick<IamUsers, 'getUser'>;
  /** `iam.requireMfaForConsole`: no console sign-in without a code from an enabled MFA device. */
  requireMfa: boolean;
  sourceLimit: SourceLimit;
  logger: Logger;
  now?: () => number;
}

/** One answer for a wrong user name, password or code, so that none of them is confirmed. */
function wrongCredentials(): BulwarkError {
  return new BulwarkError('Unauthorized', 'The user name, password or MFA code is incorrect.');
}

function isMfaRequired(error: unknown): boolean {
  return isBulwarkError(error, 'Unauthorized') && error.details.mfaRequired === true;
}

/** How an attempt that was refused failed, for the audit trail. */
function failureOf(error: unknown, user: IamUser | undefined): SignInFacts['outcome'] {
  if (isMfaRequired(error)) return 'mfa-required';
  if (isBulwarkError(error, 'Throttling')) return 'throttled';
  if (!isBulwarkError(error, 'Unauthorized')) return 'error';
  return user === undefined ? 'no-such-user' : 'failed';
}

function mfaCodeRequired(): BulwarkError {
  return new BulwarkError(
    'Unauthorized',
    'An MFA code is required: send mfaCode, the current code of your MFA device.',
    { mfaRequired: true },
  );
}

/**
 * Console sign-in: a password, and a TOTP code when the user has an MFA device or
 * `requireMfa` is set. Guesses are limited per user (the password's lockout), per MFA device
 * (its lockout) and per source address (`sourceLimit`); the request's password and code go
 * nowhere but to their checks.
 */
export class ConsoleSignIn {
  private readonly profiles: LoginProfiles;
  private readonly mfaDevices: VirtualMfaDevices;
  private readonly users: Pick<IamUsers, 'getUser'> | undefined;
  private readonly requireMfa: boolean;
  private readonly sources: SourceFailures;
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(options: ConsoleSignInOptions) {
    this.profiles = options.profiles;
    this.mfaDevices = options.mfaDevices;
    this.users = options.users;
    this.requireMfa = options.requireMfa;
    this.sources = new SourceFailures(options.sourceLimit);
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
  }

  /** Signs the user in, or throws Unauthorized (401) or Throttling (429). */
  async signIn(request: SignInRequest): Promise<SignInResult> {
    const attempt = await this.attempt(request);
    if (!attempt.ok) throw attempt.error;
    return attempt.result;
  }

  /** Signs the user in, and says what the attempt established; never throws. */
  async attempt(request: SignInRequest): Promise<SignInAttempt> {
    const { sourceIp } = request;
    const check = { mfaUsed: false };
    let outcome: { ok: true; result: SignInResult } | { ok: false; error: unknown };
    try {
      // Counted as a failure from the start, so that concurrent guesses see each other; refunded
      // unless it was one (a request only lacking its second factor is not a guess).
      this.sources.reserve(sourceIp, this.now());
      try {
        outcome = { ok: true, result: await this.authenticate(request, check) };
        this.sources.refund(sourceIp);
      } catch (error) {
        if (isMfaRequired(error)) this.sources.refund(sourceIp);
        throw error;
      }
    } catch (error) {
      outcome = { ok: false, error };
    }
    let user: IamUser | undefined;
    try {
      user = await this.users?.getUser(request.userName);
    } catch (error) {
      // The trail then hides the name; the attempt's own answer stands.
      this.logger.error(
        { err: error },
        'console sign-in: could not look up the user for the audit trail',
      );
    }
    const facts: SignInFacts = {
      outcome: outcome.ok ? 'success' : failureOf(outcome.error, user),
      ...(user ? { user } : {}),
      mfaUsed: check.mfaUsed,
    };
    return { facts, ...outcome };
  }

  private async authenticate(
    request: SignInRequest,
    check: { mfaUsed: boolean },
  ): Promise<SignInResult> {
    const { userName, sourceIp } = request;
    // Without a code there is nothing to decide yet, and the password is not even checked.
    if (this.requireMfa && request.mfaCode === undefined) throw mfaCodeRequired();
    const password = await this.profiles.check(userName, request.password);
    if (password.outcome === 'throttled') {
      this.logger.info({ userName, sourceIp }, 'console sign-in refused: password locked out');
      throw tooManyAttempts(password.retryAt, this.now());
    }
    if (password.outcome === 'invalid') {
      this.logger.info({ userName, sourceIp }, 'console sign-in refused: wrong password');
      throw wrongCredentials();
    }
    const mfaAuthenticated = await this.checkMfa(request, check);
    this.logger.info({ userName, sourceIp, mfaAuthenticated }, 'console sign-in');
    return { userName, mfaAuthenticated, passwordResetRequired: password.passwordResetRequired };
  }

  /** Whether an MFA code was required and right; throws when one is missing, wrong or locked out. */
  private async checkMfa(request: SignInRequest, check: { mfaUsed: boolean }): Promise<boolean> {
    const { userName, sourceIp, mfaCode } = request;
    const serialNumbers = await this.mfaDevices.enabledSerialNumbers(userName);
    if (serialNumbers.length === 0) {
      if (!this.requireMfa) return false;
      // The client hears only the usual refusal, which does not confirm the password; the
      // operator's log says what is missing.
      this.logger.warn(
        { userName, sourceIp },
        'console sign-in refused: MFA is required and the user has no MFA device enabled',
      );
      throw wrongCredentials();
    }
    if (mfaCode === undefined) throw mfaCodeRequired();
    check.mfaUsed = true;
    let locked = false;
    for (const serialNumber of serialNumbers) {
      const outcome = await this.mfaDevices.checkCode(userName, serialNumber, mfaCode);
      if (outcome === 'ok') return true;
      if (outcome === 'locked') locked = true;
    }
    this.logger.info({ userName, sourceIp }, 'console sign-in refused: wrong MFA code');
    if (locked)
      throw new BulwarkError(
        'Throttling',
        'Too many wrong MFA codes: the MFA device is locked for a while; try again later.',
      );
    throw wrongCredentials();
  }
}
