export { loadConfig, type Config } from './config/index.js';
export { BulwarkError, isBulwarkError, type ErrorCode } from './errors.js';
export {
  Kms,
  type KeyMetadata,
  type ErasureReceipt,
  type KeyEncryptionProvider,
  type Sealer,
} from './kms/index.js';
export {
  openStore,
  SealedStore,
  type Store,
  type TableDef,
  type Migration,
} from './store/index.js';
