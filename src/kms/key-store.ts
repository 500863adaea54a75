import Database from 'better-sqlite3';
import { randomBytes, randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BulwarkError } from '../errors.js';
import { BUSY_TIMEOUT_MS } from '../store/index.js';
import { unwrapKey, wrapKey } from './aead.js';
import { keysDir } from './root-key.js';
import type {
  ErasureReceipt,
  KeyEncryptionProvider,
  KeyKind,
  KeyMetadata,
  KeyState,
} from './types.js';

export const SERVICE_KEY_ID = 'bulwark/service';
const DAY_MS = 86_400_000;

interface KeyRow {
  num: number;
  id: string;
  kind: KeyKind;
  description: string;
  state: KeyState;
  current_version: number;
  created_at: number;
  deletion_date: number | null;
  destroyed_at: number | null;
}

export function keyStorePath(dataDir: string): string {
  return join(keysDir(dataDir), 'keystore.db');
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS keys (
  num INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL,
  current_version INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  deletion_date INTEGER,
  destroyed_at INTEGER
);
CREATE TABLE IF NOT EXISTS key_versions (
  key_num INTEGER NOT NULL REFERENCES keys(num),
  version INTEGER NOT NULL,
  wrapped BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (key_num, version)
);
CREATE TABLE IF NOT EXISTS data_keys (
  num INTEGER PRIMARY KEY,
  key_num INTEGER NOT NULL REFERENCES keys(num),
  version INTEGER NOT NULL,
  wrapped BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
`;

function kekAad(keyNum: number, version: number): Buffer {
  return Buffer.from(`bulwark/kek/${keyNum}/${version}`);
}

function dataKeyAad(keyNum: number, version: number): Buffer {
  return Buffer.from(`bulwark/data-key/${keyNum}/${version}`);
}

function toMetadata(row: KeyRow): KeyMetadata {
  return {
    keyId: row.id,
    kind: row.kind,
    description: row.description,
    keyState: row.state,
    currentVersion: row.current_version,
    creationDate: new Date(row.created_at),
    ...(row.deletion_date !== null ? { deletionDate: new Date(row.deletion_date) } : {}),
    ...(row.destroyed_at !== null ? { destroyedDate: new Date(row.destroyed_at) } : {}),
  };
}

/** A data key as the key store keeps it: wrapped by one version of its key. */
export interface WrappedDataKey {
  num: number;
  keyNum: number;
  version: number;
  wrapped: Buffer;
}

/**
 * The local key store: a SQLite file of its own under DIR/keys, apart from the database, so a
 * database backup never holds key material and a restored backup cannot undo an erase. Key
 * versions are wrapped by the root key; data keys are wrapped by a key version. Deleted rows are
 * overwritten (secure_delete) and the WAL is truncated after an erase.
 */
export class LocalKeyStore implements KeyEncryptionProvider {
  private readonly db: Database.Database;
  private readonly rootKey: Buffer;
  private readonly now: () => number;
  private dataVersion: Database.Statement | undefined;

  private constructor(db: Database.Database, rootKey: Buffer, now: () => number) {
    this.db = db;
    this.rootKey = rootKey;
    this.now = now;
  }

  /** Creates the key store of a new data dir with the service key; refuses an existing one. */
  static create(dataDir: string, rootKey: Buffer, now: () => number = Date.now): LocalKeyStore {
    const path = keyStorePath(dataDir);
    if (existsSync(path)) throw new Error(`internal: key store ${path} already exists`);
    mkdirSync(keysDir(dataDir), { recursive: true, mode: 0o700 });
    const db = new Database(path);
    chmodSync(path, 0o600);
    LocalKeyStore.configure(db);
    db.exec(SCHEMA);
    const store = new LocalKeyStore(db, rootKey, now);
    db.transaction(() =>
      store.insertKey(SERVICE_KEY_ID, 'service', 'Service-owned default key, created at init'),
    )();
    return store;
  }

  /** Opens an existing key store with a root key already verified (verifyRootKey). */
  static open(dataDir: string, rootKey: Buffer, now: () => number = Date.now): LocalKeyStore {
    const path = keyStorePath(dataDir);
    if (!existsSync(path)) {
      throw new BulwarkError(
        'RootKeyMissing',
        `key store ${path} is missing; restore the keys directory from your key backup`,
        { path },
      );
    }
    const db = new Database(path, { fileMustExist: true });
    LocalKeyStore.configure(db);
    return new LocalKeyStore(db, rootKey, now);
  }

  private static configure(db: Database.Database): void {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('secure_delete = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  }

  close(): void {
    this.db.close();
  }

  /** Changes when another connection (a CLI command, another server) commits to the key store. */
  changeCounter(): number {
    // Prepared once: it runs before every seal and open, and db.pragma() recompiles each call.
    this.dataVersion ??= this.db.prepare('PRAGMA data_version').pluck();
    return this.dataVersion.get() as number;
  }

  private insertKey(id: string, kind: KeyKind, description: string): KeyRow {
    const createdAt = this.now();
    const { lastInsertRowid } = this.db
      .prepare(
        "INSERT INTO keys (id, kind, description, state, current_version, created_at) VALUES (?, ?, ?, 'Enabled', 1, ?)",
      )
      .run(id, kind, description, createdAt);
    const num = Number(lastInsertRowid);
    this.insertVersion(num, 1);
    return this.rowByNum(num) as KeyRow;
  }

  private insertVersion(keyNum: number, version: number): void {
    const material = randomBytes(32);
    this.db
      .prepare(
        'INSERT INTO key_versions (key_num, version, wrapped, created_at) VALUES (?, ?, ?, ?)',
      )
      .run(keyNum, version, wrapKey(this.rootKey, material, kekAad(keyNum, version)), this.now());
  }

  rowByNum(num: number): KeyRow | undefined {
    return this.db.prepare('SELECT * FROM keys WHERE num = ?').get(num) as KeyRow | undefined;
  }

  rowById(id: string): KeyRow | undefined {
    return this.db.prepare('SELECT * FROM keys WHERE id = ?').get(id) as KeyRow | undefined;
  }

  private requireRow(keyId: string): KeyRow {
    const row = this.rowById(keyId);
    if (!row) throw new BulwarkError('KeyNotFound', `key ${keyId} does not exist`, { keyId });
    return row;
  }

  /** Every key's number, id and state, for the sealing cache. */
  allRows(): KeyRow[] {
    return this.db.prepare('SELECT * FROM keys').all() as KeyRow[];
  }

  /** The scope's own key, created on first use. */
  ensureScopeKey(scope: string): KeyRow {
    const keyId = `scope/${scope}`;
    return this.db.transaction(
      () => this.rowById(keyId) ?? this.insertKey(keyId, 'scope', `Key of ${scope} alone`),
    )();
  }

  defaultKeyId(): string {
    const row = this.db.prepare("SELECT value FROM meta WHERE name = 'default_key'").get() as
      { value: Buffer | string } | undefined;
    return row ? row.value.toString() : SERVICE_KEY_ID;
  }

  setDefaultKey(keyId: string): KeyMetadata {
    const row = this.requireRow(keyId);
    if (row.kind === 'scope')
      throw new BulwarkError(
        'KeyInvalidArgument',
        `key ${keyId} belongs to one scope and cannot be the default key`,
        { keyId },
      );
    if (row.state !== 'Enabled')
      throw new BulwarkError(
        'KeyInvalidState',
        `key ${keyId} is ${row.state}; only an Enabled key can be the default key`,
        { keyId, keyState: row.state },
      );
    this.db
      .prepare(
        "INSERT INTO meta (name, value) VALUES ('default_key', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value",
      )
      .run(keyId);
    return toMetadata(row);
  }

  private kekMaterial(keyNum: number, version: number): Buffer | undefined {
    const row = this.db
      .prepare('SELECT wrapped FROM key_versions WHERE key_num = ? AND version = ?')
      .get(keyNum, version) as { wrapped: Buffer } | undefined;
    if (!row) return undefined;
    const material = unwrapKey(this.rootKey, row.wrapped, kekAad(keyNum, version));
    if (!material)
      throw new BulwarkError(
        'RootKeyInvalid',
        `key version ${keyNum}/${version} does not open under the root key`,
      );
    return material;
  }

  /** Keeps a wrapped data key; its number goes into the header of every value it seals. */
  saveDataKey(keyNum: number, version: number, wrapped: Buffer): number {
    const { lastInsertRowid } = this.db
      .prepare('INSERT INTO data_keys (key_num, version, wrapped, created_at) VALUES (?, ?, ?, ?)')
      .run(keyNum, version, wrapped, this.now());
    return Number(lastInsertRowid);
  }

  /** A wrapped data key; undefined once its key was destroyed. */
  wrappedDataKey(num: number): WrappedDataKey | undefined {
    const row = this.db
      .prepare('SELECT key_num, version, wrapped FROM data_keys WHERE num = ?')
      .get(num) as { key_num: number; version: number; wrapped: Buffer } | undefined;
    return row && { num, keyNum: row.key_num, version: row.version, wrapped: row.wrapped };
  }

  // ---- KeyEncryptionProvider: the operations an external key service would take over ----

  async generateDataKey(
    keyId: string,
  ): Promise<{ plaintext: Buffer; wrapped: Buffer; keyVersion: number }> {
    const row = this.requireRow(keyId);
    assertUsable(row);
    const kek = this.kekMaterial(row.num, row.current_version) as Buffer;
    const plaintext = randomBytes(32);
    return {
      plaintext,
      wrapped: wrapKey(kek, plaintext, dataKeyAad(row.num, row.current_version)),
      keyVersion: row.current_version,
    };
  }

  async decryptDataKey(keyId: string, keyVersion: number, wrapped: Buffer): Promise<Buffer> {
    const row = this.requireRow(keyId);
    assertUsable(row);
    const kek = this.kekMaterial(row.num, keyVersion);
    if (!kek)
      throw new BulwarkError(
        'KeyVersionUnavailable',
        `version ${keyVersion} of key ${keyId} no longer exists`,
        { keyId, keyVersion },
      );
    const plaintext = unwrapKey(kek, wrapped, dataKeyAad(row.num, keyVersion));
    if (!plaintext)
      throw new BulwarkError(
        'SealedValueTampered',
        `wrapped data key does not open under key ${keyId} version ${keyVersion}`,
        { keyId },
      );
    return plaintext;
  }

  async createKey(options: {
    kind: KeyKind;
    description?: string;
    keyId?: string;
  }): Promise<KeyMetadata> {
    const keyId = options.keyId ?? randomUUID();
    if (this.rowById(keyId))
      throw new BulwarkError('StoreConstraint', `key ${keyId} already exists`, { keyId });
    return toMetadata(
      this.db.transaction(() => this.insertKey(keyId, options.kind, options.description ?? ''))(),
    );
  }

  async describeKey(keyId: string): Promise<KeyMetadata> {
    return toMetadata(this.requireRow(keyId));
  }

  async listKeys(): Promise<KeyMetadata[]> {
    return this.allRows().map(toMetadata);
  }

  async rotateKey(keyId: string): Promise<KeyMetadata> {
    return this.db.transaction(() => {
      const row = this.requireRow(keyId);
      if (row.state !== 'Enabled')
        throw new BulwarkError(
          'KeyInvalidState',
          `key ${keyId} is ${row.state}; only an Enabled key can be rotated`,
          { keyId, keyState: row.state },
        );
      if (row.current_version >= 0xffff)
        throw new BulwarkError(
          'KeyInvalidState',
          `key ${keyId} has reached the maximum of 65535 versions`,
          { keyId },
        );
      const version = row.current_version + 1;
      this.insertVersion(row.num, version);
      this.db.prepare('UPDATE keys SET current_version = ? WHERE num = ?').run(version, row.num);
      return toMetadata(this.rowByNum(row.num) as KeyRow);
    })();
  }

  private transition(
    keyId: string,
    allowedFrom: KeyState[],
    to: KeyState,
    extra: { deletionDate?: number | null } = {},
  ): KeyMetadata {
    return this.db.transaction(() => {
      const row = this.requireRow(keyId);
      if (row.kind === 'service')
        throw new BulwarkError(
          'KeyInvalidState',
          `the service key ${keyId} cannot be disabled or deleted; set another default key instead`,
          { keyId },
        );
      if (!allowedFrom.includes(row.state)) {
        throw new BulwarkError(
          'KeyInvalidState',
          `key ${keyId} is ${row.state}; this operation needs it to be ${allowedFrom.join(' or ')}`,
          { keyId, keyState: row.state },
        );
      }
      if (to !== 'Enabled' && this.defaultKeyId() === keyId) {
        throw new BulwarkError(
          'KeyInvalidState',
          `key ${keyId} is the default key; set another default key first`,
          { keyId },
        );
      }
      this.db
        .prepare('UPDATE keys SET state = ?, deletion_date = ? WHERE num = ?')
        .run(to, extra.deletionDate ?? null, row.num);
      return toMetadata(this.rowByNum(row.num) as KeyRow);
    })();
  }

  async enableKey(keyId: string): Promise<KeyMetadata> {
    return this.transition(keyId, ['Enabled', 'Disabled'], 'Enabled');
  }

  async disableKey(keyId: string): Promise<KeyMetadata> {
    return this.transition(keyId, ['Enabled', 'Disabled'], 'Disabled');
  }

  async scheduleKeyDeletion(keyId: string, pendingWindowInDays: number): Promise<KeyMetadata> {
    if (
      !Number.isInteger(pendingWindowInDays) ||
      pendingWindowInDays < 7 ||
      pendingWindowInDays > 30
    ) {
      throw new BulwarkError(
        'KeyInvalidArgument',
        `PendingWindowInDays must be a whole number from 7 to 30; got ${pendingWindowInDays}`,
        { keyId },
      );
    }
    return this.transition(keyId, ['Enabled', 'Disabled'], 'PendingDeletion', {
      deletionDate: this.now() + pendingWindowInDays * DAY_MS,
    });
  }

  /** As in AWS KMS, a cancelled deletion leaves the key Disabled. */
  async cancelKeyDeletion(keyId: string): Promise<KeyMetadata> {
    return this.transition(keyId, ['PendingDeletion'], 'Disabled');
  }

  /**
   * Destroys a key's material: every version and every data key it wrapped. Customer keys only
   * once their waiting period has passed; scope keys at once (that is the erase).
   */
  destroyKey(keyId: string, scope?: string): ErasureReceipt {
    const receipt = this.db.transaction(() => {
      const row = this.requireRow(keyId);
      if (row.kind === 'service')
        throw new BulwarkError('KeyInvalidState', `the service key ${keyId} cannot be destroyed`, {
          keyId,
        });
      if (row.state === 'Destroyed')
        throw new BulwarkError('KeyErased', `key ${keyId} was already destroyed`, { keyId });
      if (
        row.kind === 'customer' &&
        (row.state !== 'PendingDeletion' || (row.deletion_date ?? Infinity) > this.now())
      ) {
        throw new BulwarkError(
          'KeyInvalidState',
          row.state === 'PendingDeletion'
            ? `key ${keyId} is pending deletion until ${new Date(row.deletion_date as number).toISOString()}; it cannot be destroyed before then`
            : `key ${keyId} is ${row.state}; schedule its deletion first`,
          { keyId, keyState: row.state },
        );
      }
      const dataKeys = this.db
        .prepare('DELETE FROM data_keys WHERE key_num = ?')
        .run(row.num).changes;
      const versions = this.db
        .prepare('DELETE FROM key_versions WHERE key_num = ?')
        .run(row.num).changes;
      const erasedAt = this.now();
      this.db
        .prepare(
          "UPDATE keys SET state = 'Destroyed', destroyed_at = ?, deletion_date = NULL WHERE num = ?",
        )
        .run(erasedAt, row.num);
      return {
        keyId,
        ...(scope !== undefined ? { scope } : {}),
        erasedAt: new Date(erasedAt).toISOString(),
        keyVersionsDestroyed: versions,
        dataKeysDestroyed: dataKeys,
      };
    })();
    // Push the overwritten pages out of the WAL so no copy of the wrapped material lingers.
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    return receipt;
  }

  /** Customer keys whose waiting period has ended. */
  keysDueForDestruction(): string[] {
    return (
      this.db
        .prepare("SELECT id FROM keys WHERE state = 'PendingDeletion' AND deletion_date <= ?")
        .all(this.now()) as { id: string }[]
    ).map((row) => row.id);
  }
}

/** The error that a key's state makes of any use of its data. */
export function assertUsable(
  row: Pick<KeyRow, 'id' | 'state' | 'deletion_date' | 'destroyed_at'>,
): void {
  switch (row.state) {
    case 'Enabled':
      return;
    case 'Disabled':
      throw new BulwarkError(
        'KeyDisabled',
        `key ${row.id} is disabled; enable it to read or write its data`,
        { keyId: row.id, keyState: row.state },
      );
    case 'PendingDeletion':
      throw new BulwarkError(
        'KeyPendingDeletion',
        `key ${row.id} is pending deletion (on ${new Date(row.deletion_date as number).toISOString()}); cancel the deletion to use its data`,
        { keyId: row.id, keyState: row.state },
      );
    case 'Destroyed':
      throw new BulwarkError(
        'KeyErased',
        `key ${row.id} was destroyed on ${new Date(row.destroyed_at as number).toISOString()}: its data is erased`,
        {
          keyId: row.id,
          keyState: row.state,
        },
      );
  }
}

export type { KeyRow };
