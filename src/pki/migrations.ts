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
