// Every API call is in the audit trail, as CloudTrail records it, seen through the real AWS CLI's
// `aws cloudtrail lookup-events`: two IAM users (one with long-term keys, one with MFA-backed
// session credentials) and their refused calls, calls refused by authentication, secrets and
// payloads kept out, console sign-in, and calls refused when the trail cannot write.
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { before, test } from 'node:test';
import pg from 'pg';
import {
  adminCredentials,
  needAwsCli,
  awsCliJson,
  createUserWithPolicy,
  enableVirtualMfaDevice,
  type AwsCliJson,
  type CliJson,
  serverCa,
  signedRequest,
  type ApiTarget,
  type AwsCredentials,
} from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS, fileCleanup, startServer, type RunningServer } from '../helpers/cli.js';
import { dropSchema, needPostgres, POSTGRES_URL, uniqueSchema } from '../helpers/services.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const dir = tempDir(files, 'bulwark-audit-api-');
const dataDir = join(dir, 'data');
const home = join(dir, 'home');
let server: RunningServer;

const HIDDEN = 'HIDDEN_DUE_TO_SECURITY_REASONS';
const ACCOUNT = '000000000000';

/** One event of `lookup-events`, with its CloudTrailEvent parsed. */
interface LookedUp {
  EventId: string;
  EventName: string;
  EventSource: string;
  ReadOnly: string;
  Username?: string;
  AccessKeyId?: string;
  Resources: { ResourceType?: string; ResourceName: string }[];
  record: CliJson;
}

before(async () => {
  server = await startServer(
    files,
    ['--data-dir', dataDir, '--host', '127.0.0.1', ...EPHEMERAL_PORTS],
    {
      // Console passwords alone as well (iam.requireMfaForConsole is on by default).
      env: { BULWARK_IAM_REQUIRE_MFA_FOR_CONSOLE: 'false' },
    },
  );
});

const target = () => ({ port: server.ready.api, dataDir });

function aws(args: string[], credentials?: AwsCredentials, on: ApiTarget = target()): AwsCliJson {
  return awsCliJson(on, args, { home, ...(credentials ? { credentials } : {}) });
}

function ok(args: string[], credentials?: AwsCredentials): CliJson {
  const result = aws(args, credentials);
  assert.equal(result.status, 0, `aws ${args.join(' ')}: ${result.stderr}`);
  return result.json;
}

/** `aws cloudtrail lookup-events` by one attribute, as the administrator; every page. */
function lookup(
  key: string,
  value: string,
  on: ApiTarget = target(),
): { events: LookedUp[]; stdout: string } {
  const result = aws(
    [
      'cloudtrail',
      'lookup-events',
      '--lookup-attributes',
      `AttributeKey=${key},AttributeValue=${value}`,
    ],
    undefined,
    on,
  );
  assert.equal(result.status, 0, result.stderr);
  const events = (
    result.json.Events as (Omit<LookedUp, 'record'> & { CloudTrailEvent: string })[]
  ).map((event) => ({ ...event, record: JSON.parse(event.CloudTrailEvent) as CliJson }));
  return { events, stdout: result.stdout };
}

function userWith(userName: string, policy: object): AwsCredentials {
  return createUserWithPolicy((args) => ok(args), userName, policy);
}

const allow = (...actions: string[]) => ({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }],
});

/** A virtual MFA device enabled for `userName`; `next()` is a code not used yet. */
function mfaDevice(
  userName: string,
  credentials?: AwsCredentials,
): { serialNumber: string; next(): string } {
  const device = enableVirtualMfaDevice(
    (args) => ok(args, credentials),
    userName,
    join(dir, `${userName}-seed.txt`),
  );
  return { serialNumber: device.serialNumber, next: () => device.next };
}

