import type { Migration } from '../store/index.js';

export const IAM_USERS_TABLE = 'iam_users';
export const IAM_ACCESS_KEYS_TABLE = 'iam_access_keys';

export const iamMigrations: Migration[] = [
  {
    id: 'iam-0001-users-and-access-keys',
    steps: [
      {
        createTable: {
          name: IAM_USERS_TABLE,
          columns: {
            user_name: { type: 'text' },
            // IAM's unique id for the user (AIDA…): CloudTrail's principalId.
            user_id: { type: 'text' },
            created_at: { type: 'integer' },
          },
          primaryKey: ['user_name'],
          sealed: [],
        },
      },
      {
        createTable: {
          name: IAM_ACCESS_KEYS_TABLE,
          columns: {
            access_key_id: { type: 'text' },
            user_name: { type: 'text' },
            status: { type: 'text' },
            created_at: { type: 'integer' },
          },
          primaryKey: ['access_key_id'],
          sealed: ['secret_access_key'],
          indexes: [['user_name']],
        },
      },
    ],
  },
];
