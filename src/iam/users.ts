import { randomBytes } from 'node:crypto';
import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Row, Store, StoreReader } from '../store/index.js';
import {
  IAM_ACCESS_KEY_LAST_USED_TABLE,
  IAM_ACCESS_KEYS_TABLE,
  IAM_GROUP_MEMBERS_TABLE,
  IAM_INLINE_POLICIES_TABLE,
  IAM_POLICY_ATTACHMENTS_TABLE,
  IAM_SESSIONS_TABLE,
  IAM_USERS_TABLE,
} from './migrations.js';
import { listPage, type IamPage, type IamPageRequest } from './pagination.js';

/** IAM's quota of access keys per user. */
export const MAX_ACCESS_KEYS_PER_USER = 2;
/** Recording a key's last use costs a write, so it is written at most this often per key. */
export const KEY_USE_RECORD_INTERVAL_MS = 60_000;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const USER_NAME = /^[\w+=,.@-]{1,64}$/;

/** `prefix` and `length` random upper-case base32 characters, as IAM's ids look (AKIA…, AIDA…). */
export function iamId(prefix: string, length: number): string {
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

/** GetAccessKeyLastUsed: the key's owner, and its last accepted use if any. */
export interface AccessKeyLastUsed {
  userName: string;
  lastUsed?: { date: Date; serviceName: string; region: string };
}

/**
 * Rows elsewhere that refer to a user: DeleteUser refuses while any remains, as IAM does (access
 * keys, policies, group memberships here; MFA devices and login profiles from their modules).
 */
export interface UserReference {
  table: string;
  /** The plaintext columns that pick the user's rows. */
  where(userName: string): Row;
  /** IAM's DeleteConflict message, e.g. `Cannot delete entity, must delete access keys first.` */
  conflict: string;
}

/** What refers to a user from this module's own tables. */
export const IAM_USER_REFERENCES: readonly UserReference[] = [
  {
    table: IAM_ACCESS_KEYS_TABLE,
    where: (userName) => ({ user_name: userName }),
    conflict: 'Cannot delete entity, must delete access keys first.',
  },
  {
    table: IAM_INLINE_POLICIES_TABLE,
    where: (userName) => ({ principal_type: 'user', principal_name: userName }),
    conflict: 'Cannot delete entity, must delete policies first.',
  },
  {
    table: IAM_POLICY_ATTACHMENTS_TABLE,
    where: (userName) => ({ principal_type: 'user', principal_name: userName }),
    conflict: 'Cannot delete entity, must detach all policies first.',
  },
  {
    table: IAM_GROUP_MEMBERS_TABLE,
    where: (userName) => ({ user_name: userName }),
    conflict: 'Cannot delete entity, must remove users from group first.',
  },
];

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

export function noSuchUser(userName: string): BulwarkError {
  return new BulwarkError('NoSuchEntity', `The user with name ${userName} cannot be found.`, {
    userName,
  });
}

function noSuchAccessKey(accessKeyId: string): BulwarkError {
  return new BulwarkError(
    'NoSuchEntity',
    `The Access Key with id ${accessKeyId} cannot be found.`,
    {
      accessKeyId,
    },
  );
}

/**
 * IAM names are unique regardless of case ("Admin" cannot join "admin"), so that no two principals
 * differ only in case. Names are few (IAM allows 5,000 users), so a scan is cheap enough.
 */
export async function nameTakenIgnoringCase(
  store: StoreReader,
  table: string,
  column: string,
  name: string,
): Promise<boolean> {
  const lower = name.toLowerCase();
  const rows = await store.list(table);
  return rows.some((row) => (row[column] as string).toLowerCase() === lower);
}

/**
 * IAM users and their long-term access keys. Secrets are sealed at rest by the store; every
 * lookup reads the store, so a key created or deleted by another process (the CLI while `serve`
 * runs) counts from the next request on.
 */
export class IamUsers {
  private readonly now: () => number;
  private readonly references: readonly UserReference[];
  /** When this process last wrote each key's last use. */
  private readonly keyUseWritten = new Map<string, number>();

  constructor(
    private readonly store: Store,
    options: {
      now?: () => number;
      /** Other modules' rows that refer to users (MFA devices, login profiles). */
      references?: readonly UserReference[];
    } = {},
  ) {
    this.now = options.now ?? Date.now;
    this.references = [...IAM_USER_REFERENCES, ...(options.references ?? [])];
  }

  async createUser(userName: string): Promise<IamUser> {
    if (!USER_NAME.test(userName))
      throw new BulwarkError(
        'InvalidRequest',
        `userName ${JSON.stringify(userName)} must be 1 to 64 characters of letters, digits and +=,.@_-`,
        { userName },
      );
    const row = { user_name: userName, user_id: iamId('AIDA', 17), created_at: this.now() };
    const exists = () =>
      new BulwarkError('ResourceAlreadyExists', `User with name ${userName} already exists.`, {
        userName,
      });
    try {
      await this.store.transaction(async (tx) => {
        if (await nameTakenIgnoringCase(tx, IAM_USERS_TABLE, 'user_name', userName)) throw exists();
        await tx.insert(IAM_USERS_TABLE, row);
      });
    } catch (error) {
      if (isBulwarkError(error, 'StoreConstraint')) throw exists();
      throw error;
    }
    return toUser(row);
  }

  async getUser(userName: string): Promise<IamUser | undefined> {
    const row = await this.store.get(IAM_USERS_TABLE, { user_name: userName });
    return row && toUser(row);
  }

  /** The user, or IAM's NoSuchEntity. */
  async requireUser(userName: string): Promise<IamUser> {
    const user = await this.getUser(userName);
    if (!user) throw noSuchUser(userName);
    return user;
  }

  async listUsers(request: IamPageRequest): Promise<IamPage<IamUser>> {
    const page = await listPage(
      this.store,
      { list: 'ListUsers', table: IAM_USERS_TABLE, sortColumn: 'user_name' },
      request,
    );
    return { ...page, items: page.items.map(toUser) };
  }

  /**
   * Deletes the user, refusing with DeleteConflict while anything still refers to it (keys,
   * policies, groups, MFA devices, …), as IAM does. Its temporary credentials end with it.
   */
  async deleteUser(userName: string): Promise<void> {
    await this.store.transaction(async (tx) => {
      if (!(await tx.get(IAM_USERS_TABLE, { user_name: userName }))) throw noSuchUser(userName);
      for (const reference of this.references)
        if ((await tx.count(reference.table, reference.where(userName))) > 0)
          throw new BulwarkError('DeleteConflict', reference.conflict, { userName });
      await tx.deleteWhere(IAM_SESSIONS_TABLE, { user_name: userName });
      await tx.delete(IAM_USERS_TABLE, { user_name: userName });
    });
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
    await this.store.transaction(async (tx) => {
      const deleted = await tx.deleteWhere(IAM_ACCESS_KEYS_TABLE, {
        access_key_id: accessKeyId,
        user_name: userName,
      });
      if (deleted === 0) throw noSuchAccessKey(accessKeyId);
      await tx.delete(IAM_ACCESS_KEY_LAST_USED_TABLE, { access_key_id: accessKeyId });
    });
    this.keyUseWritten.delete(accessKeyId);
  }

  /** Active keys sign requests; Inactive ones are refused until made Active again. */
  async updateAccessKey(
    userName: string,
    accessKeyId: string,
    status: AccessKeyMetadata['status'],
  ): Promise<void> {
    await this.store.transaction(async (tx) => {
      if (!(await tx.get(IAM_USERS_TABLE, { user_name: userName }))) throw noSuchUser(userName);
      const key = await tx.get(IAM_ACCESS_KEYS_TABLE, { access_key_id: accessKeyId });
      if (!key || key.user_name !== userName) throw noSuchAccessKey(accessKeyId);
      if (key.status !== status) await tx.put(IAM_ACCESS_KEYS_TABLE, { ...key, status });
    });
  }

  /** Who owns the key; undefined for an unknown key. */
  async keyOwner(accessKeyId: string): Promise<string | undefined> {
    const key = await this.store.get(IAM_ACCESS_KEYS_TABLE, { access_key_id: accessKeyId });
    return key?.user_name as string | undefined;
  }

  async accessKeyLastUsed(accessKeyId: string): Promise<AccessKeyLastUsed> {
    const userName = await this.keyOwner(accessKeyId);
    if (userName === undefined) throw noSuchAccessKey(accessKeyId);
    const used = await this.store.get(IAM_ACCESS_KEY_LAST_USED_TABLE, {
      access_key_id: accessKeyId,
    });
    return {
      userName,
      ...(used
        ? {
            lastUsed: {
              date: new Date(used.used_at as number),
              serviceName: used.service_name as string,
              region: used.region as string,
            },
          }
        : {}),
    };
  }

  /**
   * Records that SigV4 accepted the key just now, for GetAccessKeyLastUsed. Written at most once
   * per KEY_USE_RECORD_INTERVAL_MS per key by this process, so busy keys cost no write per request.
   */
  async recordKeyUse(accessKeyId: string, serviceName: string, region: string): Promise<void> {
    const now = this.now();
    const written = this.keyUseWritten.get(accessKeyId);
    if (written !== undefined && now - written < KEY_USE_RECORD_INTERVAL_MS) return;
    this.keyUseWritten.set(accessKeyId, now);
    await this.store.put(IAM_ACCESS_KEY_LAST_USED_TABLE, {
      access_key_id: accessKeyId,
      used_at: now,
      service_name: serviceName,
      region,
    });
  }

  /** The key's secret and owner, for SigV4 verification; undefined unless it exists and is Active. */
  async findActiveKey(accessKeyId: string): Promise<ActiveAccessKey | undefined> {
    const key = await this.store.get(IAM_ACCESS_KEYS_TABLE, { access_key_id: accessKeyId });
    if (!key || key.status !== 'Active') return undefined;
    const user = await this.getUser(key.user_name as string);
    return user && { accessKeyId, secretAccessKey: key.secret_access_key as string, user };
  }
}
