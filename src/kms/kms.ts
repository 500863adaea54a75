import { BulwarkError } from '../errors.js';
import { openWithDataKey, readHeader, sealWithDataKey, type SealContext } from './envelope.js';
import { assertUsable, LocalKeyStore, type KeyRow } from './key-store.js';
import {
  createRootKey,
  loadRootKey,
  rootKeyConfigured,
  verifyRootKey,
  writeRootCheck,
} from './root-key.js';
import type { ErasureReceipt, KeyEncryptionProvider, KeyMetadata, Sealer } from './types.js';

interface ActiveDataKey {
  num: number;
  version: number;
  plaintext: Buffer;
  uses: number;
}

export interface KmsOptions {
  /** Seals after which this process retires a data key and makes a new one. */
  dataKeyMaxUses: number;
  now?: () => number;
}

/**
 * Envelope encryption for everything Bulwark stores. Values are sealed with AES-256-GCM under
 * data keys; data keys are wrapped by a version of a key-encryption key (the service key, a
 * customer-managed key, or a scope's own key); key versions are wrapped by the root key.
 *
 * Key states are re-read whenever another process (a CLI command) changes the key store, so
 * disabling or destroying a key takes effect from the next turn of the event loop, without a
 * restart.
 */
export class Kms implements Sealer {
  private readonly keyStore: LocalKeyStore;
  private readonly provider: KeyEncryptionProvider;
  private readonly options: KmsOptions;
  private seenChange = -1;
  /** Set once this turn of the event loop has asked the key store for other processes' changes. */
  private checkedThisTurn = false;
  private readonly rowsByNum = new Map<number, KeyRow>();
  private readonly rowsById = new Map<string, KeyRow>();
  private defaultKeyId = '';
  private readonly activeDataKeys = new Map<number, ActiveDataKey>();
  private readonly dataKeysInMaking = new Map<number, Promise<ActiveDataKey>>();
  private readonly openedDataKeys = new Map<number, { keyNum: number; plaintext: Buffer }>();

  private constructor(keyStore: LocalKeyStore, options: KmsOptions) {
    this.keyStore = keyStore;
    this.provider = keyStore;
    this.options = options;
    this.refresh();
  }

  /** Opens the data dir's keys, creating the root key and key store on first use. */
  static openOrCreate(
    dataDir: string,
    env: NodeJS.ProcessEnv,
    options: KmsOptions,
  ): { kms: Kms; created: boolean } {
    if (!rootKeyConfigured(dataDir)) {
      const rootKey = createRootKey(dataDir, env);
      writeRootCheck(dataDir, rootKey);
      return {
        kms: new Kms(LocalKeyStore.create(dataDir, rootKey, options.now), options),
        created: true,
      };
    }
    return { kms: Kms.open(dataDir, env, options), created: false };
  }

  /** Opens existing keys; a missing or wrong root key is an error (exit 2), never a new key. */
  static open(dataDir: string, env: NodeJS.ProcessEnv, options: KmsOptions): Kms {
    const rootKey = loadRootKey(dataDir, env);
    verifyRootKey(dataDir, rootKey);
    return new Kms(LocalKeyStore.open(dataDir, rootKey, options.now), options);
  }

  close(): void {
    this.activeDataKeys.clear();
    this.openedDataKeys.clear();
    this.keyStore.close();
  }

  /**
   * Asked before every seal and open, but asks the key store once per turn of the event loop: a
   * group commit seals many values in one turn, and one SQLite query per value cost a tenth of
   * the broker's CPU under QoS 1 load. Another process's change is seen from the next turn on.
   */
  private refresh(): void {
    if (this.checkedThisTurn) return;
    this.checkedThisTurn = true;
    setImmediate(() => (this.checkedThisTurn = false)).unref();
    this.readChanges();
  }

  private readChanges(): void {
    const change = this.keyStore.changeCounter();
    if (change === this.seenChange) return;
    this.seenChange = change;
    this.rowsByNum.clear();
    this.rowsById.clear();
    for (const row of this.keyStore.allRows()) {
      this.rowsByNum.set(row.num, row);
      this.rowsById.set(row.id, row);
      if (row.state === 'Destroyed') this.forgetDataKeysOf(row.num);
    }
    this.defaultKeyId = this.keyStore.defaultKeyId();
  }

  /** After this process changes the key store itself (data_version counts only other connections). */
  private reload(): void {
    this.seenChange = -1;
    this.readChanges();
  }

