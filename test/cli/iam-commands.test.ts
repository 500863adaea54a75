// `bulwark iam …` on the data dir, for operators without the AWS CLI: the IAM Query API's
// validation, errors and result shapes, effective at once while `serve` runs; and the last-resort
// recovery of the administrator, refused without a key to replace, recorded, and never quiet.
import {
  CreateThingCommand,
  DeleteThingCommand,
  DescribeThingCommand,
  ListThingsCommand,
} from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { adminCredentials, iotClient, type AwsCredentials } from '../helpers/aws-api.js';
import {
  EPHEMERAL_PORTS,
  fileCleanup,
  runCli,
  startServer,
  type CliResult,
  type RunningServer,
} from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const dir = tempDir(files, 'bulwark-iam-cli-');
const dataDir = join(dir, 'data');
let server: RunningServer;

before(async () => {
  server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
});

/** What a command printed, read loosely: each test checks the fields it needs. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each command prints its own shape
type CliJson = Record<string, any>;

/** `bulwark iam ARGS --data-dir DIR` on `dir` (default: the running server's). */
function iam(args: string[], onDataDir = dataDir): CliResult {
  return runCli(['iam', ...args, '--data-dir', onDataDir]);
}

/** A command that must succeed; its JSON output, or undefined when it prints nothing. */
function ok(args: string[], onDataDir = dataDir): CliJson | undefined {
  const result = iam(args, onDataDir);
  assert.equal(result.status, 0, `bulwark iam ${args.join(' ')}: ${result.stderr}`);
  return result.stdout === '' ? undefined : (JSON.parse(result.stdout) as CliJson);
}

/** A command that must fail with `status` and say `message` (as `bulwark: …`) on stderr only. */
/** Runs a command that must fail; its stderr. */
function fails(args: string[], status: number, message: RegExp): string {
  const result = iam(args);
  assert.equal(result.status, status, `bulwark iam ${args.join(' ')}: ${result.stderr}`);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, message);
  return result.stderr;
}

function newAccessKey(userName: string, onDataDir = dataDir): AwsCredentials {
  const result = iam(['create-access-key', '--user', userName, '--json'], onDataDir);
  assert.equal(result.status, 0, result.stderr);
  const key = JSON.parse(result.stdout) as { AccessKeyId: string; SecretAccessKey: string };
  return { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
}

async function errorName(call: Promise<unknown>): Promise<string> {
  const error = await call.then(
    () => assert.fail('the call succeeded'),
    (failure: { name?: string }) => failure,
  );
  return error.name as string;
}

function policy(effect: 'Allow' | 'Deny', action: string): string {
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: effect, Action: action, Resource: '*' }],
  });
}

