import type { Migration } from '../store/index.js';

export const EVENTS_TABLE = 'audit_events';
export const HEADS_TABLE = 'audit_heads';
export const DIGESTS_TABLE = 'audit_digests';
export const SIGNING_KEYS_TABLE = 'audit_signing_keys';

/**
 * The audit trail's tables. An event's record is sealed under the stream's own key
 * (`scope/audit/{stream}`); what lookups filter on stays plaintext beside it, and the verifier
 * checks those columns against the record. Digests hold only hashes, times and counts, and stay
 * plaintext so that they can be read and checked without any key. The digest-signing private
 * key is sealed under a key of its own (`scope/audit/digest-signing`).
 */
export const auditMigrations: Migration[] = [
  {
    id: 'audit-0001-trail',
    steps: [
      {
        createTable: {
          name: EVENTS_TABLE,
          columns: {
            stream: { type: 'text' },
            seq: { type: 'integer' },
            chain_hash: { type: 'text' },
            event_time: { type: 'integer' },
            event_id: { type: 'text' },
            event_name: { type: 'text' },
            event_source: { type: 'text' },
            read_only: { type: 'boolean' },
            username: { type: 'text', nullable: true },
            access_key_id: { type: 'text', nullable: true },
            resource_name: { type: 'text', nullable: true },
            resource_type: { type: 'text', nullable: true },
          },
          primaryKey: ['stream', 'seq'],
          sealed: ['record'],
          scope: { column: 'stream', prefix: 'audit' },
          indexes: [
            ['event_time'],
            ['event_id'],
            ['event_name', 'event_time'],
            ['event_source', 'event_time'],
            ['username', 'event_time'],
            ['access_key_id', 'event_time'],
            ['resource_name', 'event_time'],
            ['resource_type', 'event_time'],
            ['read_only', 'event_time'],
          ],
        },
      },
      {
        // The newest event of each stream, so that a writer finds where to continue without
        // opening a sealed record; two writers on one stream collide on the events' key.
        createTable: {
          name: HEADS_TABLE,
          columns: {
            stream: { type: 'text' },
            seq: { type: 'integer' },
            chain_hash: { type: 'text' },
          },
          primaryKey: ['stream'],
          sealed: [],
        },
      },
      {
        createTable: {
          name: DIGESTS_TABLE,
          columns: {
            stream: { type: 'text' },
            digest_seq: { type: 'integer' },
            end_time: { type: 'integer' },
            digest: { type: 'text' },
            digest_hash: { type: 'text' },
            signature: { type: 'text' },
          },
          primaryKey: ['stream', 'digest_seq'],
          sealed: [],
          indexes: [['end_time'], ['digest_hash']],
        },
      },
      {
        createTable: {
          name: SIGNING_KEYS_TABLE,
          columns: {
            fingerprint: { type: 'text' },
            purpose: { type: 'text' },
            public_key_pem: { type: 'text' },
            created_at: { type: 'integer' },
            retired_at: { type: 'integer', nullable: true },
          },
          primaryKey: ['fingerprint'],
          sealed: ['private_key_pem'],
          scope: { column: 'purpose', prefix: 'audit' },
        },
      },
    ],
  },
];