  private forgetDataKeysOf(keyNum: number): void {
    this.activeDataKeys.delete(keyNum);
    for (const [num, opened] of this.openedDataKeys) {
      if (opened.keyNum === keyNum) this.openedDataKeys.delete(num);
    }
  }

  private sealingKey(scope: string | undefined): KeyRow {
    if (scope === undefined) return this.rowsById.get(this.defaultKeyId) as KeyRow;
    const existing = this.rowsById.get(`scope/${scope}`);
    if (existing) return existing;
    // Only the new row joins what this process knows: reading every key again made each new
    // thing's first write cost as much as the keys before it (CreateThing slowed as things grew).
    const created = this.keyStore.ensureScopeKey(scope);
    this.rowsByNum.set(created.num, created);
    this.rowsById.set(created.id, created);
    return created;
  }

  /** The data key this process seals under for `row`, if it is still current and not worn out. */
  private currentDataKey(row: KeyRow): ActiveDataKey | undefined {
    const active = this.activeDataKeys.get(row.num);
    return active &&
      active.version === row.current_version &&
      active.uses < this.options.dataKeyMaxUses
      ? active
      : undefined;
  }

  /** One data key in the making per key, however many seals wait for it at once. */
  private newDataKey(row: KeyRow): Promise<ActiveDataKey> {
    let making = this.dataKeysInMaking.get(row.num);
    if (!making) {
      making = this.makeDataKey(row).finally(() => this.dataKeysInMaking.delete(row.num));
      this.dataKeysInMaking.set(row.num, making);
    }
    return making;
  }

  private async makeDataKey(row: KeyRow): Promise<ActiveDataKey> {
    const generated = await this.provider.generateDataKey(row.id);
    const num = this.keyStore.saveDataKey(row.num, generated.keyVersion, generated.wrapped);
    const fresh = { num, version: generated.keyVersion, plaintext: generated.plaintext, uses: 0 };
    this.activeDataKeys.set(row.num, fresh);
    this.openedDataKeys.set(num, { keyNum: row.num, plaintext: generated.plaintext });
    return fresh;
  }

  private sealWith(
    row: KeyRow,
    dataKey: ActiveDataKey,
    plaintext: Buffer,
    context: SealContext,
  ): Buffer {
    dataKey.uses += 1;
    return sealWithDataKey(
      dataKey.plaintext,
      { keyNumber: row.num, keyVersion: dataKey.version, dataKeyNumber: dataKey.num },
      plaintext,
      context,
    );
  }

  // One async layer, and an await only when a new data key is needed: this runs for every
  // value stored, and each extra promise costs as much as a tenth of the cipher itself.
  async seal(plaintext: Buffer, context: SealContext, scope?: string): Promise<Buffer> {
    this.refresh();
    const row = this.sealingKey(scope);
    assertUsable(row);
    return this.sealWith(
      row,
      this.currentDataKey(row) ?? (await this.newDataKey(row)),
      plaintext,
      context,
    );
  }

  async open(sealed: Buffer, context: SealContext): Promise<Buffer> {
    this.refresh();
    const header = readHeader(sealed);
    const row = this.rowsByNum.get(header.keyNumber);
    if (!row) {
      throw new BulwarkError(
        'KeyNotFound',
        `value in ${context.table}.${context.column} was sealed under key number ${header.keyNumber}, which this key store does not hold`,
        {
          table: context.table,
        },
      );
    }
    assertUsable(row);
    let dataKey = this.openedDataKeys.get(header.dataKeyNumber)?.plaintext;
    if (!dataKey) {
      const wrapped = this.keyStore.wrappedDataKey(header.dataKeyNumber);
      if (!wrapped) {
        throw new BulwarkError(
          'KeyVersionUnavailable',
          `data key ${header.dataKeyNumber} of key ${row.id} no longer exists`,
          { keyId: row.id },
        );
      }
      if (wrapped.keyNum !== header.keyNumber || wrapped.version !== header.keyVersion) {
        throw new BulwarkError(
          'SealedValueTampered',
          `sealed value in ${context.table}.${context.column} names a data key of another key`,
          { table: context.table },
        );
      }
      dataKey = await this.provider.decryptDataKey(row.id, wrapped.version, wrapped.wrapped);
      this.openedDataKeys.set(header.dataKeyNumber, { keyNum: row.num, plaintext: dataKey });
    }
    return openWithDataKey(dataKey, sealed, header, context);
  }