test('users, groups and policies made with the CLI govern requests to the running server at once', async () => {
  const target = { port: server.ready.api, dataDir };
  await iotClient(target).send(new CreateThingCommand({ thingName: 'boiler' }));

  const { User: user } = ok(['create-user', '--user', 'reader']) as CliJson;
  assert.equal(user.UserName, 'reader');
  assert.equal(user.Path, '/');
  assert.equal(user.Arn, 'arn:aws:iam::000000000000:user/reader');
  assert.match(user.UserId, /^AIDA[A-Z2-7]{17}$/);
  assert.ok(Math.abs(Date.parse(user.CreateDate) - Date.now()) < 60_000);

  const policyFile = join(dir, 'describe-things.json');
  writeFileSync(policyFile, policy('Allow', 'iot:DescribeThing'));
  const { Policy: created } = ok([
    'create-policy',
    '--policy-name',
    'describe-things',
    '--policy-document',
    `file://${policyFile}`,
    '--description',
    'read-only',
  ]) as CliJson;
  const policyArn = 'arn:aws:iam::000000000000:policy/describe-things';
  assert.deepEqual(
    [created.Arn, created.DefaultVersionId, created.AttachmentCount, created.Description],
    [policyArn, 'v1', 0, 'read-only'],
  );
  assert.equal(
    ok(['attach-user-policy', '--user', 'reader', '--policy-arn', policyArn]),
    undefined,
  );
  const readerKey = newAccessKey('reader');
  const reader = iotClient(target, readerKey);

  // Allowed what the policy allows, and nothing else, from the very next request.
  assert.equal(
    (await reader.send(new DescribeThingCommand({ thingName: 'boiler' }))).thingName,
    'boiler',
  );
  assert.equal(
    await errorName(reader.send(new CreateThingCommand({ thingName: 'intruder' }))),
    'AccessDeniedException',
  );
  assert.equal(await errorName(reader.send(new ListThingsCommand({}))), 'AccessDeniedException');

  // A group's inline policy applies to its members only while they are members.
  ok(['create-group', '--group', 'listers']);
  ok([
    'put-group-policy',
    '--group',
    'listers',
    '--policy-name',
    'list',
    '--policy-document',
    policy('Allow', 'iot:ListThings'),
  ]);
  ok(['add-user-to-group', '--group', 'listers', '--user', 'reader']);
  const things = await reader.send(new ListThingsCommand({}));
  assert.deepEqual(
    things.things?.map((thing) => thing.thingName),
    ['boiler'],
  );
  ok(['remove-user-from-group', '--group', 'listers', '--user', 'reader']);
  assert.equal(await errorName(reader.send(new ListThingsCommand({}))), 'AccessDeniedException');

  // An inactive key is refused; active again, it signs again.
  ok([
    'update-access-key',
    '--user',
    'reader',
    '--access-key-id',
    readerKey.accessKeyId,
    '--status',
    'Inactive',
  ]);
  assert.equal(
    await errorName(reader.send(new DescribeThingCommand({ thingName: 'boiler' }))),
    'UnrecognizedClientException',
  );
  ok([
    'update-access-key',
    '--user',
    'reader',
    '--access-key-id',
    readerKey.accessKeyId,
    '--status',
    'Active',
  ]);
  await reader.send(new DescribeThingCommand({ thingName: 'boiler' }));

  // The lists, shaped as the AWS CLI prints them (every page gathered, no IsTruncated).
  ok([
    'put-user-policy',
    '--user',
    'reader',
    '--policy-name',
    'extra',
    '--policy-document',
    policy('Allow', 'iot:ListThingTypes'),
  ]);
  assert.deepEqual(ok(['list-user-policies', '--user', 'reader']), { PolicyNames: ['extra'] });
  assert.deepEqual(ok(['list-attached-user-policies', '--user', 'reader']), {
    AttachedPolicies: [{ PolicyName: 'describe-things', PolicyArn: policyArn }],
  });
  assert.deepEqual(
    (ok(['list-users']) as CliJson).Users.map((listed: CliJson) => listed.UserName),
    ['admin', 'reader'],
  );
  assert.deepEqual(
    (ok(['list-groups']) as CliJson).Groups.map((group: CliJson) => group.Arn),
    ['arn:aws:iam::000000000000:group/listers'],
  );
  const listedPolicies = (ok(['list-policies', '--only-attached']) as CliJson).Policies;
  assert.deepEqual(
    listedPolicies.map((listed: CliJson) => [listed.PolicyName, listed.AttachmentCount]),
    [['describe-things', 1]],
  );
  assert.deepEqual(
    (ok(['list-access-keys', '--user', 'reader']) as CliJson).AccessKeyMetadata.map(
      (key: CliJson) => [key.AccessKeyId, key.Status],
    ),
    [[readerKey.accessKeyId, 'Active']],
  );

  // Nothing is deleted while something still refers to it, in IAM's words.
  fails(
    ['delete-policy', '--policy-arn', policyArn],
    1,
    /^bulwark: Cannot delete a policy attached to entities\.\n$/,
  );
  fails(['delete-user', '--user', 'reader'], 1, /must delete access keys first/);
  fails(['delete-group', '--group', 'listers'], 1, /must delete policies first/);
  ok(['detach-user-policy', '--user', 'reader', '--policy-arn', policyArn]);
  ok(['delete-policy', '--policy-arn', policyArn]);
  ok(['delete-access-key', '--user', 'reader', '--access-key-id', readerKey.accessKeyId]);
  ok(['delete-user-policy', '--user', 'reader', '--policy-name', 'extra']);
  ok(['delete-group-policy', '--group', 'listers', '--policy-name', 'list']);
  ok(['delete-group', '--group', 'listers']);
  ok(['delete-user', '--user', 'reader']);
  assert.deepEqual(
    (ok(['list-users']) as CliJson).Users.map((listed: CliJson) => listed.UserName),
    ['admin'],
  );
  assert.deepEqual(ok(['list-policies']), { Policies: [] });
});

