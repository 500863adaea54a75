export { deviceCaPath, ensureDeviceCa, type DeviceCa } from './device-ca.js';
export {
  DeviceCertificates,
  type CertificateRegisteredEvent,
  type Issuer,
  type KnownCa,
  type KnownCertificate,
  type StatusChange,
} from './device-certificates.js';
export { deviceCertificateMigrations, pkiMigrations } from './migrations.js';
export { pkiOperations } from './operations/index.js';
export { Pki, type PkiOptions } from './pki.js';
export {
  Revocation,
  type NewlyRevoked,
  type RevocationSetting,
  type RevocationStatus,
} from './revocation/index.js';
export type {
  AutoRegistrationStatus,
  CaStatus,
  CertificateMode,
  CertificateStatus,
} from './records.js';
