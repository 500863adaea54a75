// The "who can do what" report of issue 7 through the real server: a user's allowed, used and
// unused actions over the API (GetUserAccessReport, a Bulwark extension to IAM's Query API) and
// from `bulwark iam access-report` while the server runs; the catalogue both report on is the
// one the server serves.
import {
  CreateAccessKeyCommand,
  CreateUserCommand,
  IAMClient,
  PutUserPolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateThingCommand, DescribeThingCommand } from '@aws-sdk/client-iot';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { XMLParser } from 'fast-xml-parser';
import assert from 'node:assert/strict';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import { servedActionCatalogue } from '../../src/app/served-api.js';
import {
  adminCredentials,
  iotClient,
  REGION,
  serverCa,
  signedRequest,
  type ApiTarget,
  type AwsCredentials,
} from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS, fileCleanup, runCli, startServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

const files = fileCleanup();
const ACCOUNT_ID = '123456789012';
const dataDir = join(tempDir(files), 'data');
const env = { BULWARK_ACCOUNT_ID: ACCOUNT_ID };
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], { env });
const target: ApiTarget = { port: server.ready.api, dataDir };
const admin = adminCredentials(dataDir);
const iam = new IAMClient({
  endpoint: `https://127.0.0.1:${target.port}`,
  region: REGION,
  credentials: admin,
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: serverCa(dataDir) }) }),
});
const thingArn = (name: string) => `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thing/${name}`;

/** One action of a report, as the API and `--json` give it. */
interface ReportedAction {
  Action: string;
  Allowed: boolean;
  AllowedOn: string[];
  Used: boolean;
  LastAccessedTime?: string;
  LastAccessedResource?: string;
  Finding?: string;
}

/** A user with `statements` as its one inline policy, and an access key. */
async function userWith(userName: string, statements: object[]): Promise<AwsCredentials> {
  await iam.send(new CreateUserCommand({ UserName: userName }));
  await putPolicy(userName, statements);
  const { AccessKey } = await iam.send(new CreateAccessKeyCommand({ UserName: userName }));
  return {
    accessKeyId: AccessKey?.AccessKeyId as string,
    secretAccessKey: AccessKey?.SecretAccessKey as string,
  };
}

async function putPolicy(userName: string, statements: object[]): Promise<void> {
  await iam.send(
    new PutUserPolicyCommand({
      UserName: userName,
      PolicyName: 'job',
      PolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: statements }),
    }),
  );
}

/** GetUserAccessReport over the Query API, signed as `iam` (no AWS client knows the action). */
function reportRequest(form: Record<string, string>, credentials: AwsCredentials = admin) {
  return signedRequest(
    target,
    {
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
      body: new URLSearchParams({
        Action: 'GetUserAccessReport',
        Version: '2010-05-08',
        ...form,
      }).toString(),
    },
    credentials,
    { service: 'iam' },
  );
}

const xml = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  isArray: (name) => name === 'member',
});

/** The members of an XML list (`<List><member>…</member></List>`); an empty list parses as ''. */
function members<T>(list: unknown): T[] {
  return typeof list === 'object' && list !== null ? (list as { member: T[] }).member : [];
}

/** The report's actions from the API, in the shape `--json` prints. */
async function apiReport(userName: string, days?: number): Promise<ReportedAction[]> {
  const response = await reportRequest({
    UserName: userName,
    ...(days !== undefined ? { Days: String(days) } : {}),
  });
  assert.equal(response.status, 200, response.body);
  const result = xml.parse(response.body).GetUserAccessReportResponse.GetUserAccessReportResult;
  assert.equal(result.UserArn, `arn:aws:iam::${ACCOUNT_ID}:user/${userName}`);
  return members<Record<string, unknown>>(result.Actions).map((entry) => ({
    Action: entry.Action as string,
    Allowed: entry.Allowed === 'true',
    AllowedOn: members<string>(entry.AllowedOn),
    Used: entry.Used === 'true',
    ...(entry.LastAccessedTime !== undefined
      ? { LastAccessedTime: entry.LastAccessedTime as string }
      : {}),
    ...(entry.LastAccessedResource !== undefined
      ? { LastAccessedResource: entry.LastAccessedResource as string }
      : {}),
    ...(entry.Finding !== undefined ? { Finding: entry.Finding as string } : {}),
  }));
}

/** `bulwark iam access-report ARGS` on the running server's data dir, configured as the server. */
const accessReportCli = (args: string[]) =>
  runCli(['iam', 'access-report', ...args, '--data-dir', dataDir], { env });

/** The report's actions from `bulwark iam access-report --json`. */
function cliReport(userName: string): ReportedAction[] {
  const result = accessReportCli(['--user', userName, '--json']);
  assert.equal(result.status, 0, result.stderr);
  return (JSON.parse(result.stdout) as { Actions: ReportedAction[] }).Actions;
}

const byAction = (actions: ReportedAction[], action: string) =>
  actions.find((entry) => entry.Action === action);

// Describe on things only; list and create anywhere.
const THING_KEEPER = [
  {
    Sid: 'ReadThings',
    Effect: 'Allow',
    Action: 'iot:DescribeThing',
    Resource: `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thing/*`,
  },
  {
    Sid: 'ListAndCreate',
    Effect: 'Allow',
    Action: ['iot:ListThings', 'iot:CreateThing'],
    Resource: '*',
  },
];

await iotClient(target).send(new CreateThingCommand({ thingName: 'boiler' }));
const keeper = await userWith('keeper', THING_KEEPER);
await iotClient(target, keeper).send(new DescribeThingCommand({ thingName: 'boiler' }));

