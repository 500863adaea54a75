import { retainedMigrations } from '../broker/retained.js';
import { sessionMigrations } from '../broker/session-store.js';
import { pkiMigrations } from '../pki/migrations.js';
import type { Migration } from '../store/index.js';

/** Every capability's schema changes, in the order they were introduced. Append only. */
export const migrations: Migration[] = [
  ...pkiMigrations,
  ...retainedMigrations,
  ...sessionMigrations,
];
