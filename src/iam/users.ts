import { randomBytes } from 'node:crypto';
import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Row, Store } from '../store/index.js';
import { IAM_ACCESS_KEYS_TABLE, IAM_USERS_TABLE } from './migrations.js';

/** IAM's quota of access keys per user. */
export const MAX_ACCESS_KEYS_PER_USER = 2;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const USER_NAME = /^[\w+=,.@-]{1,64}$/;

/** `prefix` and `length` random upper-case base32 characters, as IAM's ids look (AKIA…, AIDA…). */
function iamId(prefix: string, length: number): string {
  // 256 is a multiple of 32, so masking keeps every character equally likely.
  return prefix + [...randomBytes(length)].map((byte) => BASE32[byte & 31]).join('');
}

export interface IamUser {
  userName: string;
  /** IAM's unique id for the user (AIDA…). */
  userId: string;
  createDate: Date;
}

export interface AccessKeyMetadata {
  userName: string;
  accessKeyId: string;
  status: 'Active' | 'Inactive';
  createDate: Date;
}

export interface NewAccessKey extends AccessKeyMetadata {
  /** Shown once, to whoever created the key; stored sealed. */
  secretAccessKey: string;
}

export interface ActiveAccessKey {
  accessKeyId: string;
  secretAccessKey: string;
  user: IamUser;
}

function toUser(row: Row): IamUser {
  return {
    userName: row.user_name as string,
    userId: row.user_id as string,
    createDate: new Date(row.created_at as number),
  };
}

function toKeyMetadata(row: Row): AccessKeyMetadata {
  return {
    userName: row.user_name as string,
    accessKeyId: row.access_key_id as string,
    status: row.status as AccessKeyMetadata['status'],
    createDate: new Date(row.created_at as number),
  };
}

function noSuchUser(userName: string): BulwarkError {
  return new BulwarkError('NoSuchEntity', `The user with name ${userName} cannot be found.`, {
    userName,
  });
}

/**
 * IAM users and their long-term access keys. Secrets are sealed at rest by the store; every
 * lookup reads the store, so a key created or deleted by another process (the CLI while `serve`
 * runs) counts from the next request on.
 */
export class IamUsers {
  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  async createUser(userName: string): Promise<IamUser> {
    if (!USER_NAME.test(userName))
      throw new BulwarkError(
        'InvalidRequest',
        `userName ${JSON.stringify(userName)} must be 1 to 64 characters of letters, digits and +=,.@_-`,
        { userName },
      );
    const row = { user_name: userName, user_id: iamId('AIDA', 17), created_at: this.now() };
    try {
      await this.store.insert(IAM_USERS_TABLE, row);
    } catch (error) {
      if (isBulwarkError(error, 'StoreConstraint'))
        throw new BulwarkError(
          'ResourceAlreadyExists',
          `User with name ${userName} already exists.`,
          { userName },
        );
      throw error;
    }
    return toUser(row);
  }

  async getUser(userName: string): Promise<IamUser | undefined> {
    const row = await this.store.get(IAM_USERS_TABLE, { user_name: userName });
    return row && toUser(row);
  }

  /** A new Active key for the user; at most MAX_ACCESS_KEYS_PER_USER each, as in IAM. */
  async createAccessKey(userName: string): Promise<NewAccessKey> {
    const row = {
      access_key_id: iamId('AKIA', 16),
      user_name: userName,
      status: 'Active',
      created_at: this.now(),
      // 30 random bytes are exactly 40 base64 characters, the length of an AWS secret key.
      secret_access_key: randomBytes(30).toString('base64'),
    };
    await this.store.transaction(async (tx) => {
      if (!(await tx.get(IAM_USERS_TABLE, { user_name: userName }))) throw noSuchUser(userName);
      if (
        (await tx.count(IAM_ACCESS_KEYS_TABLE, { user_name: userName })) >= MAX_ACCESS_KEYS_PER_USER
      )
        throw new BulwarkError(
          'LimitExceeded',
          `Cannot exceed quota for AccessKeysPerUser: ${MAX_ACCESS_KEYS_PER_USER}`,
          { userName },
        );
      await tx.insert(IAM_ACCESS_KEYS_TABLE, row);
    });
    return { ...toKeyMetadata(row), secretAccessKey: row.secret_access_key };
  }

  async listAccessKeys(userName: string): Promise<AccessKeyMetadata[]> {
    if (!(await this.getUser(userName))) throw noSuchUser(userName);
    const rows = await this.store.list(IAM_ACCESS_KEYS_TABLE, { where: { user_name: userName } });
    return rows.map(toKeyMetadata);
  }

  async deleteAccessKey(userName: string, accessKeyId: string): Promise<void> {
    if (!(await this.getUser(userName))) throw noSuchUser(userName);
    const deleted = await this.store.deleteWhere(IAM_ACCESS_KEYS_TABLE, {
      access_key_id: accessKeyId,
      user_name: userName,
    });
    if (deleted === 0)
      throw new BulwarkError(
        'NoSuchEntity',
        `The Access Key with id ${accessKeyId} cannot be found.`,
        { userName, accessKeyId },
      );
  }

  /** The key's secret and owner, for SigV4 verification; undefined unless it exists and is Active. */
  async findActiveKey(accessKeyId: string): Promise<ActiveAccessKey | undefined> {
    const key = await this.store.get(IAM_ACCESS_KEYS_TABLE, { access_key_id: accessKeyId });
    if (!key || key.status !== 'Active') return undefined;
    const user = await this.getUser(key.user_name as string);
    return user && { accessKeyId, secretAccessKey: key.secret_access_key as string, user };
  }
}
