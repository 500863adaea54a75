import type { Migration } from '../store/index.js';
import type { UserReference } from './users.js';

/** Virtual MFA devices; the TOTP seed is sealed, the replay and drift state is not secret. */
export const IAM_MFA_DEVICES_TABLE = 'iam_mfa_devices';
/** Console passwords: one per user, the scrypt hash sealed. */
export const IAM_LOGIN_PROFILES_TABLE = 'iam_login_profiles';
/** The hashes of a user's recent passwords (reuse prevention); kept when the profile is deleted. */
export const IAM_PASSWORD_HISTORY_TABLE = 'iam_password_history';
/** Consecutive failures per credential (`password/{user}`, `mfa/{serial}`), for lockout. */
export const IAM_CREDENTIAL_FAILURES_TABLE = 'iam_credential_failures';
/**
 * One row per credential, written first in each transaction that reads and then writes that
 * credential's state: on PostgreSQL the upsert's row lock makes concurrent transactions on the
 * same credential wait for each other (SQLite already runs one writer at a time).
 */
export const IAM_CREDENTIAL_LOCKS_TABLE = 'iam_credential_locks';

export const credentialMigrations: Migration[] = [
  {
    id: 'iam-credentials-0001-mfa-devices-and-login-profiles',
    steps: [
      {
        createTable: {
          name: IAM_MFA_DEVICES_TABLE,
          columns: {
            serial_number: { type: 'text' },
            device_name: { type: 'text' },
            // 'Assigned' or 'Unassigned', as ListVirtualMFADevices filters.
            assignment_status: { type: 'text' },
            user_name: { type: 'text', nullable: true },
            created_at: { type: 'integer' },
            enabled_at: { type: 'integer', nullable: true },
            // RFC 6238 §5.2: the last time step accepted; codes of it or earlier are refused.
            last_accepted_step: { type: 'integer', nullable: true },
            // Steps the device's clock runs ahead (+) or behind (−), measured by ResyncMFADevice.
            drift_steps: { type: 'integer' },
          },
          primaryKey: ['serial_number'],
          sealed: ['seed'],
          indexes: [['user_name'], ['assignment_status']],
        },
      },
      {
        createTable: {
          name: IAM_LOGIN_PROFILES_TABLE,
          columns: {
            user_name: { type: 'text' },
            created_at: { type: 'integer' },
            password_changed_at: { type: 'integer' },
            password_reset_required: { type: 'boolean' },
          },
          primaryKey: ['user_name'],
          sealed: ['password_hash'],
        },
      },
      {
        createTable: {
          name: IAM_PASSWORD_HISTORY_TABLE,
          columns: {
            user_name: { type: 'text' },
            updated_at: { type: 'integer' },
          },
          primaryKey: ['user_name'],
          // Newest first, the current password included.
          sealed: ['password_hashes'],
        },
      },
      {
        createTable: {
          name: IAM_CREDENTIAL_FAILURES_TABLE,
          columns: {
            subject: { type: 'text' },
            failures: { type: 'integer' },
            blocked_until: { type: 'integer' },
          },
          primaryKey: ['subject'],
          sealed: [],
        },
      },
      {
        createTable: {
          name: IAM_CREDENTIAL_LOCKS_TABLE,
          columns: {
            subject: { type: 'text' },
            // A column besides the key, so that the upsert updates (and so locks) the row.
            acquired_at: { type: 'integer' },
          },
          primaryKey: ['subject'],
          sealed: [],
        },
      },
    ],
  },
];

/** What DeleteUser must find gone first, as IAM refuses to delete a user who still has them. */
export const CREDENTIAL_USER_REFERENCES: readonly UserReference[] = [
  {
    table: IAM_LOGIN_PROFILES_TABLE,
    where: (userName) => ({ user_name: userName }),
    conflict: 'Cannot delete entity, must delete login profile first.',
  },
  {
    table: IAM_MFA_DEVICES_TABLE,
    where: (userName) => ({ user_name: userName }),
    conflict: 'Cannot delete entity, must delete MFA device first.',
  },
];
