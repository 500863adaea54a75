import type { Command } from 'commander';
import { servedActionCatalogue } from '../app/served-api.js';
import {
  ACCESS_REPORT_DAYS,
  AccessReports,
  accessReportShape,
  type AccessReport,
  type ReportedAction,
} from '../iam/access-report.js';
import { IamAuthorizer } from '../iam/authorize.js';
import { storedLastAccessOf } from '../iam/last-accessed.js';
import { createIamQueryServices } from '../iam/query/index.js';
import { action, invalidArgument, printJson, withDataDir, withDataDirOptions } from './common.js';

/** One action's line: what it is allowed on, unless everything, and its last use. */
function actionLine(entry: ReportedAction, width: number): string {
  const details = [
    ...(entry.allowed && !entry.allowedOn.includes('*')
      ? [`allowed on ${entry.allowedOn.join(', ')}`]
      : []),
    ...(entry.lastAccessed
      ? [
          `last used ${new Date(entry.lastAccessed.at).toISOString()} on ${entry.lastAccessed.resource}`,
        ]
      : []),
  ];
  return `  ${entry.action.padEnd(width)}  ${details.join('; ')}`.trimEnd();
}

/** The report for a reader: one section per kind of finding. */
function reportText(report: AccessReport): string {
  const sections: [string, ReportedAction[]][] = [
    ['Allowed and used', report.actions.filter((entry) => entry.allowed && entry.used)],
    [
      `Allowed but not used in ${report.days} days: candidates to remove`,
      report.actions.filter((entry) => entry.finding === 'UnusedPermission'),
    ],
    [
      'Allowed, no recorded use; uses over MQTT over WSS are not recorded, so it may be in use',
      report.actions.filter((entry) => entry.finding === 'UsageNotRecorded'),
    ],
    [
      'Used but no longer allowed',
      report.actions.filter((entry) => entry.finding === 'NoLongerAllowed'),
    ],
  ];
  const width = Math.max(0, ...report.actions.map((entry) => entry.action.length));
  const lines = [
    `Access report for ${report.userName} (${report.userArn})`,
    `Window: the last ${report.days} days, since ${report.usedSince.toISOString()}`,
  ];
  for (const [title, entries] of sections) {
    lines.push('', `${title} (${entries.length})${entries.length > 0 ? ':' : ''}`);
    for (const entry of entries) lines.push(actionLine(entry, width));
  }
  return `${lines.join('\n')}\n`;
}

/** `bulwark iam access-report`, added to the `iam` command. */
export function registerIamAccessReport(program: Command): void {
  const iam = program.commands.find((command) => command.name() === 'iam');
  if (!iam) throw new Error('internal: the iam command must be registered before its report');
  withDataDirOptions(iam.command('access-report'))
    .description(
      "who can do what: the actions a user's policies allow, those used in the last N days, and those not used (candidates to remove); safe while serve runs",
    )
    .requiredOption('--user <name>', 'the IAM user')
    .option(
      '--days <n>',
      `the window, ${ACCESS_REPORT_DAYS.min} to ${ACCESS_REPORT_DAYS.max} days`,
      String(ACCESS_REPORT_DAYS.default),
    )
    .option(
      '--json',
      'print the report as JSON, with the fields of the API action GetUserAccessReport',
    )
    .action(
      action(
        async (flags: {
          user: string;
          days: string;
          json?: boolean;
          dataDir?: string;
          config?: string;
        }) => {
          if (!/^\d{1,6}$/.test(flags.days))
            throw invalidArgument(
              `--days must be a whole number of days from ${ACCESS_REPORT_DAYS.min} to ${ACCESS_REPORT_DAYS.max}, not ${JSON.stringify(flags.days)}`,
            );
          await withDataDir(flags, async (dataDir, config) => {
            const iam = createIamQueryServices(dataDir.store, config.accountId);
            const reports = new AccessReports({
              authorizer: new IamAuthorizer(iam, config.region),
              users: iam.users,
              arns: iam.arns,
              // As a running server writes them: a first use within a second or so, a repeated
              // one at most a minute late.
              lastAccessed: { lastAccessOf: (user) => storedLastAccessOf(dataDir.store, user) },
            });
            const report = await reports.reportFor(
              flags.user,
              Number(flags.days),
              servedActionCatalogue(),
            );
            if (flags.json) printJson(accessReportShape(report));
            else process.stdout.write(reportText(report));
          });
        },
      ),
    );
}
