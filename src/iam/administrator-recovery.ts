import { hostname, userInfo } from 'node:os';
import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import {
  ADMIN_USER_NAME,
  ADMINISTRATOR_POLICY_DOCUMENT,
  ADMINISTRATOR_POLICY_NAME,
  writeAdminCredentials,
} from './administrator.js';
import type { IamAuthorizer } from './authorize.js';
import type { IamInlinePolicies, PolicyHolder } from './inline-policies.js';
import { MAX_ACCESS_KEYS_PER_USER, type AccessKeyMetadata, type IamUsers } from './users.js';

/**
 * The last resort when every administrator key is lost or the administrator's rights were taken
 * away (`bulwark iam recover-administrator`). No API reaches it: it needs local access to the
 * data dir and its root key, and every run, refused or not, is recorded.
 */

export interface AdministratorRecoveryStores {
  users: IamUsers;
  inlinePolicies: IamInlinePolicies;
  /** Every policy that applies to a user, as authorization sees them (its groups' included). */
  authorizer: Pick<IamAuthorizer, 'policiesOf'>;
}

export interface AdministratorRecoveryRequest {
  /** The administrator's key to delete first, to make room for the new one. */
  replaceAccessKeyId?: string;
}

export interface AdministratorRecovery {
  /** The administrator did not exist and was created again. */
  userCreated: boolean;
  /** Its AdministratorAccess policy was missing or altered, and is back as init made it. */
  policyRestored: boolean;
  deletedAccessKeyId?: string;
  /** The new key; its secret is only in `credentialsFile`. */
  accessKeyId: string;
  credentialsFile: string;
  /**
   * The administrator's policies (its groups' included) with Deny statements. An explicit deny
   * overrides AdministratorAccess, yet may be deliberate, so recovery names them and leaves them.
   */
  denyingPolicies: string[];
}

function keyIds(keys: readonly AccessKeyMetadata[]): string {
  return keys.length === 0 ? 'none' : keys.map((key) => key.accessKeyId).join(', ');
}

/**
 * Re-creates the administrator if it is missing, restores its AdministratorAccess policy, and
 * gives it a new access key written to the admin-credentials file (mode 0600), as init does.
 * With two keys already (IAM's quota), one must be named to be replaced: none is dropped silently.
 */
export async function recoverAdministrator(
  { users, inlinePolicies, authorizer }: AdministratorRecoveryStores,
  dataDir: string,
  { replaceAccessKeyId }: AdministratorRecoveryRequest,
): Promise<AdministratorRecovery> {
  const existing = await users.getUser(ADMIN_USER_NAME);
  const keys = existing ? await users.listAccessKeys(ADMIN_USER_NAME) : [];
  // Checked before anything changes, so that a refused recovery leaves the data dir as it was.
  if (
    replaceAccessKeyId !== undefined &&
    !keys.some((key) => key.accessKeyId === replaceAccessKeyId)
  )
    throw new BulwarkError(
      'NoSuchEntity',
      `${replaceAccessKeyId} is not an access key of ${ADMIN_USER_NAME} (its keys: ${keyIds(keys)}).`,
      { userName: ADMIN_USER_NAME, accessKeyId: replaceAccessKeyId },
    );
  if (replaceAccessKeyId === undefined && keys.length >= MAX_ACCESS_KEYS_PER_USER)
    throw new BulwarkError(
      'InvalidRequest',
      `${ADMIN_USER_NAME} already has ${keys.length} access keys (${keyIds(keys)}), the most IAM allows: name the one to delete with --replace-access-key ID.`,
      { userName: ADMIN_USER_NAME },
    );

  if (!existing) await users.createUser(ADMIN_USER_NAME);
  const holder: PolicyHolder = { type: 'user', name: ADMIN_USER_NAME };
  const current = (await inlinePolicies.all(holder)).find(
    (policy) => policy.policyName === ADMINISTRATOR_POLICY_NAME,
  );
  const policyRestored = current?.policyDocument !== ADMINISTRATOR_POLICY_DOCUMENT;
  if (policyRestored)
    await inlinePolicies.put(holder, ADMINISTRATOR_POLICY_NAME, ADMINISTRATOR_POLICY_DOCUMENT);
  if (replaceAccessKeyId !== undefined)
    await users.deleteAccessKey(ADMIN_USER_NAME, replaceAccessKeyId);
  const key = await users.createAccessKey(ADMIN_USER_NAME);
  const credentialsFile = writeAdminCredentials(dataDir, key);
  const denyingPolicies = (await authorizer.policiesOf(ADMIN_USER_NAME))
    .filter((policy) => policy.document.denies.length > 0)
    .map((policy) => policy.arn ?? policy.name);
  return {
    userCreated: !existing,
    policyRestored,
    ...(replaceAccessKeyId !== undefined ? { deletedAccessKeyId: replaceAccessKeyId } : {}),
    accessKeyId: key.accessKeyId,
    credentialsFile,
    denyingPolicies,
  };
}

/** A recovery as the audit trail will hold it, in CloudTrail's field names. */
export interface AdministratorRecoveryEvent {
  eventName: 'RecoverAdministrator';
  eventTime: string;
  /** Whoever ran the command: the operating-system account (and, under sudo, who invoked it). */
  userIdentity: { type: 'OperatingSystemUser'; userName: string; invokedBy?: string; host: string };
  requestParameters: { userName: string; replaceAccessKeyId?: string };
  responseElements?: AdministratorRecovery;
  errorCode?: string;
  errorMessage?: string;
}

/** The account running this process; a uid when it has no name (a container's arbitrary uid). */
function operatingSystemUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

/**
 * Records a recovery, refused or done. Until the audit trail exists (issue 8), the record is a WARN
 * line in the operational log; this is the one function to point at the trail then.
 */
export function recordAdministratorRecovery(
  logger: Logger,
  request: AdministratorRecoveryRequest,
  outcome: { recovery: AdministratorRecovery } | { error: unknown },
): AdministratorRecoveryEvent {
  const sudoUser = process.env.SUDO_USER;
  const event: AdministratorRecoveryEvent = {
    eventName: 'RecoverAdministrator',
    eventTime: new Date().toISOString(),
    userIdentity: {
      type: 'OperatingSystemUser',
      userName: operatingSystemUser(),
      ...(sudoUser ? { invokedBy: sudoUser } : {}),
      host: hostname(),
    },
    requestParameters: {
      userName: ADMIN_USER_NAME,
      ...(request.replaceAccessKeyId !== undefined
        ? { replaceAccessKeyId: request.replaceAccessKeyId }
        : {}),
    },
    ...('recovery' in outcome
      ? { responseElements: outcome.recovery }
      : {
          errorCode: isBulwarkError(outcome.error) ? outcome.error.code : 'InternalFailure',
          errorMessage: (outcome.error as Error).message,
        }),
  };
  logger.warn(
    event,
    'recovery' in outcome
      ? 'the administrator was recovered from the data dir'
      : 'an administrator recovery was refused or failed',
  );
  return event;
}
