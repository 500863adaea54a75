import { BulwarkError } from '../errors.js';
import type { CataloguedAction } from './action-catalogue.js';
import type { IamArns } from './arns.js';
import type { IamAuthorizer, LoadedIamPolicy } from './authorize.js';
import type { LastAccess, LastAccessedSource } from './last-accessed.js';
import { TEMPORARY_KEY_PREFIX } from './sessions.js';
import type { IamUsers } from './users.js';

/**
 * The "who can do what" report (IAM Access Analyzer's unused-access findings, from Bulwark's own
 * last-accessed data): for one user, every action its policies allow, the ones used within the
 * last N days, the allowed ones not used (candidates to remove) and the used ones no longer
 * allowed.
 *
 * "Allowed" is judged by the same evaluation every request goes through, approximated in two
 * ways, as a report about no particular request must be:
 * - Resources: an action counts as allowed if the policies allow it on at least one of `*`, the
 *   resources the user's policy statements name (with `${aws:username}` filled in) and the
 *   resource the action was last used on. An allow on a resource only a policy variable other
 *   than `${aws:username}` names is not seen.
 * - Conditions: as a request made now with MFA-authenticated session credentials over HTTPS,
 *   the most a user's own credentials can do; keys no report can know (`aws:SourceIp`, request
 *   keys) are absent, so an allow that needs one is not seen and a deny that needs one does not
 *   apply.
 */

/** The window, in days (Access Analyzer's unused-access window). */
export const ACCESS_REPORT_DAYS = { min: 1, max: 180, default: 90 } as const;
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * `UnusedPermission`: allowed, not used in the window (a candidate to remove).
 * `UsageNotRecorded`: allowed, no recorded use, but some of its uses go unrecorded (MQTT over WSS).
 * `NoLongerAllowed`: used in the window, no longer allowed.
 */
export type AccessFinding = 'UnusedPermission' | 'UsageNotRecorded' | 'NoLongerAllowed';

export interface ReportedAction {
  action: string;
  allowed: boolean;
  /** The resources, of those tried, on which the policies allow the action. */
  allowedOn: string[];
  /** Whether its last use falls within the window. */
  used: boolean;
  /** Its last recorded use, if any, even before the window. */
  lastAccessed?: LastAccess;
  finding?: AccessFinding;
}

export interface AccessReport {
  userName: string;
  userArn: string;
  generatedAt: Date;
  days: number;
  /** Uses from this time on count as used. */
  usedSince: Date;
  /** The catalogued actions allowed, and every action used in the window; sorted by name. */
  actions: ReportedAction[];
}

/** The resources named by the Resource elements of the statements of `policies`. */
function resourcesNamedIn(policies: readonly LoadedIamPolicy[], userName: string): Set<string> {
  const resources = new Set<string>();
  for (const policy of policies) {
    // The document parsed when it was stored and again when loaded: its shape is sound.
    const { Statement } = JSON.parse(policy.text) as { Statement: unknown };
    for (const statement of (Array.isArray(Statement) ? Statement : [Statement]) as {
      Resource?: string | string[];
    }[]) {
      const named = statement.Resource;
      for (const resource of named === undefined ? [] : Array.isArray(named) ? named : [named]) {
        resources.add(resource);
        resources.add(resource.replaceAll('${aws:username}', userName));
      }
    }
  }
  return resources;
}

export class AccessReports {
  constructor(
    private readonly options: {
      authorizer: IamAuthorizer;
      users: IamUsers;
      arns: IamArns;
      lastAccessed: LastAccessedSource;
      now?: () => number;
    },
  ) {}

  /**
   * The report for `userName` over the last `days` days, judging each action of `catalogue`.
   * Throws NoSuchEntity for an unknown user, InvalidInput for a window out of range.
   */
  async reportFor(
    userName: string,
    days: number,
    catalogue: readonly CataloguedAction[],
  ): Promise<AccessReport> {
    const { min, max } = ACCESS_REPORT_DAYS;
    if (!Number.isInteger(days) || days < min || days > max)
      throw new BulwarkError(
        'InvalidInput',
        `The report's window must be a whole number of days from ${min} to ${max}, not ${days}.`,
      );
    const { authorizer, users, arns, lastAccessed } = this.options;
    const user = await users.requireUser(userName);
    const now = (this.options.now ?? Date.now)();
    const usedSince = now - days * DAY_MS;
    const userArn = arns.user(user.userName);
    const policies = await authorizer.policiesOf(user.userName);
    const named = resourcesNamedIn(policies, user.userName);
    const caller = {
      arn: userArn,
      principalId: user.userId,
      userName: user.userName,
      accessKeyId: `${TEMPORARY_KEY_PREFIX}ACCESSREPORT`,
      mfaAuthenticatedAt: now,
    };
    const uses = new Map((await lastAccessed.lastAccessOf(user)).map((use) => [use.action, use]));
    const usageRecorded = new Map(catalogue.map((entry) => [entry.action, entry.usageRecorded]));
    const actions: ReportedAction[] = [];
    for (const action of new Set([...usageRecorded.keys(), ...uses.keys()])) {
      const lastUse = uses.get(action);
      const tried = new Set(['*', ...named, ...(lastUse ? [lastUse.resource] : [])]);
      const allowedOn = [...tried].filter(
        (resource) => authorizer.decide(policies, caller, action, resource).decision === 'allowed',
      );
      const allowed = allowedOn.length > 0;
      const used = lastUse !== undefined && lastUse.at >= usedSince;
      if (!allowed && !used) continue;
      const finding: AccessFinding | undefined = !allowed
        ? 'NoLongerAllowed'
        : used
          ? undefined
          : (usageRecorded.get(action) ?? true)
            ? 'UnusedPermission'
            : 'UsageNotRecorded';
      actions.push({
        action,
        allowed,
        allowedOn,
        used,
        ...(lastUse ? { lastAccessed: lastUse } : {}),
        ...(finding ? { finding } : {}),
      });
    }
    actions.sort((a, b) => (a.action < b.action ? -1 : a.action > b.action ? 1 : 0));
    return {
      userName: user.userName,
      userArn,
      generatedAt: new Date(now),
      days,
      usedSince: new Date(usedSince),
      actions,
    };
  }
}

/**
 * The report as the Query API and `bulwark iam access-report --json` give it: IAM's PascalCase,
 * times in ISO 8601.
 */
export function accessReportShape(report: AccessReport) {
  return {
    UserName: report.userName,
    UserArn: report.userArn,
    GeneratedAt: report.generatedAt,
    Days: report.days,
    UsedSince: report.usedSince,
    Actions: report.actions.map((entry) => ({
      Action: entry.action,
      Allowed: entry.allowed,
      AllowedOn: entry.allowedOn,
      Used: entry.used,
      LastAccessedTime: entry.lastAccessed && new Date(entry.lastAccessed.at),
      LastAccessedResource: entry.lastAccessed?.resource,
      Finding: entry.finding,
    })),
  };
}
