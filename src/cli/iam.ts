import { Option, type Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IamUserCaller } from '../api/operation.js';
import type { Config } from '../config/index.js';
import { ADMIN_USER_NAME, ADMINISTRATOR_POLICY_NAME } from '../iam/administrator.js';
import {
  recoverAdministrator,
  type AdministratorRecovery,
  type AdministratorRecoveryEvent,
} from '../iam/administrator-recovery.js';
import { IamAuthorizer } from '../iam/authorize.js';
import { CREDENTIAL_USER_REFERENCES } from '../iam/credential-migrations.js';
import {
  createIamQueryServices,
  iamQueryActions,
  type IamQueryServices,
  type QueryContext,
  type QueryParams,
  type XmlObject,
  type XmlValue,
} from '../iam/query/index.js';
import { FieldGuard, sensitiveDataWarningHeader } from '../guard/field-guard.js';
import { Guard } from '../guard/guard.js';
import { createLogger } from '../logs/logger.js';
import { CliAudit, cliUserIdentity, operatorFacts, withCliAudit } from './cli-audit.js';
import { action, invalidArgument, printJson, withDataDir, withDataDirOptions } from './common.js';

/** A command's parsed flags: `--data-dir`, `--config` and its own. */
type IamFlags = { dataDir?: string; config?: string } & Record<string, unknown>;

interface OpenIam {
  config: Config;
  /** The same stores `serve` builds, over the same data dir: each reads the store on every call. */
  services: IamQueryServices;
  /** Every action is recorded in the data dir's audit trail, as the root invoked by bulwark-cli. */
  audit: CliAudit;
}

/** Opens the data dir (never creating one) and its audit trail for the duration of `work`. */
function withIam(flags: IamFlags, work: (iam: OpenIam) => Promise<void>): Promise<void> {
  return withDataDir(flags, (dataDir, config) =>
    withCliAudit(dataDir, config, (audit) =>
      work({
        config,
        // DeleteUser waits for login profiles and MFA devices here as it does through the API.
        services: createIamQueryServices(dataDir.store, config.accountId, {
          userReferences: CREDENTIAL_USER_REFERENCES,
        }),
        audit,
      }),
    ),
  );
}

const IAM_EVENT_SOURCE = 'iam.amazonaws.com';

/** `UserName` → `userName`: CloudTrail's request parameters and response elements are camelCase. */
function camelCase(name: string): string {
  return name.replace(/^[A-Z]+(?=[A-Z][a-z]|$)|^[A-Z]/, (head) => head.toLowerCase());
}

/** An XML result as CloudTrail's response elements: camelCase keys, dates as ISO strings. */
function responseElementsOf(value: XmlValue): unknown {
  if (Array.isArray(value)) return value.map(responseElementsOf);
  if (value instanceof Date) return value.toISOString();
  if (typeof value !== 'object' || value === undefined) return value;
  return Object.fromEntries(
    Object.entries(value).map(([name, field]) => [camelCase(name), responseElementsOf(field)]),
  );
}

/**
 * The commands call the Query API's own actions, so that validation, errors and result shapes are
 * the API's. Local access to the data dir and its root key is the authority here: no caller is
 * authenticated or authorized, and since every command names the user it acts on, no action
 * falls back to the caller's own name.
 */
const NO_CALLER: IamUserCaller = {
  type: 'IAMUser',
  userName: '',
  arn: '',
  accessKeyId: '',
  principalId: '',
  mfaAuthenticated: false,
};

function localContext(config: Config): QueryContext {
  return {
    caller: NO_CALLER,
    accountId: config.accountId,
    region: config.region,
    requestId: randomUUID(),
    // No network hop: the command runs beside the data dir.
    sourceIp: '',
    userAgent: 'bulwark-cli',
  };
}

/** A flag of a command, and the Query parameter it gives. */
interface ParamFlag {
  /** Commander's syntax, e.g. `--user <name>`. */
  flags: string;
  description: string;
  param: string;
  required: boolean;
  /** The parameter's value from the flag's (default: the flag's text as given). */
  value?(given: string | true): string;
}

