// CloudTrail's LookupEvents over its JSON 1.1 protocol against a real server: pages and their
// NextTokens (through the AWS CLI and raw signed requests), time ranges, every attribute,
// CloudTrail's validation errors, authentication and authorization; and `bulwark audit lookup`
// on the same trail while the server runs, recording its own lookups.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  adminCredentials,
  needAwsCli,
  runAwsCli,
  sendRequest,
  signedRequest,
  type AwsCredentials,
  type WireResponse,
} from '../helpers/aws-api.js';
import {
  EPHEMERAL_PORTS,
  fileCleanup,
  runCli,
  startServer,
  type RunningServer,
} from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const dir = tempDir(files, 'bulwark-lookup-events-');
const dataDir = join(dir, 'data');
const home = join(dir, 'home');
let server: RunningServer;
/** Epoch seconds: the second the first batch of things was made in, and the second batch's. */
let firstBatchAt: number;
let secondBatchAt: number;

const TARGET = 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents';
const JSON_1_1 = 'application/x-amz-json-1.1';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- responses are read loosely
type Json = Record<string, any>;

const target = () => ({ port: server.ready.api, dataDir });

function createThing(name: string): Promise<WireResponse> {
  return signedRequest(target(), {
    method: 'POST',
    path: `/things/${name}`,
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
}

const sleepUntilNextSecond = () =>
  new Promise((resolve) => setTimeout(resolve, 1000 - (Date.now() % 1000) + 50));

before(async () => {
  server = await startServer(files, [
    '--data-dir',
    dataDir,
    '--host',
    '127.0.0.1',
    ...EPHEMERAL_PORTS,
  ]);
  // Two batches of CreateThing in two different seconds: first-0..3, then second-0..2.
  await sleepUntilNextSecond();
  firstBatchAt = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 4; i++) assert.equal((await createThing(`first-${i}`)).status, 200);
  assert.equal(Math.floor(Date.now() / 1000), firstBatchAt, 'the first batch took under a second');
  await sleepUntilNextSecond();
  secondBatchAt = Math.floor(Date.now() / 1000);
  for (let i = 0; i < 3; i++) assert.equal((await createThing(`second-${i}`)).status, 200);
});

/** LookupEvents as a raw JSON 1.1 request, signed as `cloudtrail` unless said otherwise. */
async function lookupEvents(
  body: unknown,
  options: {
    credentials?: AwsCredentials;
    service?: string;
    target?: string;
    raw?: string;
  } = {},
): Promise<{ status: number; type?: string; json: Json; headers: WireResponse['headers'] }> {
  const response = await signedRequest(
    target(),
    {
      method: 'POST',
      path: '/',
      headers: { 'content-type': JSON_1_1, 'x-amz-target': options.target ?? TARGET },
      body: options.raw ?? JSON.stringify(body),
    },
    options.credentials ?? adminCredentials(dataDir),
    { service: options.service ?? 'cloudtrail' },
  );
  const json = JSON.parse(response.body) as Json;
  return {
    status: response.status,
    ...(typeof json.__type === 'string' ? { type: json.__type } : {}),
    json,
    headers: response.headers,
  };
}

const byName = (value: string) => ({
  LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: value }],
});

function thingNames(events: Json[]): string[] {
  return events.map((event) => JSON.parse(event.CloudTrailEvent).requestParameters.thingName);
}

test('pages of MaxResults, newest first, continued by NextToken to the last', async () => {
  const seen: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await lookupEvents({
      ...byName('CreateThing'),
      MaxResults: 3,
      ...(token ? { NextToken: token } : {}),
    });
    assert.equal(page.status, 200, JSON.stringify(page.json));
    assert.equal(page.headers['content-type'], JSON_1_1);
    assert.ok(page.json.Events.length <= 3);
    seen.push(...thingNames(page.json.Events));
    token = page.json.NextToken;
    pages += 1;
  } while (token);
  assert.deepEqual(seen, [
    'second-2',
    'second-1',
    'second-0',
    'first-3',
    'first-2',
    'first-1',
    'first-0',
  ]);
  assert.equal(pages, 3);

  const first = (await lookupEvents({ ...byName('CreateThing'), MaxResults: 2 })).json;
  const event = first.Events[0] as Json;
  assert.deepEqual(Object.keys(event).sort(), [
    'AccessKeyId',
    'CloudTrailEvent',
    'EventId',
    'EventName',
    'EventSource',
    'EventTime',
    'ReadOnly',
    'Resources',
    'Username',
  ]);
  assert.equal(event.EventTime, secondBatchAt, 'EventTime is epoch seconds');
  assert.equal(event.ReadOnly, 'false');
  assert.deepEqual(event.Resources, [
    {
      ResourceType: 'AWS::IoT::Thing',
      ResourceName: 'arn:aws:iot:us-east-1:000000000000:thing/second-2',
    },
  ]);
  // A token belongs to the query it continues.
  const otherQuery = await lookupEvents({
    ...byName('DescribeThing'),
    MaxResults: 2,
    NextToken: first.NextToken,
  });
  assert.equal(otherQuery.status, 400);
  assert.equal(otherQuery.type, 'InvalidNextTokenException');
  const tampered = await lookupEvents({
    ...byName('CreateThing'),
    NextToken: `${(first.NextToken as string).slice(0, -2)}xx`,
  });
  assert.equal(tampered.type, 'InvalidNextTokenException');
  const otherRange = await lookupEvents({
    ...byName('CreateThing'),
    StartTime: firstBatchAt,
    NextToken: first.NextToken,
  });
  assert.equal(otherRange.type, 'InvalidNextTokenException');
});

