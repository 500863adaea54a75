/**
 * The audit trail of `bulwark` commands that act on a data dir (`iam …`, `kms …`). Whoever holds
 * the data dir and its root key acts as the account's root: each action is recorded as a call by
 * `Root`, invoked by `bulwark-cli`, with the operating-system user who ran it, success or failure.
 * The command's trail writes no digests: the server's next digest covers its events.
 */
import { hostname } from 'node:os';
import type { OpenDataDir } from '../app/data-dir.js';
import { AuditTrail } from '../audit/trail.js';
import type { AuditEvent, AuditResource, AuditSink, UserIdentity } from '../audit/record.js';
import type { Config } from '../config/index.js';
import { BulwarkError, isBulwarkError } from '../errors.js';
import { Guard } from '../guard/guard.js';
import { operatingSystemUser } from '../iam/administrator-recovery.js';
import { createLogger } from '../logs/logger.js';

/** The `invokedBy` of every event a command records. */
export const CLI_INVOKED_BY = 'bulwark-cli';

/** The account's root acting through the data dir, as CloudTrail names the root user. */
export function cliUserIdentity(accountId: string): UserIdentity {
  return {
    type: 'Root',
    principalId: accountId,
    arn: `arn:aws:iam::${accountId}:root`,
    accountId,
    invokedBy: CLI_INVOKED_BY,
  };
}

/** Who ran the command on this machine (under sudo, also who invoked sudo). */
export function operatorFacts(): Record<string, string> {
  const sudoUser = process.env.SUDO_USER;
  return {
    osUser: operatingSystemUser(),
    ...(sudoUser ? { sudoUser } : {}),
    host: hostname(),
  };
}

/** One command's action, as its event names it. */
export interface CliCall {
  eventSource:
    | 'iam.amazonaws.com'
    | 'kms.amazonaws.com'
    | 'cloudtrail.amazonaws.com'
    | 'bulwark.amazonaws.com';
  /** AWS's action name (CreateUser, ScheduleKeyDeletion, …), or Bulwark's where AWS has none. */
  eventName: string;
  readOnly: boolean;
  /** Only what the action needs; never a secret (the trail hides known secret names anyway). */
  requestParameters?: Record<string, unknown> | null;
  resources?: AuditResource[];
}

export interface RunOptions<T> {
  /** What the event keeps of a result (CloudTrail keeps responses of mutating calls only). */
  response?(result: T): Record<string, unknown> | null;
  /**
   * Reverses the action when its event cannot be written, so that the command fails without
   * leaving it done (a new access key whose secret nobody saw is deleted again).
   */
  undo?(result: T): Promise<void>;
}

function errorCodeOf(error: unknown): string {
  return isBulwarkError(error) ? error.awsType : 'InternalFailure';
}

/** A command's writer of the trail. */
export class CliAudit {
  readonly sink: AuditSink;
  private readonly trail: AuditTrail;
  private readonly accountId: string;

  private constructor(trail: AuditTrail, accountId: string) {
    this.trail = trail;
    this.sink = trail;
    this.accountId = accountId;
  }

  static async open(dataDir: OpenDataDir, config: Config): Promise<CliAudit> {
    const { redaction } = new Guard(config.guard);
    const trail = await AuditTrail.open({
      store: dataDir.store,
      stream: config.audit.stream,
      account: { region: config.region, accountId: config.accountId },
      logger: createLogger('WARN', redaction),
      redaction,
    });
    return new CliAudit(trail, config.accountId);
  }

  /** The event of `call`, done (with its response) or failed (with its error). */
  eventOf(
    call: CliCall,
    outcome: { response: Record<string, unknown> | null } | { error: unknown },
  ): AuditEvent {
    return {
      eventSource: call.eventSource,
      eventName: call.eventName,
      eventType: 'AwsApiCall',
      readOnly: call.readOnly,
      userIdentity: cliUserIdentity(this.accountId),
      // The command runs beside the data dir: no network hop.
      sourceIPAddress: '127.0.0.1',
      userAgent: CLI_INVOKED_BY,
      requestParameters: call.requestParameters ?? null,
      ...('error' in outcome
        ? {
            errorCode: errorCodeOf(outcome.error),
            errorMessage: (outcome.error as Error).message,
            responseElements: null,
          }
        : { responseElements: call.readOnly ? null : outcome.response }),
      additionalEventData: operatorFacts(),
      ...(call.resources ? { resources: call.resources } : {}),
    };
  }

  /**
   * Runs `work` and records it. A failure is recorded, then thrown as it was. A success whose
   * event cannot be written is undone when `undo` says how, and the command fails either way:
   * no command reports an action the trail does not hold.
   */
  async run<T>(call: CliCall, work: () => Promise<T>, options: RunOptions<T> = {}): Promise<T> {
    let result: T;
    try {
      result = await work();
    } catch (error) {
      await this.trail.record(this.eventOf(call, { error })).catch((recordError: unknown) => {
        process.stderr.write(
          `bulwark: the audit trail could not record the failed ${call.eventName}: ${(recordError as Error).message}\n`,
        );
      });
      throw error;
    }
    try {
      await this.trail.record(
        this.eventOf(call, { response: options.response ? options.response(result) : null }),
      );
    } catch (recordError) {
      if (options.undo) {
        await options.undo(result);
        throw new BulwarkError(
          'InternalFailure',
          `${call.eventName} was undone: the audit trail could not record it (${(recordError as Error).message})`,
        );
      }
      throw new BulwarkError(
        'InternalFailure',
        `${call.eventName} was done, but the audit trail could not record it (${(recordError as Error).message})`,
      );
    }
    return result;
  }

  /** Waits for every event to be written. */
  close(): Promise<void> {
    return this.trail.close();
  }
}

/** Opens the trail on an open data dir for the duration of `work`. */
export async function withCliAudit<T>(
  dataDir: OpenDataDir,
  config: Config,
  work: (audit: CliAudit) => Promise<T>,
): Promise<T> {
  const audit = await CliAudit.open(dataDir, config);
  try {
    return await work(audit);
  } finally {
    await audit.close();
  }
}