test('two users: each call is looked up by user with its source IP, error code and MFA context', async (t) => {
  if (!needAwsCli(t)) return;
  ok(['iot', 'create-thing', '--thing-name', 'boiler']);
  const reader = userWith('reader', allow('iot:DescribeThing'));
  const operator = userWith('operator', allow('iot:*', 'iam:*MFADevice*', 'iam:ListMFADevices'));

  ok(['iot', 'describe-thing', '--thing-name', 'boiler'], reader);
  const refused = aws(['iot', 'create-thing', '--thing-name', 'intruder'], reader);
  assert.match(refused.stderr, /AccessDeniedException/);

  const device = mfaDevice('operator', operator);
  const withMfa = ok(
    [
      'sts',
      'get-session-token',
      '--serial-number',
      device.serialNumber,
      '--token-code',
      device.next(),
    ],
    operator,
  ).Credentials;
  const mfaSession: AwsCredentials = {
    accessKeyId: withMfa.AccessKeyId,
    secretAccessKey: withMfa.SecretAccessKey,
    sessionToken: withMfa.SessionToken,
  };
  ok(['iot', 'create-thing', '--thing-name', 'pump'], mfaSession);
  const withoutMfa = ok(['sts', 'get-session-token'], operator).Credentials;
  const plainSession: AwsCredentials = {
    accessKeyId: withoutMfa.AccessKeyId,
    secretAccessKey: withoutMfa.SecretAccessKey,
    sessionToken: withoutMfa.SessionToken,
  };
  ok(['iot', 'describe-thing', '--thing-name', 'pump'], plainSession);

  // The reader's two calls, newest first; long-term keys carry no session context.
  const readerEvents = lookup('Username', 'reader').events;
  assert.deepEqual(
    readerEvents.map((event) => [event.EventName, event.record.errorCode ?? null]),
    [
      ['CreateThing', 'AccessDeniedException'],
      ['DescribeThing', null],
    ],
  );
  const [denied, described] = readerEvents as [LookedUp, LookedUp];
  assert.equal(denied.record.eventSource, 'iot.amazonaws.com');
  assert.equal(denied.record.sourceIPAddress, '127.0.0.1');
  assert.equal(denied.record.readOnly, false);
  assert.equal(denied.ReadOnly, 'false');
  assert.match(
    denied.record.errorMessage as string,
    /^User: arn:aws:iam::000000000000:user\/reader is not authorized to perform: iot:CreateThing on resource: arn:aws:iot:us-east-1:000000000000:thing\/intruder/,
  );
  assert.equal(denied.record.responseElements, null);
  assert.deepEqual(denied.record.requestParameters, { thingName: 'intruder' });
  assert.deepEqual(denied.Resources, [
    {
      ResourceType: 'AWS::IoT::Thing',
      ResourceName: 'arn:aws:iot:us-east-1:000000000000:thing/intruder',
    },
  ]);
  assert.deepEqual(described.record.userIdentity, {
    type: 'IAMUser',
    principalId: described.record.userIdentity.principalId,
    arn: `arn:aws:iam::${ACCOUNT}:user/reader`,
    accountId: ACCOUNT,
    accessKeyId: reader.accessKeyId,
    userName: 'reader',
  });
  assert.match(described.record.userIdentity.principalId as string, /^AIDA/);
  assert.equal(described.AccessKeyId, reader.accessKeyId);
  assert.equal(described.record.readOnly, true);
  assert.equal(described.record.responseElements, null, 'reads record no response');
  assert.match(described.record.userAgent as string, /^aws-cli\/2\./);
  assert.equal(described.record.tlsDetails.tlsVersion, 'TLSv1.3');
  assert.match(described.record.tlsDetails.cipherSuite as string, /^TLS_/);
  assert.equal(
    described.record.tlsDetails.clientProvidedHostHeader,
    `127.0.0.1:${server.ready.api}`,
  );
  assert.match(described.record.requestID as string, /^[0-9a-f-]{36}$/);
  assert.equal(described.record.eventType, 'AwsApiCall');
  assert.equal(described.record.managementEvent, true);
  assert.equal(described.record.recipientAccountId, ACCOUNT);

  // The operator's calls with MFA-backed and plain session credentials.
  const byKey = (credentials: AwsCredentials) =>
    lookup('AccessKeyId', credentials.accessKeyId).events;
  const [created] = byKey(mfaSession) as [LookedUp];
  assert.equal(created.EventName, 'CreateThing');
  assert.equal(created.Username, 'operator');
  assert.equal(created.record.errorCode, undefined);
  assert.equal(created.record.sourceIPAddress, '127.0.0.1');
  assert.equal(created.record.userIdentity.sessionContext.attributes.mfaAuthenticated, 'true');
  assert.match(
    created.record.userIdentity.sessionContext.attributes.creationDate as string,
    /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/,
  );
  assert.equal(created.record.responseElements.thingName, 'pump');
  const [plain] = byKey(plainSession) as [LookedUp];
  assert.equal(plain.EventName, 'DescribeThing');
  assert.equal(plain.record.userIdentity.sessionContext.attributes.mfaAuthenticated, 'false');
  const operatorNames = lookup('Username', 'operator').events.map((event) => event.EventName);
  for (const name of ['CreateVirtualMFADevice', 'EnableMFADevice', 'GetSessionToken'])
    assert.ok(operatorNames.includes(name), `${name} in ${operatorNames.join(', ')}`);
  const sessions = lookup('EventName', 'GetSessionToken').events;
  assert.deepEqual(
    sessions.map((event) => [event.EventSource, event.record.requestParameters?.tokenCode ?? null]),
    [
      ['sts.amazonaws.com', null],
      ['sts.amazonaws.com', HIDDEN],
    ],
    'the TOTP code is hidden',
  );
});

