import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { isBulwarkError } from '../errors.js';
import { join } from 'node:path';
import type { Store } from '../store/index.js';
import { IamInlinePolicies } from './inline-policies.js';
import { IAM_ONE_TIME_GRANTS_TABLE } from './migrations.js';
import { IamUsers, type NewAccessKey } from './users.js';

/** The administrator IAM user that init creates (full rights). */
export const ADMIN_USER_NAME = 'admin';

/** The administrator's inline policy: everything, as AWS's AdministratorAccess managed policy. */
export const ADMINISTRATOR_POLICY_NAME = 'AdministratorAccess';
export const ADMINISTRATOR_POLICY_DOCUMENT = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'AdministratorAccess', Effect: 'Allow', Action: '*', Resource: '*' }],
});

/**
 * Gives the administrator AdministratorAccess, once in the data dir's life (data dirs made before
 * IAM policies existed included): taken away later by an operator, it stays away.
 */
async function grantAdministratorAccessOnce(store: Store): Promise<void> {
  const grant = { grant_name: `${ADMIN_USER_NAME}/${ADMINISTRATOR_POLICY_NAME}` };
  if (await store.get(IAM_ONE_TIME_GRANTS_TABLE, grant)) return;
  await new IamInlinePolicies(store).put(
    { type: 'user', name: ADMIN_USER_NAME },
    ADMINISTRATOR_POLICY_NAME,
    ADMINISTRATOR_POLICY_DOCUMENT,
  );
  try {
    await store.insert(IAM_ONE_TIME_GRANTS_TABLE, { ...grant, granted_at: Date.now() });
  } catch (error) {
    // Another process starting on the same data dir made the same grant.
    if (!isBulwarkError(error, 'StoreConstraint')) throw error;
  }
}

/** Where the administrator's first access key is written, once, readable by the owner only. */
export function adminCredentialsPath(dataDir: string): string {
  return join(dataDir, 'admin-credentials.json');
}

/**
 * Creates the administrator (with AdministratorAccess) and its first access key unless the
 * administrator exists, and writes the key to `adminCredentialsPath` (mode 0600). Returns that
 * path when it wrote the file. The secret goes nowhere else: not to stdout, not to the logs.
 */
export async function ensureAdministrator(
  store: Store,
  dataDir: string,
): Promise<string | undefined> {
  const users = new IamUsers(store);
  if (await users.getUser(ADMIN_USER_NAME)) {
    await grantAdministratorAccessOnce(store);
    return undefined;
  }
  try {
    await users.createUser(ADMIN_USER_NAME);
  } catch (error) {
    // Another process initialising the same data dir got there first; it writes the file.
    if (isBulwarkError(error, 'ResourceAlreadyExists')) return undefined;
    throw error;
  }
  await grantAdministratorAccessOnce(store);
  return writeAdminCredentials(dataDir, await users.createAccessKey(ADMIN_USER_NAME));
}

/**
 * Writes the administrator's access key to `adminCredentialsPath` (mode 0600), replacing the file
 * whole, and returns that path. The secret goes nowhere else: not to stdout, not to the logs.
 */
export function writeAdminCredentials(dataDir: string, key: NewAccessKey): string {
  const path = adminCredentialsPath(dataDir);
  // Written beside and renamed, so a reader never sees half a file.
  const partial = `${path}.partial`;
  rmSync(partial, { force: true });
  writeFileSync(
    partial,
    JSON.stringify(
      {
        UserName: key.userName,
        AccessKeyId: key.accessKeyId,
        SecretAccessKey: key.secretAccessKey,
        CreateDate: key.createDate.toISOString(),
      },
      null,
      2,
    ) + '\n',
    { mode: 0o600 },
  );
  renameSync(partial, path);
  return path;
}