test('the AWS CLI pages through with --page-size and resumes with --starting-token', (t) => {
  if (!needAwsCli(t)) return;
  const cli = (args: string[]) => {
    const result = runAwsCli(
      target(),
      [
        'cloudtrail',
        'lookup-events',
        '--lookup-attributes',
        'AttributeKey=EventName,AttributeValue=CreateThing',
        ...args,
      ],
      { home },
    );
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout) as Json;
  };
  // Pages of 2 from the server, followed to the end by the CLI itself.
  assert.deepEqual(thingNames(cli(['--page-size', '2']).Events), [
    'second-2',
    'second-1',
    'second-0',
    'first-3',
    'first-2',
    'first-1',
    'first-0',
  ]);
  const head = cli(['--page-size', '2', '--max-items', '3']);
  assert.deepEqual(thingNames(head.Events), ['second-2', 'second-1', 'second-0']);
  assert.ok(head.NextToken);
  const rest = cli(['--page-size', '2', '--starting-token', head.NextToken as string]);
  assert.deepEqual(thingNames(rest.Events), ['first-3', 'first-2', 'first-1', 'first-0']);
  const ranged = cli(['--start-time', String(secondBatchAt)]);
  assert.deepEqual(thingNames(ranged.Events), ['second-2', 'second-1', 'second-0']);
});

test('StartTime and EndTime bound the events, whole seconds included', async () => {
  const names = async (range: Json) =>
    thingNames((await lookupEvents({ ...byName('CreateThing'), ...range })).json.Events);
  assert.deepEqual(await names({ StartTime: secondBatchAt }), ['second-2', 'second-1', 'second-0']);
  assert.deepEqual(await names({ EndTime: firstBatchAt }), [
    'first-3',
    'first-2',
    'first-1',
    'first-0',
  ]);
  assert.deepEqual(await names({ StartTime: firstBatchAt, EndTime: firstBatchAt }), [
    'first-3',
    'first-2',
    'first-1',
    'first-0',
  ]);
  // Fractional seconds as the JS SDK sends them.
  assert.deepEqual(await names({ StartTime: secondBatchAt + 0.5 }), [
    'second-2',
    'second-1',
    'second-0',
  ]);
  assert.deepEqual(await names({ StartTime: secondBatchAt + 60 }), []);
});

test('every lookup attribute finds its events', async () => {
  const admin = adminCredentials(dataDir);
  const found = async (key: string, value: string) =>
    (await lookupEvents({ LookupAttributes: [{ AttributeKey: key, AttributeValue: value }] })).json
      .Events as Json[];
  const [newest] = await found('EventName', 'CreateThing');
  assert.ok(newest);
  assert.deepEqual(
    (await found('EventId', newest.EventId as string)).map((event) => event.EventId),
    [newest.EventId],
  );
  const arn = 'arn:aws:iot:us-east-1:000000000000:thing/first-1';
  assert.deepEqual(thingNames(await found('ResourceName', arn)), ['first-1']);
  assert.ok((await found('ResourceType', 'AWS::IoT::Thing')).length >= 7);
  assert.ok((await found('EventSource', 'iot.amazonaws.com')).length >= 7);
  assert.ok((await found('AccessKeyId', admin.accessKeyId)).length >= 7);
  assert.ok((await found('Username', 'admin')).length >= 7);
  const writes = await found('ReadOnly', 'false');
  assert.ok(writes.length >= 7);
  assert.ok(writes.every((event) => event.ReadOnly === 'false'));
  const reads = await found('ReadOnly', 'true');
  assert.ok(reads.every((event) => event.ReadOnly === 'true'));
  assert.ok(reads.some((event) => event.EventName === 'LookupEvents'));
  assert.deepEqual(await found('Username', 'nobody'), []);
  // Insights events: Bulwark has none.
  assert.deepEqual((await lookupEvents({ EventCategory: 'insight' })).json, { Events: [] });
  // The short X-Amz-Target form works too.
  const short = await lookupEvents(byName('CreateThing'), {
    target: 'CloudTrail_20131101.LookupEvents',
  });
  assert.equal(short.status, 200);
});