test('bad input exits 2 and a refused call 1, with the IAM Query API messages', () => {
  fails(
    ['create-user', '--user', 'no spaces'],
    2,
    /^bulwark: 1 validation error detected: Value at 'userName' failed to satisfy constraint: Member must satisfy regular expression pattern: \[\\w\+=,\.@-\]\+\n$/,
  );
  fails(
    ['create-user', '--user', 'ADMIN'],
    1,
    /^bulwark: User with name ADMIN already exists\.\n$/,
  );
  fails(
    [
      'put-user-policy',
      '--user',
      'admin',
      '--policy-name',
      'p',
      '--policy-document',
      '{"Version":"2012-10-17"}',
    ],
    2,
    /^bulwark: Syntax errors in policy\. The policy document has no Statement\.\n$/,
  );
  fails(
    [
      'create-policy',
      '--policy-name',
      'p',
      '--policy-document',
      `file://${join(dir, 'missing.json')}`,
    ],
    2,
    /^bulwark: --policy-document: cannot read .*missing\.json: ENOENT\n$/,
  );
  fails(
    [
      'update-access-key',
      '--user',
      'admin',
      '--access-key-id',
      'AKIAAAAAAAAAAAAAAAAA',
      '--status',
      'Paused',
    ],
    2,
    /Member must satisfy enum value set: \[Active, Inactive\]/,
  );
  fails(
    ['delete-group', '--group', 'nobody'],
    1,
    /^bulwark: The group with name nobody cannot be found\.\n$/,
  );
  fails(
    [
      'attach-user-policy',
      '--user',
      'admin',
      '--policy-arn',
      'arn:aws:iam::000000000000:policy/none',
    ],
    1,
    /^bulwark: Policy arn:aws:iam::000000000000:policy\/none does not exist or is not attachable\.\n$/,
  );
  fails(['create-user'], 2, /required option '--user <name>' not specified/);
  // The field guard: a name holding an e-mail address is refused, naming the detector, not the value.
  const refused = fails(
    ['create-user', '--user', 'alice@example.com'],
    2,
    /^bulwark: UserName was refused: it holds data the EMAIL_ADDRESS detector flags/,
  );
  assert.ok(!refused.includes('alice@example.com'), refused);
});

/** The WARN record of the recovery among stderr's lines. */
function recoveryRecord(stderr: string): CliJson {
  const records = stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as CliJson)
    .filter((record) => record.eventName === 'RecoverAdministrator');
  assert.equal(records.length, 1, stderr);
  return records[0] as CliJson;
}