test('calls refused by authentication are recorded with the access key they claimed', async (t) => {
  if (!needAwsCli(t)) return;
  const unknown: AwsCredentials = {
    accessKeyId: 'AKIAUNKNOWNKEY000001',
    secretAccessKey: 'x'.repeat(40),
  };
  assert.match(
    aws(['iot', 'list-things'], unknown).stderr,
    /UnrecognizedClientException|InvalidClientTokenId/,
  );
  assert.notEqual(aws(['iam', 'list-users'], unknown).status, 0);
  const admin = adminCredentials(dataDir);
  const forged = { ...admin, secretAccessKey: 'y'.repeat(40) };
  assert.notEqual(aws(['iot', 'list-things'], forged).status, 0);

  const attempts = lookup('AccessKeyId', unknown.accessKeyId).events;
  assert.deepEqual(
    attempts.map((event) => [event.EventSource, event.EventName, event.record.errorCode]),
    [
      ['iam.amazonaws.com', 'ListUsers', 'InvalidClientTokenId'],
      ['iot.amazonaws.com', 'ListThings', 'UnrecognizedClientException'],
    ],
  );
  for (const attempt of attempts)
    assert.deepEqual(attempt.record.userIdentity, {
      type: 'Unknown',
      accessKeyId: unknown.accessKeyId,
    });
  const badSignature = lookup('AccessKeyId', admin.accessKeyId).events.find(
    (event) => event.record.errorCode !== undefined,
  );
  assert.equal(badSignature?.record.errorCode, 'InvalidSignatureException');
  assert.equal(badSignature?.record.userIdentity.type, 'Unknown');
  assert.equal(badSignature?.Username, undefined, 'an unverified claim names no user');
});

test('a call refused before it reaches its handler (a body over the limit) is recorded too', async (t) => {
  if (!needAwsCli(t)) return;
  const admin = adminCredentials(dataDir);
  const tooLarge = await signedRequest(target(), {
    method: 'POST',
    path: '/things/huge',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ attributePayload: { attributes: { a: 'x'.repeat(1024 * 1024) } } }),
  });
  assert.equal(tooLarge.status, 413);
  const [event] = lookup('AccessKeyId', admin.accessKeyId).events.filter(
    (candidate) => candidate.EventName === 'CreateThing',
  ) as [LookedUp];
  assert.equal(event.record.errorCode, 'RequestEntityTooLargeException');
  assert.equal(event.record.requestID, tooLarge.headers['x-amzn-requestid']);
  assert.deepEqual(event.record.userIdentity, { type: 'Unknown', accessKeyId: admin.accessKeyId });
  assert.equal(event.record.requestParameters, null);
});