test('the report shows the allowed actions, the one used (with its resource) and the two unused', async () => {
  const actions = await apiReport('keeper');
  assert.deepEqual(
    actions.map((entry) => entry.Action),
    ['iot:CreateThing', 'iot:DescribeThing', 'iot:ListThings'],
    'exactly the three actions the policy allows',
  );
  const describe = byAction(actions, 'iot:DescribeThing');
  assert.equal(describe?.Allowed, true);
  assert.equal(describe?.Used, true);
  assert.equal(describe?.LastAccessedResource, thingArn('boiler'));
  assert.ok(Date.now() - Date.parse(describe?.LastAccessedTime ?? '') < 60_000);
  assert.equal(describe?.Finding, undefined);
  // Allowed on the resource pattern the policy names, not on `*`.
  assert.deepEqual(describe?.AllowedOn.includes('*'), false);
  assert.ok(describe?.AllowedOn.includes(thingArn('*')));
  for (const unused of ['iot:CreateThing', 'iot:ListThings']) {
    const entry = byAction(actions, unused);
    assert.equal(entry?.Allowed, true, unused);
    assert.equal(entry?.Used, false, unused);
    assert.equal(entry?.LastAccessedTime, undefined, unused);
    assert.equal(entry?.Finding, 'UnusedPermission', unused);
  }
});

test('bulwark iam access-report gives the same report while the server runs', async () => {
  // The server writes a first use within about a second.
  let cli: ReportedAction[] = [];
  await eventually(
    () => {
      cli = cliReport('keeper');
      return byAction(cli, 'iot:DescribeThing')?.Used === true;
    },
    'the CLI sees the use of iot:DescribeThing',
    15_000,
    500,
  );
  // The same report; XML gives times to the second, as IAM does, JSON to the millisecond.
  const toTheSecond = (actions: ReportedAction[]) =>
    actions.map((entry) =>
      entry.LastAccessedTime === undefined
        ? entry
        : {
            ...entry,
            LastAccessedTime: new Date(entry.LastAccessedTime).toISOString().slice(0, 19),
          },
    );
  assert.deepEqual(toTheSecond(cli), toTheSecond(await apiReport('keeper')));
  const text = accessReportCli(['--user', 'keeper']);
  assert.equal(text.status, 0, text.stderr);
  assert.match(
    text.stdout,
    /^Access report for keeper \(arn:aws:iam::123456789012:user\/keeper\)$/m,
  );
  assert.match(
    text.stdout,
    /^Allowed and used \(1\):\n {2}iot:DescribeThing +allowed on .*; last used \S+ on arn:aws:iot:us-east-1:123456789012:thing\/boiler$/m,
  );
  assert.match(
    text.stdout,
    /^Allowed but not used in 90 days: candidates to remove \(2\):\n {2}iot:CreateThing\n {2}iot:ListThings$/m,
  );
  assert.match(text.stdout, /^Used but no longer allowed \(0\)$/m);
});

test('an action used and then taken away is reported as no longer allowed', async () => {
  const leaver = await userWith('leaver', THING_KEEPER);
  await iotClient(target, leaver).send(new DescribeThingCommand({ thingName: 'boiler' }));
  await putPolicy('leaver', [THING_KEEPER[1] as object]);
  const describe = byAction(await apiReport('leaver'), 'iot:DescribeThing');
  assert.equal(describe?.Allowed, false);
  assert.deepEqual(describe?.AllowedOn, []);
  assert.equal(describe?.Used, true);
  assert.equal(describe?.LastAccessedResource, thingArn('boiler'));
  assert.equal(describe?.Finding, 'NoLongerAllowed');
});

test('the report is itself an IAM action on the user: a user without it is refused', async () => {
  const refused = await reportRequest({ UserName: 'keeper' }, keeper);
  assert.equal(refused.status, 403, refused.body);
  assert.match(
    refused.body,
    /<Code>AccessDenied<\/Code><Message>User: arn:aws:iam::123456789012:user\/keeper is not authorized to perform: iam:GetUserAccessReport on resource: arn:aws:iam::123456789012:user\/keeper /,
  );
  const unknown = await reportRequest({ UserName: 'nobody' });
  assert.equal(unknown.status, 404, unknown.body);
  assert.match(unknown.body, /<Code>NoSuchEntity<\/Code>/);
  const window = await reportRequest({ UserName: 'keeper', Days: '181' });
  assert.equal(window.status, 400, window.body);
  assert.match(window.body, /Member must have value less than or equal to 180/);
  for (const days of ['0', 'soon']) {
    const cli = accessReportCli(['--user', 'keeper', '--days', days]);
    assert.equal(cli.status, 2, `--days ${days}`);
    assert.match(cli.stderr, /from 1 to 180/);
  }
});

test('the server and the CLI report on the same catalogue: every action the server serves', async () => {
  const catalogue = servedActionCatalogue().map((entry) => entry.action);
  // The administrator may do everything: its allowed actions are the whole catalogue.
  const served = (await apiReport('admin')).filter((entry) => entry.Allowed);
  assert.deepEqual(
    served.map((entry) => entry.Action),
    catalogue,
  );
  assert.deepEqual(
    cliReport('admin')
      .filter((entry) => entry.Allowed)
      .map((entry) => entry.Action),
    catalogue,
  );
  // Uses of an action served only partly through the API are not called unused.
  assert.equal(byAction(served, 'iot:Connect')?.Finding, 'UsageNotRecorded');
});
