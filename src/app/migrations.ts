import { auditMigrations } from '../audit/migrations.js';
import { retainedMigrations } from '../broker/retained.js';
import { sessionMigrations } from '../broker/session-store.js';
import { credentialMigrations } from '../iam/credential-migrations.js';
import { iamMigrations } from '../iam/migrations.js';
import { guardScanMigrations } from '../guard/scan/records.js';
import { encryptionConfigurationMigrations } from '../kms/encryption-configuration.js';
import { loggingMigrations } from '../logs/settings.js';
import { deviceCertificateMigrations, pkiMigrations } from '../pki/migrations.js';
import { policyMigrations } from '../policy/migrations.js';
import { registryMigrations } from '../registry/index.js';
import { shadowMigrations } from '../shadow/index.js';
import type { Migration } from '../store/index.js';

/** Every capability's schema changes, in the order they were introduced. Append only. */
export const migrations: Migration[] = [
  ...pkiMigrations,
  ...retainedMigrations,
  ...sessionMigrations,
  ...iamMigrations,
  ...encryptionConfigurationMigrations,
  ...registryMigrations,
  ...policyMigrations,
  ...deviceCertificateMigrations,
  ...shadowMigrations,
  ...credentialMigrations,
  ...auditMigrations,
  ...loggingMigrations,
  ...guardScanMigrations,
];
