import { hostname, userInfo } from 'node:os';
import type { AuditEvent, AuditSink, UserIdentity } from '../audit/record.js';
import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import {
  ADMIN_USER_NAME,
  ADMINISTRATOR_POLICY_DOCUMENT,
  ADMINISTRATOR_POLICY_NAME,
  adminCredentialsPath,
  writeAdminCredentials,
} from './administrator.js';
import type { IamAuthorizer } from './authorize.js';
import type { IamInlinePolicies, PolicyHolder } from './inline-policies.js';
import {
  MAX_ACCESS_KEYS_PER_USER,
  type AccessKeyMetadata,
  type IamUsers,
  type NewAccessKey,
} from './users.js';

/**
 * The last resort when every administrator key is lost or the administrator's rights were taken
 * away (`bulwark iam recover-administrator`). No API reaches it: it needs local access to the
 * data dir and its root key, and every run, refused or not, is recorded in the audit trail (and
 * logged at WARN). A recovery the trail cannot record does not complete: it is undone before
 * the new key's secret is written anywhere.
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

/** Where and as whom a recovery is recorded. */
export interface AdministratorRecoveryAudit {
  sink: AuditSink;
  /** The local operator: the account's root, invoked by bulwark-cli. */
  userIdentity: UserIdentity;
  /** Who ran it on the machine (OS user, host). */
  additionalEventData: Record<string, unknown>;
  /** The WARN line beside the audit event. */
  logger: Logger;
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
 *
 * The order makes the audit event a condition of the recovery: the checks (a refusal is recorded
 * and changes nothing); the changes in the store; the event, written durably; only then the new
 * key's secret, to the file. If the event cannot be written, the changes are undone (the new key
 * deleted, the policy and the user as they were; a replaced key stays deleted) and the recovery
 * fails, its secret never written anywhere.
 */
export async function recoverAdministrator(
  { users, inlinePolicies, authorizer }: AdministratorRecoveryStores,
  dataDir: string,
  request: AdministratorRecoveryRequest,
  audit: AdministratorRecoveryAudit,
): Promise<{ recovery: AdministratorRecovery; record: AdministratorRecoveryEvent }> {
  const { replaceAccessKeyId } = request;
  const failed = async (error: unknown): Promise<never> => {
    recordAdministratorRecovery(audit.logger, request, { error });
    await audit.sink
      .record(recoveryAuditEvent(audit, request, { error }))
      .catch((recordError: unknown) =>
        audit.logger.error(
          { err: recordError },
          'the failed administrator recovery could not be recorded in the audit trail',
        ),
      );
    throw error;
  };
  const existing = await users.getUser(ADMIN_USER_NAME);
  const keys = existing ? await users.listAccessKeys(ADMIN_USER_NAME) : [];
  // Checked before anything changes, so that a refused recovery leaves the data dir as it was.
  if (
    replaceAccessKeyId !== undefined &&
    !keys.some((key) => key.accessKeyId === replaceAccessKeyId)
  )
    return failed(
      new BulwarkError(
        'NoSuchEntity',
        `${replaceAccessKeyId} is not an access key of ${ADMIN_USER_NAME} (its keys: ${keyIds(keys)}).`,
        { userName: ADMIN_USER_NAME, accessKeyId: replaceAccessKeyId },
      ),
    );
  if (replaceAccessKeyId === undefined && keys.length >= MAX_ACCESS_KEYS_PER_USER)
    return failed(
      new BulwarkError(
        'InvalidRequest',
        `${ADMIN_USER_NAME} already has ${keys.length} access keys (${keyIds(keys)}), the most IAM allows: name the one to delete with --replace-access-key ID.`,
        { userName: ADMIN_USER_NAME },
      ),
    );

  const holder: PolicyHolder = { type: 'user', name: ADMIN_USER_NAME };
  let previousPolicy: string | undefined;
  let policyRestored = false;
  let key: NewAccessKey | undefined;
  let recovery: AdministratorRecovery;
  try {
    if (!existing) await users.createUser(ADMIN_USER_NAME);
    previousPolicy = (await inlinePolicies.all(holder)).find(
      (policy) => policy.policyName === ADMINISTRATOR_POLICY_NAME,
    )?.policyDocument;
    if (previousPolicy !== ADMINISTRATOR_POLICY_DOCUMENT) {
      await inlinePolicies.put(holder, ADMINISTRATOR_POLICY_NAME, ADMINISTRATOR_POLICY_DOCUMENT);
      policyRestored = true;
    }
    if (replaceAccessKeyId !== undefined)
      await users.deleteAccessKey(ADMIN_USER_NAME, replaceAccessKeyId);
    key = await users.createAccessKey(ADMIN_USER_NAME);
    const denyingPolicies = (await authorizer.policiesOf(ADMIN_USER_NAME))
      .filter((policy) => policy.document.denies.length > 0)
      .map((policy) => policy.arn ?? policy.name);
    recovery = {
      userCreated: !existing,
      policyRestored,
      ...(replaceAccessKeyId !== undefined ? { deletedAccessKeyId: replaceAccessKeyId } : {}),
      accessKeyId: key.accessKeyId,
      credentialsFile: adminCredentialsPath(dataDir),
      denyingPolicies,
    };
  } catch (error) {
    return failed(error);
  }

  try {
    await audit.sink.record(recoveryAuditEvent(audit, request, { recovery }));
  } catch (recordError) {
    const undone = await undoRecovery(
      { users, inlinePolicies },
      { userCreated: !existing, policyRestored, previousPolicy, key },
    ).then(
      () => 'it was undone',
      (undoError: unknown) => `undoing it failed too (${(undoError as Error).message})`,
    );
    const error = new BulwarkError(
      'InternalFailure',
      `the administrator recovery could not be recorded in the audit trail (${(recordError as Error).message}), so ${undone}; no new key was written${replaceAccessKeyId !== undefined ? `, and ${replaceAccessKeyId} stays deleted` : ''}.`,
    );
    recordAdministratorRecovery(audit.logger, request, { error });
    throw error;
  }
  writeAdminCredentials(dataDir, key);
  return { recovery, record: recordAdministratorRecovery(audit.logger, request, { recovery }) };
}

