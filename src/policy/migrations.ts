import type { Migration } from '../store/index.js';

export const POLICIES_TABLE = 'policy_policies';
export const POLICY_VERSIONS_TABLE = 'policy_versions';
export const POLICY_TARGETS_TABLE = 'policy_targets';
export const POLICY_WRITE_LOCK_TABLE = 'policy_write_lock';

/**
 * IoT policies, their versions and their attachments. Names, version numbers, targets and dates
 * are plaintext (lookups need them); documents and tags are sealed: a document says what each
 * device may do, which is worth keeping from whoever copies the database.
 */
export const policyMigrations: Migration[] = [
  {
    id: 'policy-0001-policies',
    steps: [
      {
        createTable: {
          name: POLICIES_TABLE,
          columns: {
            policy_name: { type: 'text' },
            default_version: { type: 'integer' },
            /** The number the next version gets: version ids are never reused. */
            next_version: { type: 'integer' },
            generation_id: { type: 'text' },
            created_at: { type: 'integer' },
            updated_at: { type: 'integer' },
          },
          primaryKey: ['policy_name'],
          sealed: ['tags'],
        },
      },
      {
        createTable: {
          name: POLICY_VERSIONS_TABLE,
          columns: {
            policy_name: { type: 'text' },
            version: { type: 'integer' },
            created_at: { type: 'integer' },
          },
          primaryKey: ['policy_name', 'version'],
          sealed: ['document'],
        },
      },
      {
        createTable: {
          name: POLICY_TARGETS_TABLE,
          columns: {
            target: { type: 'text' },
            policy_name: { type: 'text' },
            attached_at: { type: 'integer' },
          },
          primaryKey: ['target', 'policy_name'],
          sealed: [],
          indexes: [['policy_name']],
        },
      },
      {
        // One row every policy write updates first: it orders policy writes across processes
        // sharing a database (PostgreSQL row lock), and its generation tells a process holding
        // decisions in memory that another process changed something.
        createTable: {
          name: POLICY_WRITE_LOCK_TABLE,
          columns: { name: { type: 'text' }, generation: { type: 'integer' } },
          primaryKey: ['name'],
          sealed: [],
        },
      },
    ],
  },
];
