import type { SealContext } from './envelope.js';

/** AWS KMS's key states, plus Destroyed: the key material is gone and its data erased. */
export type KeyState = 'Enabled' | 'Disabled' | 'PendingDeletion' | 'Destroyed';

/**
 * service  — the service-owned default key, created at init; cannot be disabled or deleted.
 * customer — a customer-managed key: the operator creates, rotates, disables and deletes it.
 * scope    — a key of one subject's own (a thing), destroyed to erase that subject's data.
 */
export type KeyKind = 'service' | 'customer' | 'scope';

export interface KeyMetadata {
  keyId: string;
  kind: KeyKind;
  description: string;
  keyState: KeyState;
  currentVersion: number;
  creationDate: Date;
  deletionDate?: Date;
  destroyedDate?: Date;
}

/** Proof of a crypto-erase; later issues sign it with the audit key. */
export interface ErasureReceipt {
  keyId: string;
  scope?: string;
  erasedAt: string;
  keyVersionsDestroyed: number;
  dataKeysDestroyed: number;
}

/** The seam every stored value passes through: the store calls it, nothing else seals. */
export interface Sealer {
  /** Seals under the scope's own key when a scope is given, else under the default key. */
  seal(plaintext: Buffer, context: SealContext, scope?: string): Promise<Buffer>;
  open(sealed: Buffer, context: SealContext): Promise<Buffer>;
  /**
   * Whether rewrap would move the value (its key being usable): to the newest version of its
   * key, or, when it is not under a scope's own key and the default key has changed since, onto
   * the default key.
   */
  needsRewrap(sealed: Buffer): boolean;
  /** Opens the value and seals it again under the newest version of the key it belongs under. */
  rewrap(sealed: Buffer, context: SealContext): Promise<Buffer>;
}

/**
 * What an external key service (AWS KMS, Vault/OpenBao Transit) implements to hold the
 * key-encryption keys in place of the local key store. Bulwark keeps data keys wrapped; the
 * provider wraps and unwraps them and never hands out its key-encryption keys.
 */
export interface KeyEncryptionProvider {
  /** A new 256-bit data key, plaintext and wrapped under the newest version of `keyId`. */
  generateDataKey(
    keyId: string,
  ): Promise<{ plaintext: Buffer; wrapped: Buffer; keyVersion: number }>;
  /** Unwraps a data key; fails when the key is disabled, pending deletion or destroyed. */
  decryptDataKey(keyId: string, keyVersion: number, wrapped: Buffer): Promise<Buffer>;
  createKey(options: { kind: KeyKind; description?: string; keyId?: string }): Promise<KeyMetadata>;
  describeKey(keyId: string): Promise<KeyMetadata>;
  listKeys(): Promise<KeyMetadata[]>;
  rotateKey(keyId: string): Promise<KeyMetadata>;
  enableKey(keyId: string): Promise<KeyMetadata>;
  disableKey(keyId: string): Promise<KeyMetadata>;
  scheduleKeyDeletion(keyId: string, pendingWindowInDays: number): Promise<KeyMetadata>;
  cancelKeyDeletion(keyId: string): Promise<KeyMetadata>;
}

export type { SealContext };
