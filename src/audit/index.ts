export { AuditTrail, type AuditTrailOptions } from './trail.js';
export { auditMigrations } from './migrations.js';
export {
  lookupEvents,
  LOOKUP_ATTRIBUTE_COLUMNS,
  type LookupAttributeKey,
  type LookupQuery,
} from './lookup.js';
export {
  HIDDEN,
  hideSecrets,
  type AuditEvent,
  type AuditRecord,
  type AuditSink,
  type TlsDetails,
  type UserIdentity,
} from './record.js';
export { publicSigningKeys, SigningKeys, type PublicSigningKey } from './signing-keys.js';