test('recover-administrator restores AdministratorAccess; with two keys it needs one to replace', async () => {
  const target = { port: server.ready.api, dataDir };
  const credentialsFile = join(dataDir, 'admin-credentials.json');
  const firstKey = adminCredentials(dataDir);
  const spareKey = newAccessKey('admin');
  ok(['delete-user-policy', '--user', 'admin', '--policy-name', 'AdministratorAccess']);
  ok([
    'put-user-policy',
    '--user',
    'admin',
    '--policy-name',
    'no-deletes',
    '--policy-document',
    policy('Deny', 'iot:DeleteThing'),
  ]);
  assert.equal(
    await errorName(iotClient(target, firstKey).send(new ListThingsCommand({}))),
    'AccessDeniedException',
  );

  const refused = iam(['recover-administrator']);
  assert.equal(refused.status, 2, refused.stderr);
  assert.equal(refused.stdout, '');
  assert.match(
    refused.stderr,
    new RegExp(
      `bulwark: admin already has 2 access keys \\((${firstKey.accessKeyId}|${spareKey.accessKeyId}), (${firstKey.accessKeyId}|${spareKey.accessKeyId})\\), the most IAM allows: name the one to delete with --replace-access-key ID\\.`,
    ),
  );
  assert.equal(recoveryRecord(refused.stderr).errorCode, 'InvalidRequest');
  // A refused recovery changes nothing.
  assert.equal(adminCredentials(dataDir).accessKeyId, firstKey.accessKeyId);
  assert.deepEqual(ok(['list-user-policies', '--user', 'admin']), { PolicyNames: ['no-deletes'] });

  const recovered = iam(['recover-administrator', '--replace-access-key', firstKey.accessKeyId]);
  assert.equal(recovered.status, 0, recovered.stderr);
  const newKey = adminCredentials(dataDir);
  assert.equal(statSync(credentialsFile).mode & 0o777, 0o600);
  assert.deepEqual(JSON.parse(recovered.stdout), {
    userName: 'admin',
    userCreated: false,
    policyRestored: true,
    deletedAccessKeyId: firstKey.accessKeyId,
    accessKeyId: newKey.accessKeyId,
    credentialsFile,
    denyingPolicies: ['no-deletes'],
  });
  for (const output of [recovered.stdout, recovered.stderr])
    assert.ok(!output.includes(newKey.secretAccessKey), 'the new secret left the credentials file');

  // Recorded: the action, the time and the OS user, at WARN; and said plainly on stderr.
  const record = recoveryRecord(recovered.stderr);
  assert.equal(record.level, 40);
  assert.equal(record.userIdentity.type, 'OperatingSystemUser');
  assert.equal(record.userIdentity.userName, userInfo().username);
  assert.ok(Math.abs(Date.parse(record.eventTime) - Date.now()) < 60_000);
  assert.deepEqual(record.requestParameters, {
    userName: 'admin',
    replaceAccessKeyId: firstKey.accessKeyId,
  });
  assert.equal(record.responseElements.accessKeyId, newKey.accessKeyId);
  assert.match(
    recovered.stderr,
    new RegExp(
      `bulwark: THE ADMINISTRATOR WAS RECOVERED by the OS user ${userInfo().username} at ${record.eventTime}`,
    ),
  );
  assert.match(
    recovered.stderr,
    /warning: Deny statements in no-deletes still override AdministratorAccess/,
  );

  // The recovered key may do everything but what the Deny left in place forbids; the replaced
  // key is gone.
  const admin = iotClient(target, newKey);
  assert.deepEqual(
    (await admin.send(new ListThingsCommand({}))).things?.map((thing) => thing.thingName),
    ['boiler'],
  );
  assert.equal(
    await errorName(admin.send(new DeleteThingCommand({ thingName: 'boiler' }))),
    'AccessDeniedException',
  );
  assert.equal(
    await errorName(iotClient(target, firstKey).send(new ListThingsCommand({}))),
    'UnrecognizedClientException',
  );
  ok(['delete-user-policy', '--user', 'admin', '--policy-name', 'no-deletes']);
  await admin.send(new DeleteThingCommand({ thingName: 'boiler' }));
});

test('recover-administrator re-creates a deleted administrator, whose new key works at once', async (t) => {
  const ownDataDir = join(tempDir(t), 'data');
  assert.equal(runCli(['init', '--data-dir', ownDataDir]).status, 0);
  const { accessKeyId } = adminCredentials(ownDataDir);
  ok(['delete-access-key', '--user', 'admin', '--access-key-id', accessKeyId], ownDataDir);
  ok(['delete-user-policy', '--user', 'admin', '--policy-name', 'AdministratorAccess'], ownDataDir);
  ok(['delete-user', '--user', 'admin'], ownDataDir);

  const recovered = iam(['recover-administrator'], ownDataDir);
  assert.equal(recovered.status, 0, recovered.stderr);
  const output = JSON.parse(recovered.stdout) as CliJson;
  assert.equal(output.userCreated, true);
  assert.equal(output.policyRestored, true);
  assert.equal(output.deletedAccessKeyId, undefined);
  assert.match(recovered.stderr, /the user admin was missing and is created again/);
  const newKey = adminCredentials(ownDataDir);
  assert.equal(output.accessKeyId, newKey.accessKeyId);

  const ownServer = await startServer(t, ['--data-dir', ownDataDir, ...EPHEMERAL_PORTS]);
  const admin = iotClient({ port: ownServer.ready.api, dataDir: ownDataDir }, newKey);
  await admin.send(new CreateThingCommand({ thingName: 'furnace' }));
  assert.equal(
    (await admin.send(new DescribeThingCommand({ thingName: 'furnace' }))).thingName,
    'furnace',
  );
  assert.deepEqual(
    (ok(['list-access-keys', '--user', 'admin'], ownDataDir) as CliJson).AccessKeyMetadata.map(
      (key: CliJson) => key.AccessKeyId,
    ),
    [newKey.accessKeyId],
  );
});