test("CloudTrail's validation errors, in the JSON protocol's form, and audited", async () => {
  const cases: [string, unknown, string][] = [
    ['MaxResults 0', { MaxResults: 0 }, 'InvalidMaxResultsException'],
    ['MaxResults 51', { MaxResults: 51 }, 'InvalidMaxResultsException'],
    ['MaxResults as a string', { MaxResults: '5' }, 'SerializationException'],
    [
      'two attributes',
      {
        LookupAttributes: [
          { AttributeKey: 'EventName', AttributeValue: 'CreateThing' },
          { AttributeKey: 'Username', AttributeValue: 'admin' },
        ],
      },
      'InvalidLookupAttributesException',
    ],
    [
      'an unknown key',
      { LookupAttributes: [{ AttributeKey: 'SourceIp', AttributeValue: '127.0.0.1' }] },
      'InvalidLookupAttributesException',
    ],
    [
      'an empty value',
      { LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: '' }] },
      'InvalidLookupAttributesException',
    ],
    [
      'ReadOnly neither true nor false',
      { LookupAttributes: [{ AttributeKey: 'ReadOnly', AttributeValue: 'maybe' }] },
      'InvalidLookupAttributesException',
    ],
    [
      'start after end',
      { StartTime: 2_000_000_000, EndTime: 1_000_000_000 },
      'InvalidTimeRangeException',
    ],
    ['a time as text', { StartTime: 'yesterday' }, 'SerializationException'],
    ['an unknown category', { EventCategory: 'data' }, 'InvalidEventCategoryException'],
    ['a NextToken that is not one', { NextToken: 'not-a-token' }, 'InvalidNextTokenException'],
  ];
  for (const [name, body, type] of cases) {
    const response = await lookupEvents(body);
    assert.equal(response.status, 400, name);
    assert.equal(response.type, type, name);
    assert.equal(response.headers['x-amzn-errortype'], type, name);
    assert.equal(typeof response.json.message, 'string', name);
  }
  const notJson = await lookupEvents(undefined, { raw: '{"MaxResults":' });
  assert.equal(notJson.type, 'SerializationException');
  const unknownTarget = await lookupEvents(
    {},
    {
      target: 'com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.DeleteTrail',
    },
  );
  assert.equal(unknownTarget.type, 'UnknownOperationException');

  const refused = (
    await lookupEvents({
      LookupAttributes: [{ AttributeKey: 'EventName', AttributeValue: 'LookupEvents' }],
      MaxResults: 50,
    })
  ).json.Events.map((event: Json) => JSON.parse(event.CloudTrailEvent as string).errorCode);
  for (const type of [
    'InvalidMaxResultsException',
    'InvalidLookupAttributesException',
    'InvalidTimeRangeException',
    'SerializationException',
    'InvalidNextTokenException',
  ])
    assert.ok(refused.includes(type), `a refused lookup is recorded with ${type}`);
});

test('LookupEvents is signed as cloudtrail and authorized as cloudtrail:LookupEvents', async (t) => {
  if (!needAwsCli(t)) return;
  const wrongService = await lookupEvents(byName('CreateThing'), { service: 'iam' });
  assert.equal(wrongService.status, 403);
  assert.equal(wrongService.type, 'InvalidSignatureException');
  const unsigned = await sendRequest(target(), {
    method: 'POST',
    path: '/',
    headers: { 'content-type': JSON_1_1, 'x-amz-target': TARGET },
    body: '{}',
  });
  assert.equal(unsigned.status, 403);
  assert.equal(JSON.parse(unsigned.body).__type, 'MissingAuthenticationTokenException');

  // A user allowed everything but the trail.
  const aws = (args: string[]) => {
    const result = runAwsCli(target(), args, { home });
    assert.equal(result.status, 0, result.stderr);
    return JSON.parse(result.stdout || '{}') as Json;
  };
  aws(['iam', 'create-user', '--user-name', 'builder']);
  aws([
    'iam',
    'put-user-policy',
    '--user-name',
    'builder',
    '--policy-name',
    'no-trail',
    '--policy-document',
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: '*', Resource: '*' },
        { Effect: 'Deny', Action: 'cloudtrail:LookupEvents', Resource: '*' },
      ],
    }),
  ]);
  const key = aws(['iam', 'create-access-key', '--user-name', 'builder']).AccessKey as Json;
  const builder = { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
  const denied = await lookupEvents(byName('CreateThing'), { credentials: builder });
  assert.equal(denied.status, 403);
  assert.equal(denied.type, 'AccessDeniedException');
  assert.match(
    denied.json.message as string,
    /user\/builder is not authorized to perform: cloudtrail:LookupEvents on resource: \* with an explicit deny/,
  );
  // The Query API still answers at the same `/`.
  assert.equal(
    (aws(['iam', 'get-user', '--user-name', 'builder']).User as Json).UserName,
    'builder',
  );
  // The access report knows the action, and that the administrator used it.
  const report = runCli([
    'iam',
    'access-report',
    '--data-dir',
    dataDir,
    '--user',
    'admin',
    '--json',
  ]);
  assert.equal(report.status, 0, report.stderr);
  assert.ok(report.stdout.includes('cloudtrail:LookupEvents'), report.stdout.slice(0, 2000));
});