  /**
   * The key a value sealed under `row` belongs under now: a scope's own key stays its home;
   * anything else belongs under the default key, which may have changed since it was sealed.
   */
  private homeKeyOf(row: KeyRow): KeyRow {
    return row.kind === 'scope' ? row : this.sealingKey(undefined);
  }

  needsRewrap(sealed: Buffer): boolean {
    this.refresh();
    const header = readHeader(sealed);
    const row = this.rowsByNum.get(header.keyNumber);
    if (row === undefined || row.state !== 'Enabled') return false;
    const home = this.homeKeyOf(row);
    if (home.num !== row.num) return home.state === 'Enabled';
    return header.keyVersion < row.current_version;
  }

  async rewrap(sealed: Buffer, context: SealContext): Promise<Buffer> {
    const plaintext = await this.open(sealed, context);
    const home = this.homeKeyOf(this.rowsByNum.get(readHeader(sealed).keyNumber) as KeyRow);
    assertUsable(home);
    return this.sealWith(
      home,
      this.currentDataKey(home) ?? (await this.newDataKey(home)),
      plaintext,
      context,
    );
  }

  /** The key id and version a sealed value names, for reports (scan, rewrap). */
  describeSealed(sealed: Buffer): { keyId: string; keyVersion: number; keyState: string } {
    this.refresh();
    const header = readHeader(sealed);
    const row = this.rowsByNum.get(header.keyNumber);
    return {
      keyId: row?.id ?? `#${header.keyNumber}`,
      keyVersion: header.keyVersion,
      keyState: row?.state ?? 'Unknown',
    };
  }

  // ---- key management (customer-managed keys) ----

  private async managed(operation: Promise<KeyMetadata>): Promise<KeyMetadata> {
    const result = await operation;
    this.reload();
    return result;
  }

  createKey(description = ''): Promise<KeyMetadata> {
    return this.managed(this.provider.createKey({ kind: 'customer', description }));
  }

  describeKey(keyId: string): Promise<KeyMetadata> {
    return this.provider.describeKey(keyId);
  }

  listKeys(): Promise<KeyMetadata[]> {
    return this.provider.listKeys();
  }

  rotateKey(keyId: string): Promise<KeyMetadata> {
    return this.managed(this.provider.rotateKey(keyId));
  }

  enableKey(keyId: string): Promise<KeyMetadata> {
    return this.managed(this.provider.enableKey(keyId));
  }

  disableKey(keyId: string): Promise<KeyMetadata> {
    return this.managed(this.provider.disableKey(keyId));
  }

  scheduleKeyDeletion(keyId: string, pendingWindowInDays = 30): Promise<KeyMetadata> {
    return this.managed(this.provider.scheduleKeyDeletion(keyId, pendingWindowInDays));
  }

  cancelKeyDeletion(keyId: string): Promise<KeyMetadata> {
    return this.managed(this.provider.cancelKeyDeletion(keyId));
  }

  /** Makes `keyId` the key new values are sealed under (scoped values keep their own keys). */
  async setDefaultKey(keyId: string): Promise<KeyMetadata> {
    const result = this.keyStore.setDefaultKey(keyId);
    this.reload();
    return result;
  }

  getDefaultKeyId(): string {
    this.refresh();
    return this.defaultKeyId;
  }

  /** Destroys a customer key whose deletion waiting period is over. */
  destroyKey(keyId: string): ErasureReceipt {
    const receipt = this.keyStore.destroyKey(keyId);
    this.reload();
    return receipt;
  }

  /** Destroys every customer key whose waiting period has ended; run periodically by serve. */
  destroyDueKeys(): ErasureReceipt[] {
    return this.keyStore.keysDueForDestruction().map((keyId) => this.destroyKey(keyId));
  }

  /**
   * Crypto-erase: destroys the scope's own key at once, so every value sealed under it, in the
   * live database and in every backup of it, can no longer be opened.
   */
  eraseScope(scope: string): ErasureReceipt {
    const keyId = `scope/${scope}`;
    if (!this.keyStore.rowById(keyId)) {
      throw new BulwarkError(
        'KeyNotFound',
        `scope ${scope} has no key of its own: nothing was sealed under it`,
        { scope },
      );
    }
    const receipt = this.keyStore.destroyKey(keyId, scope);
    this.reload();
    return receipt;
  }
}
