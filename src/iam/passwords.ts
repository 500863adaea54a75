import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import type { Row, Store, StoreReader, StoreWriter } from '../store/index.js';
import { IAM_LOGIN_PROFILES_TABLE, IAM_PASSWORD_HISTORY_TABLE } from './credential-migrations.js';
import {
  CredentialFailures,
  isLock,
  UnknownCredentialFailures,
  type LockoutPolicy,
} from './lockout.js';
import {
  hashPassword,
  needsRehash,
  verifyNothing,
  verifyPassword,
  type ScryptParameters,
} from './password-hash.js';
import { checkPasswordPolicy, passwordReused, type PasswordPolicy } from './password-policy.js';
import type { IamUsers } from './users.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface LoginProfile {
  userName: string;
  createDate: Date;
  passwordResetRequired: boolean;
}

/**
 * One password check. `throttled`: refused unchecked, the user's password being locked out until
 * `retryAt`. `passwordResetRequired` is also true once the password is older than the policy's
 * maxPasswordAge.
 */
export type PasswordCheck =
  | { outcome: 'ok'; passwordResetRequired: boolean }
  | { outcome: 'invalid' }
  | { outcome: 'throttled'; retryAt: number };

export interface LoginProfilesOptions {
  store: Store;
  users: Pick<IamUsers, 'getUser'>;
  policy: PasswordPolicy;
  hashing: ScryptParameters;
  lockout: LockoutPolicy;
  logger: Logger;
  now?: () => number;
}

function toProfile(row: Row): LoginProfile {
  return {
    userName: row.user_name as string,
    createDate: new Date(row.created_at as number),
    passwordResetRequired: row.password_reset_required as boolean,
  };
}

function noSuchProfile(userName: string): BulwarkError {
  return new BulwarkError('NoSuchEntity', `Login Profile for User ${userName} cannot be found.`, {
    userName,
  });
}

/** The lockout subject of a user's password. */
const subjectOf = (userName: string) => `password/${userName}`;

/**
 * Console passwords (IAM login profiles): the account password policy on every new password,
 * scrypt hashes sealed at rest, the last `passwordReusePrevention` hashes kept to refuse reuse,
 * and password checks with per-user lockout (`iam.lockout`).
 */
export class LoginProfiles {
  private readonly store: Store;
  private readonly users: Pick<IamUsers, 'getUser'>;
  private readonly policy: PasswordPolicy;
  private readonly hashing: ScryptParameters;
  private readonly lockout: LockoutPolicy;
  private readonly failures: CredentialFailures;
  private readonly unknownFailures: UnknownCredentialFailures;
  private readonly logger: Logger;
  private readonly now: () => number;

  constructor(options: LoginProfilesOptions) {
    this.store = options.store;
    this.users = options.users;
    this.policy = options.policy;
    this.hashing = options.hashing;
    this.lockout = options.lockout;
    this.failures = new CredentialFailures(options.lockout);
    this.unknownFailures = new UnknownCredentialFailures(options.lockout);
    this.logger = options.logger;
    this.now = options.now ?? Date.now;
  }

  private async requireUser(userName: string): Promise<void> {
    if (!(await this.users.getUser(userName)))
      throw new BulwarkError('NoSuchEntity', `The user with name ${userName} cannot be found.`, {
        userName,
      });
  }

  /**
   * The hash of a new password for the user, after the policy and the reuse check. Each
   * remembered password costs one scrypt evaluation; they run side by side.
   */
  private async newPasswordHash(userName: string, password: string): Promise<string> {
    checkPasswordPolicy(password, this.policy);
    const remembered = this.policy.passwordReusePrevention;
    if (remembered !== null) {
      const previous = await this.history(this.store, userName);
      const reused = await Promise.all(
        previous.slice(0, remembered).map((hash) => verifyPassword(password, hash)),
      );
      if (reused.includes(true)) throw passwordReused(remembered);
    }
    return hashPassword(password, this.hashing);
  }

  private async history(tx: StoreReader, userName: string): Promise<string[]> {
    const row = await tx.get(IAM_PASSWORD_HISTORY_TABLE, { user_name: userName });
    return (row?.password_hashes as string[] | undefined) ?? [];
  }

  /** Puts `hash` first in the user's history, keeping only as many as the policy remembers. */
  private async remember(tx: StoreWriter, userName: string, hash: string): Promise<void> {
    const remembered = this.policy.passwordReusePrevention;
    if (remembered === null) return;
    const hashes = [hash, ...(await this.history(tx, userName))].slice(0, remembered);
    await tx.put(IAM_PASSWORD_HISTORY_TABLE, {
      user_name: userName,
      updated_at: this.now(),
      password_hashes: hashes,
    });
  }

  /** CreateLoginProfile. */
  async create(
    userName: string,
    password: string,
    passwordResetRequired: boolean,
  ): Promise<LoginProfile> {
    await this.requireUser(userName);
    const exists = () =>
      new BulwarkError(
        'ResourceAlreadyExists',
        `Login Profile for user ${userName} already exists.`,
        {
          userName,
        },
      );
    // Checked before the (slow) hashing too, so that a doomed call fails fast.
    if (await this.store.get(IAM_LOGIN_PROFILES_TABLE, { user_name: userName })) throw exists();
    const hash = await this.newPasswordHash(userName, password);
    const now = this.now();
    const row = {
      user_name: userName,
      created_at: now,
      password_changed_at: now,
      password_reset_required: passwordResetRequired,
      password_hash: hash,
    };
    try {
      await this.store.transaction(async (tx) => {
        await tx.insert(IAM_LOGIN_PROFILES_TABLE, row);
        await this.remember(tx, userName, hash);
      });
    } catch (error) {
      if (isBulwarkError(error, 'StoreConstraint')) throw exists();
      throw error;
    }
    return toProfile(row);
  }