test('no private key, secret key or payload reaches an event', async (t) => {
  if (!needAwsCli(t)) return;
  const certificate = ok(['iot', 'create-keys-and-certificate']);
  const privateKey = certificate.keyPair.PrivateKey as string;
  assert.match(privateKey, /PRIVATE KEY/);
  const key = ok(['iam', 'create-access-key', '--user-name', 'reader']).AccessKey;
  ok(['iot', 'create-thing', '--thing-name', 'meter']);
  const publishMarker = 'payload-marker-7f3c9a';
  const shadowMarker = 'shadow-marker-2b8e41';
  ok([
    'iot-data',
    'publish',
    '--topic',
    'meters/meter/telemetry',
    '--cli-binary-format',
    'raw-in-base64-out',
    '--payload',
    JSON.stringify({ reading: publishMarker }),
  ]);
  ok([
    'iot-data',
    'update-thing-shadow',
    '--thing-name',
    'meter',
    '--cli-binary-format',
    'raw-in-base64-out',
    '--payload',
    JSON.stringify({ state: { reported: { reading: shadowMarker } } }),
    join(dir, 'shadow-out.json'),
  ]);

  const [created] = lookup('EventName', 'CreateKeysAndCertificate').events as [LookedUp];
  assert.equal(created.record.responseElements.keyPair, HIDDEN);
  assert.equal(created.record.responseElements.certificateId, certificate.certificateId);
  const [newKey] = lookup('EventName', 'CreateAccessKey').events as [LookedUp];
  assert.equal(newKey.record.responseElements.accessKey.accessKeyId, key.AccessKeyId);
  assert.equal(newKey.record.responseElements.accessKey.secretAccessKey, HIDDEN);
  const [published] = lookup('EventName', 'Publish').events as [LookedUp];
  assert.equal(published.record.eventCategory, 'Data');
  assert.equal(published.record.managementEvent, false);
  assert.equal(published.record.requestParameters.topic, 'meters/meter/telemetry');
  assert.deepEqual(published.Resources, [
    {
      ResourceType: 'AWS::IoT::Topic',
      ResourceName: 'arn:aws:iot:us-east-1:000000000000:topic/meters/meter/telemetry',
    },
  ]);
  const [shadow] = lookup('EventName', 'UpdateThingShadow').events as [LookedUp];
  assert.deepEqual(shadow.record.requestParameters, { thingName: 'meter' });
  assert.equal(shadow.record.responseElements, null, 'the shadow document is a payload');

  // Nothing of it anywhere in what the trail answers.
  const everything = aws(['cloudtrail', 'lookup-events']).stdout;
  for (const secret of [
    privateKey.split('\n')[1] as string,
    'PRIVATE KEY',
    key.SecretAccessKey as string,
    publishMarker,
    shadowMarker,
  ])
    assert.ok(!everything.includes(secret), `${secret.slice(0, 12)}… is not in the trail`);
});

function signIn(body: object): Promise<{ status: number; body: CliJson }> {
  const payload = Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const outgoing = httpsRequest(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: server.ready.api,
        agent: new Agent({ ca: serverCa(dataDir) }),
        method: 'POST',
        path: '/console/sign-in',
        headers: {
          'content-type': 'application/json',
          'content-length': payload.length,
          'user-agent': 'console-test/1.0',
        },
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as CliJson }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(payload);
  });
}

