import type { Migration } from '../store/index.js';

export const IAM_USERS_TABLE = 'iam_users';
export const IAM_ACCESS_KEYS_TABLE = 'iam_access_keys';
export const IAM_ACCESS_KEY_LAST_USED_TABLE = 'iam_access_key_last_used';
export const IAM_GROUPS_TABLE = 'iam_groups';
export const IAM_GROUP_MEMBERS_TABLE = 'iam_group_members';
export const IAM_INLINE_POLICIES_TABLE = 'iam_inline_policies';
export const IAM_MANAGED_POLICIES_TABLE = 'iam_managed_policies';
export const IAM_POLICY_VERSIONS_TABLE = 'iam_policy_versions';
export const IAM_POLICY_ATTACHMENTS_TABLE = 'iam_policy_attachments';
export const IAM_SESSIONS_TABLE = 'iam_sessions';
export const IAM_ONE_TIME_GRANTS_TABLE = 'iam_one_time_grants';
export const IAM_LAST_ACCESSED_TABLE = 'iam_last_accessed';

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
  {
    id: 'iam-0002-groups-policies-sessions',
    steps: [
      {
        // Written at most once a minute per key (GetAccessKeyLastUsed), apart from the key's
        // sealed row so that recording a use never reseals its secret.
        createTable: {
          name: IAM_ACCESS_KEY_LAST_USED_TABLE,
          columns: {
            access_key_id: { type: 'text' },
            used_at: { type: 'integer' },
            service_name: { type: 'text' },
            region: { type: 'text' },
          },
          primaryKey: ['access_key_id'],
          sealed: [],
        },
      },
      {
        createTable: {
          name: IAM_GROUPS_TABLE,
          columns: {
            group_name: { type: 'text' },
            // IAM's unique id for the group (AGPA…).
            group_id: { type: 'text' },
            created_at: { type: 'integer' },
          },
          primaryKey: ['group_name'],
          sealed: [],
        },
      },
      {
        createTable: {
          name: IAM_GROUP_MEMBERS_TABLE,
          columns: { group_name: { type: 'text' }, user_name: { type: 'text' } },
          primaryKey: ['group_name', 'user_name'],
          sealed: [],
          indexes: [['user_name']],
        },
      },
      {
        // Inline policies of users and groups: principal_type is 'user' or 'group'.
        createTable: {
          name: IAM_INLINE_POLICIES_TABLE,
          columns: {
            principal_type: { type: 'text' },
            principal_name: { type: 'text' },
            policy_name: { type: 'text' },
            updated_at: { type: 'integer' },
          },
          primaryKey: ['principal_type', 'principal_name', 'policy_name'],
          sealed: ['policy_document'],
          // Under keys of their own, which the encryption configuration does not move: IAM keeps
          // deciding (the administrator keeps its rights) whatever happens to a customer key.
          scope: { column: 'principal_name', prefix: 'iam-principal' },
        },
      },
      {
        createTable: {
          name: IAM_MANAGED_POLICIES_TABLE,
          columns: {
            policy_name: { type: 'text' },
            // IAM's unique id for the policy (ANPA…).
            policy_id: { type: 'text' },
            default_version_id: { type: 'text' },
            created_at: { type: 'integer' },
            updated_at: { type: 'integer' },
          },
          primaryKey: ['policy_name'],
          sealed: ['description'],
          scope: { column: 'policy_name', prefix: 'iam-policy' },
        },
      },
      {
        createTable: {
          name: IAM_POLICY_VERSIONS_TABLE,
          columns: {
            policy_name: { type: 'text' },
            version_id: { type: 'text' },
            created_at: { type: 'integer' },
          },
          primaryKey: ['policy_name', 'version_id'],
          sealed: ['policy_document'],
          scope: { column: 'policy_name', prefix: 'iam-policy' },
        },
      },
      {
        // Managed policies attached to users and groups: principal_type is 'user' or 'group'.
        createTable: {
          name: IAM_POLICY_ATTACHMENTS_TABLE,
          columns: {
            principal_type: { type: 'text' },
            principal_name: { type: 'text' },
            policy_name: { type: 'text' },
          },
          primaryKey: ['principal_type', 'principal_name', 'policy_name'],
          sealed: [],
          indexes: [['policy_name']],
        },
      },
      {
        // STS GetSessionToken credentials (ASIA…): the secret sealed, the session token only as
        // its SHA-256 (the token is 384 random bits, so a plain hash cannot be reversed).
        createTable: {
          name: IAM_SESSIONS_TABLE,
          columns: {
            access_key_id: { type: 'text' },
            user_name: { type: 'text' },
            session_token_sha256: { type: 'text' },
            created_at: { type: 'integer' },
            expires_at: { type: 'integer' },
            // When the user proved MFA to obtain these credentials; null without MFA.
            mfa_authenticated_at: { type: 'integer', nullable: true },
          },
          primaryKey: ['access_key_id'],
          sealed: ['secret_access_key'],
          indexes: [['user_name']],
        },
      },
    ],
  },
  {
    id: 'iam-0003-one-time-grants',
    steps: [
      {
        // Grants Bulwark makes once in a data dir's life (the administrator's AdministratorAccess),
        // so an operator who later takes them away is not overruled at the next start.
        createTable: {
          name: IAM_ONE_TIME_GRANTS_TABLE,
          columns: { grant_name: { type: 'text' }, granted_at: { type: 'integer' } },
          primaryKey: ['grant_name'],
          sealed: [],
        },
      },
    ],
  },
  {
    id: 'iam-0004-policy-version-numbers',
    steps: [
      // The last version number a managed policy used: IAM never gives a number twice, even
      // after the highest version is deleted. Null: only v1 so far.
      {
        addColumn: {
          table: IAM_MANAGED_POLICIES_TABLE,
          name: 'last_version_number',
          column: { type: 'integer' },
        },
      },
    ],
  },
  {
    id: 'iam-0005-last-accessed',
    steps: [
      {
        // The access report's last-accessed data: per user and action, the last allowed call.
        // Written at most once a minute per row by each process (src/iam/last-accessed.ts). The
        // resource is sealed: an ARN can carry a thing's name. user_id tells a user from an
        // earlier user of the same name, whose uses are not the new one's.
        createTable: {
          name: IAM_LAST_ACCESSED_TABLE,
          columns: {
            user_name: { type: 'text' },
            action: { type: 'text' },
            user_id: { type: 'text' },
            accessed_at: { type: 'integer' },
          },
          primaryKey: ['user_name', 'action'],
          sealed: ['resource'],
        },
      },
    ],
  },
];
