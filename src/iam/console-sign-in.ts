import { optionalString, requiredString } from '../api/validation.js';
import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import { SourceFailures, tooManyAttempts, type SourceLimit } from './lockout.js';
import type { VirtualMfaDevices } from './mfa.js';
import type { LoginProfiles } from './passwords.js';

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

export interface ConsoleSignInOptions {
  profiles: LoginProfiles;
  mfaDevices: VirtualMfaDevices;
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
  private readonly requireMfa: boolean;
  private readonly sources: SourceFailures;
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(options: ConsoleSignInOptions) {
    this.profiles = options.profiles;
    this.mfaDevices = options.mfaDevices;
    this.requireMfa = options.requireMfa;
    this.sources = new SourceFailures(options.sourceLimit);
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
  }

  /** Signs the user in, or throws Unauthorized (401) or Throttling (429). */
  async signIn(request: SignInRequest): Promise<SignInResult> {
    const { sourceIp } = request;
    // Counted as a failure from the start, so that concurrent guesses see each other; refunded
    // unless it was one (a request only lacking its second factor is not a guess).
    this.sources.reserve(sourceIp, this.now());
    try {
      const result = await this.authenticate(request);
      this.sources.refund(sourceIp);
      return result;
    } catch (error) {
      if (isMfaRequired(error)) this.sources.refund(sourceIp);
      throw error;
    }
  }

  private async authenticate(request: SignInRequest): Promise<SignInResult> {
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
    const mfaAuthenticated = await this.checkMfa(request);
    this.logger.info({ userName, sourceIp, mfaAuthenticated }, 'console sign-in');
    return { userName, mfaAuthenticated, passwordResetRequired: password.passwordResetRequired };
  }

  /** Whether an MFA code was required and right; throws when one is missing, wrong or locked out. */
  private async checkMfa(request: SignInRequest): Promise<boolean> {
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