test('bulwark audit lookup: attributes ANDed, time range, limit, while the server runs', () => {
  const lookup = (args: string[]) =>
    runCli(['audit', 'lookup', '--data-dir', dataDir, ...args], { cwd: dir });
  const json = (args: string[]) => {
    const result = lookup([...args, '--json']);
    assert.equal(result.status, 0, result.stderr);
    return (JSON.parse(result.stdout) as { Records: Json[] }).Records;
  };
  const names = (records: Json[]) => records.map((record) => record.requestParameters.thingName);
  assert.deepEqual(
    names(
      json([
        '--lookup-attribute',
        'EventName=CreateThing',
        '--lookup-attribute',
        'Username=admin',
        '--lookup-attribute',
        'ReadOnly=false',
      ]),
    ),
    ['second-2', 'second-1', 'second-0', 'first-3', 'first-2', 'first-1', 'first-0'],
  );
  assert.deepEqual(
    names(json(['--lookup-attribute', 'EventName=CreateThing', '--max-results', '2'])),
    ['second-2', 'second-1'],
  );
  assert.deepEqual(
    names(
      json([
        '--lookup-attribute',
        'EventName=CreateThing',
        '--end-time',
        new Date(firstBatchAt * 1000).toISOString(),
      ]),
    ),
    ['first-3', 'first-2', 'first-1', 'first-0'],
  );
  assert.deepEqual(
    names(
      json(['--lookup-attribute', 'EventName=CreateThing', '--start-time', String(secondBatchAt)]),
    ),
    ['second-2', 'second-1', 'second-0'],
  );
  const [record] = json(['--lookup-attribute', 'EventName=CreateThing', '--max-results', '1']);
  assert.equal(record?.eventVersion, '1.11');
  assert.equal(record?.eventSource, 'iot.amazonaws.com');
  assert.equal(record?.userIdentity.userName, 'admin');
  assert.deepEqual(
    json(['--lookup-attribute', 'EventName=CreateThing', '--lookup-attribute', 'Username=x']),
    [],
  );

  const lines = lookup(['--lookup-attribute', 'EventName=CreateThing', '--max-results', '3']);
  assert.equal(lines.status, 0, lines.stderr);
  const printed = lines.stdout.trim().split('\n');
  assert.equal(printed.length, 3);
  assert.match(
    printed[0] as string,
    /^\S+Z {2}iot\.amazonaws\.com {2}CreateThing {2}admin {2}127\.0\.0\.1 {2}ok /,
  );

  // Each lookup is recorded, as CloudTrail records LookupEvents: the newest one is the lookup
  // just above, by the account's root through the CLI.
  const [own] = json(['--lookup-attribute', 'EventName=LookupEvents', '--max-results', '1']);
  assert.equal(own?.eventSource, 'cloudtrail.amazonaws.com');
  assert.equal(own?.readOnly, true);
  assert.equal(own?.userIdentity.type, 'Root');
  assert.equal(own?.userIdentity.invokedBy, 'bulwark-cli');
  assert.deepEqual(own?.requestParameters, {
    lookupAttributes: [{ attributeKey: 'EventName', attributeValue: 'CreateThing' }],
    maxResults: 3,
  });

  for (const bad of [
    ['--lookup-attribute', 'SourceIp=127.0.0.1'],
    ['--lookup-attribute', 'EventName'],
    ['--lookup-attribute', 'ReadOnly=maybe'],
    ['--start-time', 'yesterday'],
    ['--max-results', '0'],
    ['--start-time', '2030-01-02T00:00:00Z', '--end-time', '2030-01-01T00:00:00Z'],
  ]) {
    const result = lookup(bad);
    assert.equal(result.status, 2, `${bad.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /^bulwark: /);
  }
});
