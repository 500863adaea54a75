import type { Migration } from '../store/index.js';

export const SERVER_IDENTITY_TABLE = 'pki_server_identity';

export const pkiMigrations: Migration[] = [
  {
    id: 'pki-0001-server-identity',
    steps: [
      {
        createTable: {
          name: SERVER_IDENTITY_TABLE,
          columns: { id: { type: 'text' }, created_at: { type: 'integer' } },
          primaryKey: ['id'],
          sealed: [
            'ca_certificate_pem',
            'ca_private_key_pem',
            'certificate_pem',
            'private_key_pem',
          ],
        },
      },
    ],
  },
];

export const DEVICE_CA_TABLE = 'pki_device_ca';
export const CERTIFICATES_TABLE = 'pki_certificates';
export const CERTIFICATE_PEMS_TABLE = 'pki_certificate_pems';
export const CA_CERTIFICATES_TABLE = 'pki_ca_certificates';
export const REGISTRATION_CODE_TABLE = 'pki_registration_code';
export const PKI_WRITE_LOCK_TABLE = 'pki_write_lock';

/**
 * Device certificates and the CAs behind them. A device certificate's ids, status, CA and dates
 * are plaintext (the broker's directory loads them all at start, listings sort by them); its PEM
 * lives in a table of its own, sealed, so neither loading nor listing opens every PEM. The device
 * CA's private key, CA certificates' PEMs, registration configs and tags and the registration
 * code are sealed.
 */
export const deviceCertificateMigrations: Migration[] = [
  {
    id: 'pki-0002-device-certificates',
    steps: [
      {
        createTable: {
          name: DEVICE_CA_TABLE,
          columns: { id: { type: 'text' }, created_at: { type: 'integer' } },
          primaryKey: ['id'],
          sealed: ['certificate_pem', 'private_key_pem'],
        },
      },
      {
        createTable: {
          name: CERTIFICATES_TABLE,
          columns: {
            certificate_id: { type: 'text' },
            status: { type: 'text' },
            ca_certificate_id: { type: 'text', nullable: true },
            certificate_mode: { type: 'text' },
            generation_id: { type: 'text' },
            customer_version: { type: 'integer' },
            not_before: { type: 'integer' },
            not_after: { type: 'integer' },
            created_at: { type: 'integer' },
            updated_at: { type: 'integer' },
          },
          primaryKey: ['certificate_id'],
          sealed: [],
          indexes: [['ca_certificate_id']],
        },
      },
      {
        createTable: {
          name: CERTIFICATE_PEMS_TABLE,
          columns: { certificate_id: { type: 'text' } },
          primaryKey: ['certificate_id'],
          sealed: ['certificate_pem'],
        },
      },
      {
        createTable: {
          name: CA_CERTIFICATES_TABLE,
          columns: {
            certificate_id: { type: 'text' },
            status: { type: 'text' },
            auto_registration_status: { type: 'text' },
            certificate_mode: { type: 'text' },
            generation_id: { type: 'text' },
            customer_version: { type: 'integer' },
            not_before: { type: 'integer' },
            not_after: { type: 'integer' },
            created_at: { type: 'integer' },
            updated_at: { type: 'integer' },
          },
          primaryKey: ['certificate_id'],
          sealed: ['certificate_pem', 'registration_config', 'tags'],
        },
      },
      {
        createTable: {
          name: REGISTRATION_CODE_TABLE,
          columns: { id: { type: 'text' }, created_at: { type: 'integer' } },
          primaryKey: ['id'],
          sealed: ['registration_code'],
        },
      },
      {
        // Every pki write first updates this row, so checks and writes take turns across the
        // processes sharing a database (PostgreSQL row lock), as the registry's writes do.
        createTable: {
          name: PKI_WRITE_LOCK_TABLE,
          columns: { name: { type: 'text' }, touched_at: { type: 'integer' } },
          primaryKey: ['name'],
          sealed: [],
        },
      },
    ],
  },
];
