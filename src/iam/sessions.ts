import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { BulwarkError } from '../errors.js';
import type { Store } from '../store/index.js';
import { IAM_SESSIONS_TABLE } from './migrations.js';
import { iamId, type IamUser, type IamUsers } from './users.js';

/** Temporary access key ids start ASIA, long-term ones AKIA. */
export const TEMPORARY_KEY_PREFIX = 'ASIA';
/** GetSessionToken's DurationSeconds: 15 minutes to 36 hours, 12 hours when absent. */
export const MIN_SESSION_SECONDS = 900;
export const MAX_SESSION_SECONDS = 129_600;
export const DEFAULT_SESSION_SECONDS = 43_200;
/**
 * Expired sessions are kept this long so that their tokens are still told apart as expired
 * (ExpiredToken) rather than unknown; after it they are deleted.
 */
const EXPIRED_SESSION_RETENTION_MS = 24 * 60 * 60 * 1000;

export interface SessionCredentials {
  accessKeyId: string;
  /** Shown once, to the caller of GetSessionToken; stored sealed. */
  secretAccessKey: string;
  /** Shown once; stored only as its SHA-256. */
  sessionToken: string;
  expiration: Date;
}

/** Credentials a request was signed with, as the session they belong to. */
export interface ResolvedSession {
  secretAccessKey: string;
  user: IamUser;
  /** Epoch ms at which the credentials were issued. */
  createdAt: number;
  /** Epoch ms at which the user proved MFA to obtain the credentials; absent without MFA. */
  mfaAuthenticatedAt?: number;
}

export function isTemporaryKey(accessKeyId: string): boolean {
  return accessKeyId.startsWith(TEMPORARY_KEY_PREFIX);
}

function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/**
 * STS session credentials (GetSessionToken): an ASIA… key id, a secret sealed at rest, and a
 * session token the client sends with every request (X-Amz-Security-Token), kept only as a hash.
 * They act as their user, with the MFA context they were obtained with, until they expire.
 */
export class IamSessions {
  constructor(
    private readonly store: Store,
    private readonly users: IamUsers,
    private readonly now: () => number = Date.now,
  ) {}

  /** New credentials for the user; `withMfa` when the user has just proved MFA. */
  async issue(
    userName: string,
    durationSeconds: number,
    withMfa: boolean,
  ): Promise<SessionCredentials> {
    const now = this.now();
    const credentials: SessionCredentials = {
      accessKeyId: iamId(TEMPORARY_KEY_PREFIX, 16),
      // 30 random bytes are exactly 40 base64 characters, the length of an AWS secret key.
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: randomBytes(48).toString('base64'),
      expiration: new Date(now + durationSeconds * 1000),
    };
    await this.store.transaction(async (tx) => {
      for (const old of await tx.list(IAM_SESSIONS_TABLE, { where: { user_name: userName } }))
        if ((old.expires_at as number) + EXPIRED_SESSION_RETENTION_MS < now)
          await tx.delete(IAM_SESSIONS_TABLE, { access_key_id: old.access_key_id });
      await tx.insert(IAM_SESSIONS_TABLE, {
        access_key_id: credentials.accessKeyId,
        user_name: userName,
        session_token_sha256: sha256Hex(credentials.sessionToken),
        created_at: now,
        expires_at: credentials.expiration.getTime(),
        mfa_authenticated_at: withMfa ? now : null,
        secret_access_key: credentials.secretAccessKey,
      });
    });
    return credentials;
  }

  /**
   * The session `accessKeyId` names, when `sessionToken` is its token and its user still exists;
   * undefined otherwise. Throws ExpiredToken, as AWS does, for a genuine token past its expiry.
   */
  async resolve(accessKeyId: string, sessionToken: string): Promise<ResolvedSession | undefined> {
    if (!isTemporaryKey(accessKeyId)) return undefined;
    const row = await this.store.get(IAM_SESSIONS_TABLE, { access_key_id: accessKeyId });
    if (!row) return undefined;
    const expected = Buffer.from(row.session_token_sha256 as string, 'hex');
    if (!timingSafeEqual(expected, Buffer.from(sha256Hex(sessionToken), 'hex'))) return undefined;
    if (this.now() >= (row.expires_at as number))
      throw new BulwarkError(
        'ExpiredToken',
        'The security token included in the request is expired',
      );
    const user = await this.users.getUser(row.user_name as string);
    if (!user) return undefined;
    return {
      secretAccessKey: row.secret_access_key as string,
      user,
      createdAt: row.created_at as number,
      ...(typeof row.mfa_authenticated_at === 'number'
        ? { mfaAuthenticatedAt: row.mfa_authenticated_at }
        : {}),
    };
  }
}