test('console sign-in: success with and without MFA, failures, and no password or code recorded', async (t) => {
  if (!needAwsCli(t)) return;
  const password = 'Corr3ct-Horse-Battery-Staple!';
  const mfaPassword = 'An0ther-Long-Passphrase-9?';
  ok(['iam', 'create-user', '--user-name', 'viewer']);
  ok(['iam', 'create-login-profile', '--user-name', 'viewer', '--password', password]);
  ok(['iam', 'create-user', '--user-name', 'guard']);
  ok(['iam', 'create-login-profile', '--user-name', 'guard', '--password', mfaPassword]);
  const device = mfaDevice('guard');
  const code = device.next();

  assert.equal((await signIn({ userName: 'viewer', password })).status, 200);
  const wrongPassword = 'wrong-Passw0rd-zq81';
  assert.equal((await signIn({ userName: 'viewer', password: wrongPassword })).status, 401);
  const typedInNameField = 'Secret-typed-as-name-44';
  assert.equal((await signIn({ userName: typedInNameField, password: 'whatever-1' })).status, 401);
  const withoutCode = await signIn({ userName: 'guard', password: mfaPassword });
  assert.equal(withoutCode.body.mfaRequired, true);
  const signedIn = await signIn({ userName: 'guard', password: mfaPassword, mfaCode: code });
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  assert.equal(signedIn.body.mfaAuthenticated, true);

  const { events, stdout } = lookup('EventSource', 'signin.amazonaws.com');
  const summary = events.map((event) => ({
    name: event.EventName,
    user: event.record.userIdentity.userName,
    result: event.record.responseElements,
    mfa: event.record.additionalEventData?.MFAUsed,
    error: event.record.errorMessage,
  }));
  assert.deepEqual(summary, [
    {
      name: 'ConsoleLogin',
      user: 'guard',
      result: { ConsoleLogin: 'Success' },
      mfa: 'Yes',
      error: undefined,
    },
    {
      name: 'CheckMfa',
      user: 'guard',
      result: { CheckMfa: 'Success' },
      mfa: undefined,
      error: undefined,
    },
    {
      name: 'ConsoleLogin',
      user: HIDDEN,
      result: { ConsoleLogin: 'Failure' },
      mfa: 'No',
      error: 'No username found in supplied account',
    },
    {
      name: 'ConsoleLogin',
      user: 'viewer',
      result: { ConsoleLogin: 'Failure' },
      mfa: 'No',
      error: 'Failed authentication',
    },
    {
      name: 'ConsoleLogin',
      user: 'viewer',
      result: { ConsoleLogin: 'Success' },
      mfa: 'No',
      error: undefined,
    },
  ]);
  for (const event of events) {
    assert.equal(event.record.eventType, 'AwsConsoleSignIn');
    assert.equal(event.record.requestParameters, null);
    assert.equal(event.record.sourceIPAddress, '127.0.0.1');
    assert.equal(event.record.userAgent, 'console-test/1.0');
    assert.equal(event.record.tlsDetails.clientProvidedServerName, 'localhost');
  }
  assert.match((events[0] as LookedUp).record.userIdentity.principalId as string, /^AIDA/);
  for (const secret of [password, mfaPassword, wrongPassword, typedInNameField])
    assert.ok(!stdout.includes(secret), `${secret.slice(0, 6)}… is not in the trail`);
  const records = JSON.stringify(events.map((event) => event.record));
  assert.ok(!records.includes(`"${code}"`), 'the MFA code is not in the trail');
});

test('GetMetrics and LookupEvents are audited too', async (t) => {
  if (!needAwsCli(t)) return;
  const metrics = await signedRequest(target(), { method: 'GET', path: '/metrics', headers: {} });
  assert.equal(metrics.status, 200);
  const [scrape] = lookup('EventName', 'GetMetrics').events as [LookedUp];
  assert.equal(scrape.EventSource, 'bulwark.amazonaws.com');
  assert.equal(scrape.Username, 'admin');
  assert.equal(scrape.record.requestID, metrics.headers['x-amzn-requestid']);
  const lookups = lookup('EventName', 'LookupEvents').events;
  assert.ok(lookups.length > 0);
  assert.equal(lookups[0]?.EventSource, 'cloudtrail.amazonaws.com');
  assert.equal(lookups[0]?.ReadOnly, 'true');
  assert.deepEqual(lookups[0]?.record.requestParameters.lookupAttributes, [
    { attributeKey: 'EventName', attributeValue: 'GetMetrics' },
  ]);
});

/** A restJson1 call signed by the administrator, as the JS SDK sends it. */
function adminCall(on: ApiTarget, method: string, path: string, body?: object) {
  return signedRequest(on, {
    method,
    path,
    headers: body ? { 'content-type': 'application/json' } : {},
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
}

function iamCall(on: ApiTarget, form: Record<string, string>) {
  return signedRequest(
    on,
    {
      method: 'POST',
      path: '/',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, Version: '2010-05-08' }).toString(),
    },
    adminCredentials(on.dataDir),
    { service: 'iam' },
  );
}

/**
 * The store refuses writes to the events table (as a full disk or a revoked grant would) from
 * `refuse()` to `restore()`: the call the trail fails on is answered 500 (it was performed),
 * further changes are refused unperformed (503), reads are not answered (500); once the store
 * takes writes again, so does the trail.
 */
