export { Kms, type KmsOptions } from './kms.js';
export { SERVICE_KEY_ID } from './key-store.js';
export { PASSPHRASE_ENV, rootKeyPath, rootKdfPath, keysDir } from './root-key.js';
export { SEALED_OVERHEAD, isSealed, type SealContext } from './envelope.js';
export type {
  ErasureReceipt,
  KeyEncryptionProvider,
  KeyKind,
  KeyMetadata,
  KeyState,
  Sealer,
} from './types.js';