/** `--policy-document` as the AWS CLI takes it: the JSON itself, or `file://PATH` to read it. */
function policyDocumentText(given: string | true): string {
  const text = String(given);
  if (!text.startsWith('file://')) return text;
  const path = text.slice('file://'.length);
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw invalidArgument(
      `--policy-document: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

const USER: ParamFlag = {
  flags: '--user <name>',
  description: 'the IAM user',
  param: 'UserName',
  required: true,
};
const GROUP: ParamFlag = {
  flags: '--group <name>',
  description: 'the IAM group',
  param: 'GroupName',
  required: true,
};
const POLICY_NAME: ParamFlag = {
  flags: '--policy-name <name>',
  description: 'the policy',
  param: 'PolicyName',
  required: true,
};
const POLICY_DOCUMENT: ParamFlag = {
  flags: '--policy-document <json>',
  description: 'the IAM policy: its JSON, or file://PATH to read it from a file',
  param: 'PolicyDocument',
  required: true,
  value: policyDocumentText,
};
const POLICY_ARN: ParamFlag = {
  flags: '--policy-arn <arn>',
  description: 'the managed policy, arn:aws:iam::ACCOUNT:policy/NAME',
  param: 'PolicyArn',
  required: true,
};
const ACCESS_KEY_ID: ParamFlag = {
  flags: '--access-key-id <id>',
  description: 'the key, AKIA…',
  param: 'AccessKeyId',
  required: true,
};

/** A command that is one Query API call. */
interface QueryCommand {
  name: string;
  description: string;
  /** The IAM Query action it calls, e.g. CreateUser. */
  action: string;
  flags: ParamFlag[];
  /** For list calls: the element whose members are gathered from every page, as the AWS CLI does. */
  list?: string;
}

const USER_COMMANDS: QueryCommand[] = [
  { name: 'create-user', description: 'create an IAM user', action: 'CreateUser', flags: [USER] },
  {
    name: 'list-users',
    description: 'list the IAM users',
    action: 'ListUsers',
    flags: [],
    list: 'Users',
  },
  {
    name: 'delete-user',
    description:
      'delete a user; refused while it has access keys, policies, groups, a login profile or MFA devices',
    action: 'DeleteUser',
    flags: [USER],
  },
];

const GROUP_COMMANDS: QueryCommand[] = [
  {
    name: 'create-group',
    description: 'create an IAM group',
    action: 'CreateGroup',
    flags: [GROUP],
  },
  {
    name: 'list-groups',
    description: 'list the IAM groups',
    action: 'ListGroups',
    flags: [],
    list: 'Groups',
  },
  {
    name: 'delete-group',
    description: 'delete a group; refused while it has members or policies',
    action: 'DeleteGroup',
    flags: [GROUP],
  },
  {
    name: 'add-user-to-group',
    description: "add a user to a group: the group's policies apply to it",
    action: 'AddUserToGroup',
    flags: [GROUP, USER],
  },
  {
    name: 'remove-user-from-group',
    description: 'remove a user from a group',
    action: 'RemoveUserFromGroup',
    flags: [GROUP, USER],
  },
];

const INLINE_POLICY_COMMANDS: QueryCommand[] = [
  {
    name: 'put-user-policy',
    description: "add or replace one of a user's inline policies",
    action: 'PutUserPolicy',
    flags: [USER, POLICY_NAME, POLICY_DOCUMENT],
  },
  {
    name: 'put-group-policy',
    description: "add or replace one of a group's inline policies",
    action: 'PutGroupPolicy',
    flags: [GROUP, POLICY_NAME, POLICY_DOCUMENT],
  },
  {
    name: 'delete-user-policy',
    description: "delete one of a user's inline policies",
    action: 'DeleteUserPolicy',
    flags: [USER, POLICY_NAME],
  },
  {
    name: 'delete-group-policy',
    description: "delete one of a group's inline policies",
    action: 'DeleteGroupPolicy',
    flags: [GROUP, POLICY_NAME],
  },
  {
    name: 'list-user-policies',
    description: "list the names of a user's inline policies",
    action: 'ListUserPolicies',
    flags: [USER],
    list: 'PolicyNames',
  },
];

const MANAGED_POLICY_COMMANDS: QueryCommand[] = [
  {
    name: 'create-policy',
    description: 'create a managed policy, to attach to users and groups',
    action: 'CreatePolicy',
    flags: [
      POLICY_NAME,
      POLICY_DOCUMENT,
      {
        flags: '--description <text>',
        description: 'what the policy is for',
        param: 'Description',
        required: false,
      },
    ],
  },
  {
    name: 'list-policies',
    description: 'list the managed policies',
    action: 'ListPolicies',
    flags: [
      {
        flags: '--only-attached',
        description: 'only those attached to a user or group',
        param: 'OnlyAttached',
        required: false,
        value: () => 'true',
      },
    ],
    list: 'Policies',
  },
  {
    name: 'delete-policy',
    description: 'delete a managed policy; refused while it is attached',
    action: 'DeletePolicy',
    flags: [POLICY_ARN],
  },
  ...(['user', 'group'] as const).flatMap((holder): QueryCommand[] => {
    const noun = holder === 'user' ? 'User' : 'Group';
    const flags = [holder === 'user' ? USER : GROUP, POLICY_ARN];
    return [
      {
        name: `attach-${holder}-policy`,
        description: `attach a managed policy to a ${holder}`,
        action: `Attach${noun}Policy`,
        flags,
      },
      {
        name: `detach-${holder}-policy`,
        description: `detach a managed policy from a ${holder}`,
        action: `Detach${noun}Policy`,
        flags,
      },
    ];
  }),
  {
    name: 'list-attached-user-policies',
    description: 'list the managed policies attached to a user',
    action: 'ListAttachedUserPolicies',
    flags: [USER],
    list: 'AttachedPolicies',
  },
];

const ACCESS_KEY_COMMANDS: QueryCommand[] = [
  {
    name: 'list-access-keys',
    description: "list a user's access keys (never their secrets)",
    action: 'ListAccessKeys',
    flags: [USER],
    list: 'AccessKeyMetadata',
  },
  {
    name: 'update-access-key',
    description: 'make a key Inactive (its requests are refused) or Active again',
    action: 'UpdateAccessKey',
    flags: [
      USER,
      ACCESS_KEY_ID,
      {
        flags: '--status <status>',
        description: 'Active or Inactive',
        param: 'Status',
        required: true,
      },
    ],
  },
  {
    name: 'delete-access-key',
    description: 'delete an access key; requests signed with it fail from then on',
    action: 'DeleteAccessKey',
    flags: [USER, ACCESS_KEY_ID],
  },
];

/** Every page of a list call, gathered as the AWS CLI does: `{ [element]: [...] }`. */
async function allPages(
  call: (params: QueryParams) => Promise<XmlObject | undefined>,
  params: QueryParams,
  element: string,
): Promise<XmlObject> {
  const members: XmlValue[] = [];
  let marker: string | undefined;
  do {
    const page = await call({ ...params, MaxItems: '1000', ...(marker ? { Marker: marker } : {}) });
    members.push(...((page?.[element] ?? []) as XmlValue[]));
    marker = page?.Marker as string | undefined;
  } while (marker !== undefined);
  return { [element]: members };
}

function registerQueryCommand(iam: Command, spec: QueryCommand): void {
  const command = withDataDirOptions(iam.command(spec.name)).description(spec.description);
  const options = spec.flags.map((flag) => {
    const option = new Option(flag.flags, flag.description).makeOptionMandatory(flag.required);
    command.addOption(option);
    return { flag, attribute: option.attributeName() };
  });
  command.action(
    action(async (flags: IamFlags) => {
      // Read first (a policy file, say), so bad input stops before the data dir is opened.
      const params: Record<string, string> = {};
      for (const { flag, attribute } of options) {
        const given = flags[attribute] as string | true | undefined;
        if (given !== undefined)
          params[flag.param] = flag.value ? flag.value(given) : String(given);
      }
      await withIam(flags, async ({ config, services, audit }) => {
        const queryAction = iamQueryActions(services).find(
          (candidate) => candidate.service === 'iam' && candidate.name === spec.action,
        );
        if (!queryAction) throw new Error(`internal: no IAM Query action ${spec.action}`);
        // The names and descriptions a command writes are guarded as the API's are.
        const fieldGuard = new FieldGuard(new Guard(config.guard));
        const call = (callParams: QueryParams) => {
          const warnings = queryAction.freeFormFields
            ? fieldGuard.check(queryAction.freeFormFields(callParams))
            : [];
          if (warnings.length > 0)
            process.stderr.write(
              `bulwark: warning: sensitive data in ${sensitiveDataWarningHeader(warnings)}\n`,
            );
          return queryAction.handle(callParams, localContext(config));
        };
        const result = await audit.run(
          {
            eventSource: IAM_EVENT_SOURCE,
            eventName: spec.action,
            readOnly: queryAction.readOnly,
            // None at all is null, as CloudTrail writes it.
            requestParameters:
              Object.keys(params).length === 0
                ? null
                : Object.fromEntries(
                    Object.entries(params).map(([name, value]) => [camelCase(name), value]),
                  ),
          },
          () => (spec.list ? allPages(call, params, spec.list) : call(params)),
          {
            response: (done) =>
              done ? (responseElementsOf(done) as Record<string, unknown>) : null,
          },
        );
        // Calls without a result (DeleteUser, …) print nothing, as the AWS CLI does.
        if (result) printJson(result);
      });
    }),
  );
}

/** What the operator reads on stderr, whatever else scrolls by: a recovery is never quiet. */
function recoveryNotice(
  event: AdministratorRecoveryEvent,
  recovery: AdministratorRecovery,
): string {
  const { userName, invokedBy } = event.userIdentity;
  const lines = [
    `bulwark: THE ADMINISTRATOR WAS RECOVERED by the OS user ${userName}${invokedBy ? ` (through sudo, by ${invokedBy})` : ''} at ${event.eventTime}; the audit trail records it as RecoverAdministrator`,
    ...(recovery.userCreated
      ? [`  the user ${ADMIN_USER_NAME} was missing and is created again`]
      : []),
    recovery.policyRestored
      ? `  its ${ADMINISTRATOR_POLICY_NAME} policy is restored`
      : `  its ${ADMINISTRATOR_POLICY_NAME} policy was intact`,
    ...(recovery.deletedAccessKeyId
      ? [`  its access key ${recovery.deletedAccessKeyId} is deleted`]
      : []),
    `  new access key ${recovery.accessKeyId}: the secret is in ${recovery.credentialsFile} (mode 0600); keep it safe and delete the file`,
    ...(recovery.denyingPolicies.length > 0
      ? [
          `  warning: Deny statements in ${recovery.denyingPolicies.join(', ')} still override ${ADMINISTRATOR_POLICY_NAME}; review them (bulwark iam delete-user-policy, detach-user-policy, remove-user-from-group)`,
        ]
      : []),
  ];
  return lines.join('\n') + '\n';
}

function registerRecoverAdministrator(iam: Command): void {
  withDataDirOptions(iam.command('recover-administrator'))
    .description(
      `last resort when every administrator key is lost or its rights were removed: re-creates ${ADMIN_USER_NAME} if missing, restores its ${ADMINISTRATOR_POLICY_NAME} policy and writes a new access key to DIR/admin-credentials.json (mode 0600); needs the data dir and its root key; recorded in the audit trail (refused if it cannot be) and the log`,
    )
    .option(
      '--replace-access-key <id>',
      `delete this key of ${ADMIN_USER_NAME} first; required when it already has 2`,
    )
    .action(
      action(async (flags: IamFlags) =>
        withIam(flags, async ({ config, services, audit }) => {
          const request =
            flags.replaceAccessKey === undefined
              ? {}
              : { replaceAccessKeyId: flags.replaceAccessKey as string };
          const { recovery, record } = await recoverAdministrator(
            {
              users: services.users,
              inlinePolicies: services.inlinePolicies,
              authorizer: new IamAuthorizer(services, config.region),
            },
            config.dataDir,
            request,
            {
              sink: audit.sink,
              userIdentity: cliUserIdentity(config.accountId),
              additionalEventData: operatorFacts(),
              // The WARN line beside the audit event, which no log level silences.
              logger: createLogger('WARN', new Guard(config.guard).redaction),
            },
          );
          process.stderr.write(recoveryNotice(record, recovery));
          printJson({ userName: ADMIN_USER_NAME, ...recovery });
        }),
      ),
    );
}

export function registerIam(program: Command): void {
  const iam = program
    .command('iam')
    .description(
      'IAM on the data dir, for operators without the AWS CLI: users, groups, policies, access keys, and the administrator recovery',
    );

  for (const spec of [
    ...USER_COMMANDS,
    ...GROUP_COMMANDS,
    ...INLINE_POLICY_COMMANDS,
    ...MANAGED_POLICY_COMMANDS,
  ])
    registerQueryCommand(iam, spec);

  withDataDirOptions(iam.command('create-access-key'))
    .description('create an access key for a user (at most 2 each); the secret is shown only now')
    .requiredOption('--user <name>', 'the IAM user, e.g. admin')
    .option('--json', 'print {"AccessKeyId":…,"SecretAccessKey":…} on one line')
    .action(
      action(async (flags: IamFlags) =>
        withIam(flags, async ({ services, audit }) => {
          const userName = flags.user as string;
          // The secret is shown only once the event is written; if it cannot be, the key goes.
          const key = await audit.run(
            {
              eventSource: IAM_EVENT_SOURCE,
              eventName: 'CreateAccessKey',
              readOnly: false,
              requestParameters: { userName },
            },
            () => services.users.createAccessKey(userName),
            {
              response: (created) => ({
                accessKey: {
                  userName: created.userName,
                  accessKeyId: created.accessKeyId,
                  status: 'Active',
                  createDate: created.createDate.toISOString(),
                },
              }),
              undo: (created) => services.users.deleteAccessKey(userName, created.accessKeyId),
            },
          );
          if (flags.json)
            process.stdout.write(
              JSON.stringify({
                AccessKeyId: key.accessKeyId,
                SecretAccessKey: key.secretAccessKey,
              }) + '\n',
            );
          else
            process.stdout.write(
              `AccessKeyId     ${key.accessKeyId}\nSecretAccessKey ${key.secretAccessKey}\n`,
            );
        }),
      ),
    );
  for (const spec of ACCESS_KEY_COMMANDS) registerQueryCommand(iam, spec);

  registerRecoverAdministrator(iam);
}