/** Puts the store back as it was before a recovery whose event could not be written. */
async function undoRecovery(
  { users, inlinePolicies }: Pick<AdministratorRecoveryStores, 'users' | 'inlinePolicies'>,
  done: {
    userCreated: boolean;
    policyRestored: boolean;
    previousPolicy: string | undefined;
    key: NewAccessKey;
  },
): Promise<void> {
  const holder: PolicyHolder = { type: 'user', name: ADMIN_USER_NAME };
  await users.deleteAccessKey(ADMIN_USER_NAME, done.key.accessKeyId);
  if (done.policyRestored) {
    if (done.previousPolicy !== undefined)
      await inlinePolicies.put(holder, ADMINISTRATOR_POLICY_NAME, done.previousPolicy);
    else await inlinePolicies.delete(holder, ADMINISTRATOR_POLICY_NAME);
  }
  if (done.userCreated) await users.deleteUser(ADMIN_USER_NAME);
}

/** The recovery's audit event: CloudTrail's shape, the new key named, no secret. */
function recoveryAuditEvent(
  audit: AdministratorRecoveryAudit,
  request: AdministratorRecoveryRequest,
  outcome: { recovery: AdministratorRecovery } | { error: unknown },
): AuditEvent {
  return {
    eventSource: 'iam.amazonaws.com',
    eventName: 'RecoverAdministrator',
    eventType: 'AwsApiCall',
    readOnly: false,
    userIdentity: audit.userIdentity,
    // Run beside the data dir: no network hop.
    sourceIPAddress: '127.0.0.1',
    userAgent: audit.userIdentity.invokedBy ?? 'bulwark-cli',
    requestParameters: {
      userName: ADMIN_USER_NAME,
      ...(request.replaceAccessKeyId !== undefined
        ? { replaceAccessKeyId: request.replaceAccessKeyId }
        : {}),
    },
    ...('recovery' in outcome
      ? { responseElements: { ...outcome.recovery } }
      : {
          errorCode: isBulwarkError(outcome.error) ? outcome.error.awsType : 'InternalFailure',
          errorMessage: (outcome.error as Error).message,
        }),
    additionalEventData: audit.additionalEventData,
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
export function operatingSystemUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? 'unknown'}`;
  }
}

/**
 * The WARN line of a recovery, refused or done, in the operational log (the audit trail holds
 * the event itself): no log level silences it.
 */
function recordAdministratorRecovery(
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