async function auditOutage(
  on: ApiTarget,
  refuse: () => Promise<void>,
  restore: () => Promise<void>,
): Promise<void> {
  assert.equal((await adminCall(on, 'POST', '/things/outage-read', {})).status, 200);
  await refuse();
  const first = await adminCall(on, 'POST', '/things/outage-1', {});
  assert.equal(first.status, 500, first.body);
  assert.equal(first.headers['x-amzn-errortype'], 'InternalFailureException');
  const refused = await adminCall(on, 'POST', '/things/outage-2', {});
  assert.equal(refused.status, 503, refused.body);
  assert.equal(refused.headers['x-amzn-errortype'], 'ServiceUnavailableException');
  assert.match(JSON.parse(refused.body).message as string, /refused without being performed/);
  const iamRefused = await iamCall(on, { Action: 'CreateUser', UserName: 'outage-user' });
  assert.equal(iamRefused.status, 503, iamRefused.body);
  assert.match(iamRefused.body, /<Code>ServiceUnavailable<\/Code>/);
  const read = await adminCall(on, 'GET', '/things/outage-read');
  assert.equal(read.status, 500, 'a read whose event is not written is not answered either');
  const lookupRefused = aws(
    [
      'cloudtrail',
      'lookup-events',
      '--lookup-attributes',
      'AttributeKey=EventName,AttributeValue=CreateThing',
    ],
    undefined,
    on,
  );
  assert.notEqual(lookupRefused.status, 0);

  await restore();
  assert.equal((await adminCall(on, 'GET', '/things/outage-read')).status, 200);
  // The refused calls were not performed; the first was, though it was answered with an error.
  assert.equal((await adminCall(on, 'GET', '/things/outage-2')).status, 404);
  assert.match(
    (await iamCall(on, { Action: 'GetUser', UserName: 'outage-user' })).body,
    /NoSuchEntity/,
  );
  assert.equal((await adminCall(on, 'GET', '/things/outage-1')).status, 200);
  assert.equal((await adminCall(on, 'POST', '/things/after-outage', {})).status, 200);

  const names = lookup('Username', 'admin', on).events.map((event) =>
    [
      event.EventName,
      event.record.requestParameters?.thingName ?? event.record.requestParameters?.userName,
    ].join(' '),
  );
  assert.ok(names.includes('CreateThing after-outage'), names.join(', '));
  for (const unrecorded of [
    'CreateThing outage-1',
    'CreateThing outage-2',
    'CreateUser outage-user',
  ])
    assert.ok(!names.includes(unrecorded), `${unrecorded} could not be recorded`);
}

test('while the trail cannot write [sqlite]: the call it failed on is answered 500, further changes are refused unperformed, until it writes again', async (t) => {
  if (!needAwsCli(t)) return;
  const db = new Database(join(dataDir, 'db', 'bulwark.db'));
  t.after(() => db.close());
  let refusing = false;
  const restore = async () => {
    if (refusing) db.exec('DROP TRIGGER test_refuse_audit');
    refusing = false;
  };
  t.after(restore);
  await auditOutage(
    target(),
    async () => {
      db.exec(
        "CREATE TRIGGER test_refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit writes refused by the test'); END",
      );
      refusing = true;
    },
    restore,
  );
});

test('while the trail cannot write [postgres]: the same', async (t) => {
  if (!needAwsCli(t) || !(await needPostgres(t))) return;
  const schema = uniqueSchema('bulwark_audit_outage');
  t.after(() => dropSchema(schema));
  const pgDataDir = join(tempDir(t, 'bulwark-audit-outage-'), 'data');
  const pgServer = await startServer(
    t,
    ['--data-dir', pgDataDir, '--host', '127.0.0.1', ...EPHEMERAL_PORTS],
    {
      env: {
        BULWARK_STORE_ENGINE: 'postgres',
        BULWARK_STORE_POSTGRES_URL: POSTGRES_URL,
        BULWARK_STORE_POSTGRES_SCHEMA: schema,
      },
    },
  );
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  t.after(() => client.end());
  let refusing = false;
  const restore = async () => {
    if (refusing) await client.query(`DROP TRIGGER test_refuse_audit ON "${schema}".audit_events`);
    refusing = false;
  };
  t.after(restore);
  await auditOutage(
    { port: pgServer.ready.api, dataDir: pgDataDir },
    async () => {
      await client.query(
        `CREATE FUNCTION "${schema}".test_refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit writes refused by the test'; END $$`,
      );
      await client.query(
        `CREATE TRIGGER test_refuse_audit BEFORE INSERT ON "${schema}".audit_events FOR EACH ROW EXECUTE FUNCTION "${schema}".test_refuse_audit()`,
      );
      refusing = true;
    },
    restore,
  );
});
