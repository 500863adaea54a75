import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { isBulwarkError } from '../errors.js';
import { join } from 'node:path';
import type { Store } from '../store/index.js';
import { IamUsers } from './users.js';

/** The administrator IAM user that init creates (full rights). */
export const ADMIN_USER_NAME = 'admin';

/** Where the administrator's first access key is written, once, readable by the owner only. */
export function adminCredentialsPath(dataDir: string): string {
  return join(dataDir, 'admin-credentials.json');
}

/**
 * Creates the administrator and its first access key unless the administrator exists, and writes
 * the key to `adminCredentialsPath` (mode 0600). Returns that path when it wrote the file. The
 * secret goes nowhere else: not to stdout, not to the logs.
 */
export async function ensureAdministrator(
  store: Store,
  dataDir: string,
): Promise<string | undefined> {
  const users = new IamUsers(store);
  if (await users.getUser(ADMIN_USER_NAME)) return undefined;
  try {
    await users.createUser(ADMIN_USER_NAME);
  } catch (error) {
    // Another process initialising the same data dir got there first; it writes the file.
    if (isBulwarkError(error, 'ResourceAlreadyExists')) return undefined;
    throw error;
  }
  const key = await users.createAccessKey(ADMIN_USER_NAME);
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