  /**
   * UpdateLoginProfile: a new password (which also lifts the password's lockout: this is how an
   * administrator lets a locked-out user back in) and/or the reset flag.
   */
  async update(
    userName: string,
    changes: { password?: string; passwordResetRequired?: boolean },
  ): Promise<void> {
    await this.requireUser(userName);
    if (!(await this.store.get(IAM_LOGIN_PROFILES_TABLE, { user_name: userName })))
      throw noSuchProfile(userName);
    const hash =
      changes.password === undefined
        ? undefined
        : await this.newPasswordHash(userName, changes.password);
    await this.store.transaction(async (tx) => {
      const now = this.now();
      await this.failures.lock(tx, subjectOf(userName), now);
      const profile = await tx.get(IAM_LOGIN_PROFILES_TABLE, { user_name: userName });
      if (!profile) throw noSuchProfile(userName);
      await tx.put(IAM_LOGIN_PROFILES_TABLE, {
        ...profile,
        ...(hash !== undefined ? { password_hash: hash, password_changed_at: now } : {}),
        ...(changes.passwordResetRequired !== undefined
          ? { password_reset_required: changes.passwordResetRequired }
          : {}),
      });
      if (hash !== undefined) {
        await this.remember(tx, userName, hash);
        await this.failures.clear(tx, subjectOf(userName));
      }
    });
  }

  /** GetLoginProfile. */
  async get(userName: string): Promise<LoginProfile> {
    await this.requireUser(userName);
    const row = await this.store.get(IAM_LOGIN_PROFILES_TABLE, { user_name: userName });
    if (!row) throw noSuchProfile(userName);
    return toProfile(row);
  }

  /** DeleteLoginProfile. The password history stays, so a new profile cannot reuse old passwords. */
  async delete(userName: string): Promise<void> {
    await this.requireUser(userName);
    await this.store.transaction(async (tx) => {
      if (!(await tx.delete(IAM_LOGIN_PROFILES_TABLE, { user_name: userName })))
        throw noSuchProfile(userName);
      await this.failures.forget(tx, subjectOf(userName));
    });
  }

  /**
   * Checks the user's password, under the lockout. The attempt is counted as a failure before the
   * (slow) hash is checked and the count cleared if it was right, so that concurrent guesses see
   * each other and none slips past the limit. A right password with weaker hash parameters than
   * configured is rehashed. A user with no password is throttled alike and costs the same time.
   */
  async check(userName: string, password: string): Promise<PasswordCheck> {
    const subject = subjectOf(userName);
    type Reservation = { retryAt: number } | { profile: Row; lockedAfterThis: boolean };
    const reserved = await this.store.transaction(async (tx): Promise<Reservation | undefined> => {
      const now = this.now();
      // Only users with a password get a lock row; looking first keeps unknown names out.
      if (!(await tx.get(IAM_LOGIN_PROFILES_TABLE, { user_name: userName }))) return undefined;
      const record = await this.failures.lockForAttempt(tx, subject, now);
      if (record.blockedUntil > now) return { retryAt: record.blockedUntil };
      const profile = await tx.get(IAM_LOGIN_PROFILES_TABLE, { user_name: userName });
      if (!profile) return undefined;
      const next = await this.failures.recordFailure(tx, subject, record, now);
      return { profile, lockedAfterThis: isLock(this.lockout, next) };
    });
    if (!reserved) return this.checkWithoutProfile(subject, password);
    if ('retryAt' in reserved) return { outcome: 'throttled', retryAt: reserved.retryAt };

    const { profile } = reserved;
    const stored = profile.password_hash as string;
    if (!(await verifyPassword(password, stored))) {
      if (reserved.lockedAfterThis)
        this.logger.warn({ userName }, 'console password locked after repeated failed sign-ins');
      return { outcome: 'invalid' };
    }
    const rehashed = needsRehash(stored, this.hashing)
      ? await hashPassword(password, this.hashing)
      : undefined;
    await this.store.transaction(async (tx) => {
      await this.failures.lock(tx, subject, this.now());
      await this.failures.clear(tx, subject);
      const current = await tx.get(IAM_LOGIN_PROFILES_TABLE, { user_name: userName });
      // Rewritten only if the password did not change meanwhile.
      if (rehashed !== undefined && current?.password_hash === stored)
        await tx.put(IAM_LOGIN_PROFILES_TABLE, { ...current, password_hash: rehashed });
    });
    const maxAge = this.policy.maxPasswordAge;
    const expired =
      maxAge !== null && this.now() - (profile.password_changed_at as number) > maxAge * DAY_MS;
    return {
      outcome: 'ok',
      passwordResetRequired: (profile.password_reset_required as boolean) || expired,
    };
  }

  private async checkWithoutProfile(subject: string, password: string): Promise<PasswordCheck> {
    const now = this.now();
    const retryAt = this.unknownFailures.blockedUntil(subject, now);
    if (retryAt !== undefined) return { outcome: 'throttled', retryAt };
    this.unknownFailures.recordFailure(subject, now);
    await verifyNothing(password, this.hashing);
    return { outcome: 'invalid' };
  }
}
