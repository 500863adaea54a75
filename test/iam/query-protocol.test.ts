// The Query protocol in process, over a real store, at a clock the test moves: MFA through an
// injected verifier, session expiry, what is authorized on which resource, and last-use writes.
import { SignatureV4 } from '@smithy/signature-v4';
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { pino } from 'pino';
import { migrations } from '../../src/app/migrations.js';
import { sigV4Authenticator, type Authenticate } from '../../src/iam/authenticate.js';
import type { MfaVerifier } from '../../src/iam/mfa-verifier.js';
import {
  createIamQueryServices,
  iamQueryActions,
  QueryProtocol,
  type IamQueryServices,
  type QueryHttpRequest,
  type QueryHttpResponse,
} from '../../src/iam/query/index.js';
import { NodeSha256 } from '../../src/iam/sigv4.js';
import { newLocation, openHarnessAt } from '../helpers/store-harness.js';
import { eventually } from '../helpers/wait.js';

const ACCOUNT_ID = '123456789012';
const ACCOUNT = { region: 'eu-west-1', accountId: ACCOUNT_ID };
const HOST = 'bulwark.example';
const SERIAL = `arn:aws:iam::${ACCOUNT_ID}:mfa/ops`;
const DENY_ALL =
  '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iot:*","Resource":"*"}}';

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

interface Setup {
  iam: IamQueryServices;
  clock: { now: number };
  ops: Credentials;
  authorized: [string, string][];
  authenticate: Authenticate;
  /** The form signed with `credentials` at the test's clock, as it would arrive. */
  sign(
    form: Record<string, string>,
    credentials: Credentials,
    service?: 'iam' | 'sts',
  ): Promise<QueryHttpRequest>;
  call(
    form: Record<string, string>,
    credentials: Credentials,
    service?: 'iam' | 'sts',
  ): Promise<QueryHttpResponse>;
}

async function setup(t: TestContext, mfaVerifier?: MfaVerifier): Promise<Setup> {
  const location = await newLocation(t, 'sqlite');
  assert.ok(location);
  const harness = await openHarnessAt(location, migrations);
  t.after(() => harness.close());
  const clock = { now: Date.parse('2026-06-01T12:00:00Z') };
  const now = () => clock.now;
  const logger = pino({ level: 'silent' });
  const iam = createIamQueryServices(harness.store, ACCOUNT_ID, {
    now,
    ...(mfaVerifier ? { mfaVerifier } : {}),
  });
  await iam.users.createUser('ops');
  const key = await iam.users.createAccessKey('ops');
  const authorized: [string, string][] = [];
  const authenticate = sigV4Authenticator({
    users: iam.users,
    sessions: iam.sessions,
    account: ACCOUNT,
    logger,
    now,
  });
  const protocol = new QueryProtocol({
    actions: iamQueryActions(iam),
    account: ACCOUNT,
    authenticate,
    async authorize(_caller, action, resource) {
      authorized.push([action, resource]);
    },
    logger,
  });
  const sign: Setup['sign'] = async (form, credentials, service = 'iam') => {
    const body = new URLSearchParams(form).toString();
    const signed = await new SignatureV4({
      credentials,
      region: 'us-east-1',
      service,
      sha256: NodeSha256,
    }).sign(
      {
        method: 'POST',
        protocol: 'https:',
        hostname: HOST,
        path: '/',
        query: {},
        headers: { host: HOST, 'content-type': 'application/x-www-form-urlencoded' },
        body,
      },
      { signingDate: new Date(clock.now) },
    );
    return {
      method: 'POST',
      rawUrl: '/',
      rawHeaders: Object.entries(signed.headers).flat(),
      contentType: 'application/x-www-form-urlencoded',
      body: Buffer.from(body),
      requestId: 'test-request',
      sourceIp: '127.0.0.1',
      userAgent: 'test',
    };
  };
  return {
    iam,
    clock,
    ops: { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
    authorized,
    authenticate,
    sign,
    call: async (form, credentials, service) =>
      protocol.serve(await sign(form, credentials, service)),
  };
}

/** The text of the first `<name>` element. */
function element(xml: string, name: string): string {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml);
  assert.ok(match, `no <${name}> in ${xml}`);
  return match[1] as string;
}

function sessionOf(response: QueryHttpResponse): Credentials & { expiration: string } {
  assert.equal(response.status, 200, response.body);
  return {
    accessKeyId: element(response.body, 'AccessKeyId'),
    secretAccessKey: element(response.body, 'SecretAccessKey'),
    sessionToken: element(response.body, 'SessionToken'),
    expiration: element(response.body, 'Expiration'),
  };
}

function assertError(response: QueryHttpResponse, status: number, code: string, message?: RegExp) {
  assert.equal(response.status, status, response.body);
  assert.equal(element(response.body, 'Code'), code);
  if (message) assert.match(element(response.body, 'Message'), message);
}

const getSessionToken = (extra: Record<string, string> = {}) => ({
  Action: 'GetSessionToken',
  Version: '2011-06-15',
  ...extra,
});

test('GetSessionToken with MFA: the verifier decides, and the credentials carry the MFA time', async (t) => {
  const asked: [string, string, string][] = [];
  const verifier: MfaVerifier = {
    async verify(userName, serialNumber, code) {
      asked.push([userName, serialNumber, code]);
      return code === '123456' ? 'ok' : code === '000000' ? 'locked' : 'invalid';
    },
  };
  const s = await setup(t, verifier);
  const issuedAt = s.clock.now;
  const session = sessionOf(
    await s.call(getSessionToken({ SerialNumber: SERIAL, TokenCode: '123456' }), s.ops, 'sts'),
  );
  assert.deepEqual(asked, [['ops', SERIAL, '123456']]);
  assert.equal(
    session.expiration,
    new Date(issuedAt + 43_200_000).toISOString().replace('.000', ''),
  );

  s.clock.now += 5000;
  // With MFA, session credentials may call IAM (as AWS allows).
  const user = await s.call({ Action: 'GetUser', Version: '2010-05-08' }, session);
  assert.equal(user.status, 200, user.body);
  assert.equal(element(user.body, 'UserName'), 'ops');
  const caller = await s.authenticate(
    await s.sign({ Action: 'GetCallerIdentity', Version: '2011-06-15' }, session, 'sts'),
    'sts',
  );
  assert.equal(caller.mfaAuthenticated, true);
  assert.equal(caller.mfaAuthenticatedAt, issuedAt);

  assertError(
    await s.call(getSessionToken({ SerialNumber: SERIAL, TokenCode: '654321' }), s.ops, 'sts'),
    403,
    'AccessDenied',
    /^MultiFactorAuthentication failed with invalid MFA one time pass code\. $/,
  );
  assertError(
    await s.call(getSessionToken({ SerialNumber: SERIAL, TokenCode: '000000' }), s.ops, 'sts'),
    403,
    'AccessDenied',
    /too many failed attempts/,
  );
  assertError(
    await s.call(getSessionToken({ TokenCode: '123456' }), s.ops, 'sts'),
    403,
    'AccessDenied',
    /must provide both MFA serial number and one time pass code/,
  );
  assertError(
    await s.call(getSessionToken({ SerialNumber: SERIAL, TokenCode: '12345' }), s.ops, 'sts'),
    400,
    'ValidationError',
    /tokenCode/,
  );
  assert.equal(asked.length, 3, 'malformed and incomplete codes never reach the verifier');
});

test('the request context: long-term keys have no MFA; sessions without MFA have none and cannot call IAM', async (t) => {
  const s = await setup(t);
  const identity = { Action: 'GetCallerIdentity', Version: '2011-06-15' };
  const longTerm = await s.authenticate(await s.sign(identity, s.ops, 'sts'), 'sts');
  assert.equal(longTerm.mfaAuthenticated, false);
  assert.equal('mfaAuthenticatedAt' in longTerm, false);
  const session = sessionOf(await s.call(getSessionToken(), s.ops, 'sts'));
  const temporary = await s.authenticate(await s.sign(identity, session, 'sts'), 'sts');
  assert.equal(temporary.mfaAuthenticated, false);
  assert.equal('mfaAuthenticatedAt' in temporary, false);
  assertError(
    await s.call({ Action: 'ListUsers', Version: '2010-05-08' }, session),
    403,
    'InvalidClientTokenId',
  );
  const caller = await s.call(identity, session, 'sts');
  assert.equal(element(caller.body, 'Arn'), `arn:aws:iam::${ACCOUNT_ID}:user/ops`);
});

test('session credentials expire at their Expiration (ExpiredToken), and are forgotten a day later', async (t) => {
  const s = await setup(t);
  const session = sessionOf(
    await s.call(getSessionToken({ DurationSeconds: '900' }), s.ops, 'sts'),
  );
  const identity = { Action: 'GetCallerIdentity', Version: '2011-06-15' };
  s.clock.now += 899_000;
  assert.equal((await s.call(identity, session, 'sts')).status, 200);
  s.clock.now += 1000;
  assertError(
    await s.call(identity, session, 'sts'),
    403,
    'ExpiredToken',
    /^The security token included in the request is expired$/,
  );
  // A changed token is not this session's: unknown, not expired.
  assertError(
    await s.call(identity, { ...session, sessionToken: `x${session.sessionToken}` }, 'sts'),
    403,
    'InvalidClientTokenId',
  );
  s.clock.now += 25 * 60 * 60 * 1000;
  sessionOf(await s.call(getSessionToken(), s.ops, 'sts'));
  assertError(await s.call(identity, session, 'sts'), 403, 'InvalidClientTokenId');
});

test('each action is authorized as {service}:{Action} on its resource; STS authentication calls are not', async (t) => {
  const s = await setup(t);
  const arn = (kind: string, name: string) => `arn:aws:iam::${ACCOUNT_ID}:${kind}/${name}`;
  const calls: [Record<string, string>, [string, string] | undefined][] = [
    [{ Action: 'CreateUser', UserName: 'u1' }, ['iam:CreateUser', arn('user', 'u1')]],
    [{ Action: 'GetUser' }, ['iam:GetUser', arn('user', 'ops')]],
    [{ Action: 'ListUsers' }, ['iam:ListUsers', '*']],
    [{ Action: 'CreateGroup', GroupName: 'g1' }, ['iam:CreateGroup', arn('group', 'g1')]],
    [
      { Action: 'AddUserToGroup', GroupName: 'g1', UserName: 'u1' },
      ['iam:AddUserToGroup', arn('group', 'g1')],
    ],
    [
      { Action: 'CreatePolicy', PolicyName: 'p1', PolicyDocument: DENY_ALL },
      ['iam:CreatePolicy', arn('policy', 'p1')],
    ],
    [
      { Action: 'AttachUserPolicy', UserName: 'u1', PolicyArn: arn('policy', 'p1') },
      ['iam:AttachUserPolicy', arn('user', 'u1')],
    ],
    [{ Action: 'CreateAccessKey' }, ['iam:CreateAccessKey', arn('user', 'ops')]],
    [
      { Action: 'GetAccessKeyLastUsed', AccessKeyId: s.ops.accessKeyId },
      ['iam:GetAccessKeyLastUsed', arn('user', 'ops')],
    ],
  ];
  for (const [form, expected] of calls) {
    s.authorized.length = 0;
    const response = await s.call({ Version: '2010-05-08', ...form }, s.ops);
    assert.equal(response.status, 200, `${form.Action}: ${response.body}`);
    assert.deepEqual(s.authorized, [expected], form.Action);
  }
  s.authorized.length = 0;
  for (const action of ['GetCallerIdentity', 'GetSessionToken'])
    assert.equal(
      (await s.call({ Action: action, Version: '2011-06-15' }, s.ops, 'sts')).status,
      200,
    );
  assert.deepEqual(s.authorized, []);
});

test("an access key's last use is written at most once a minute", async (t) => {
  const s = await setup(t);
  const lastUsed = async () =>
    (await s.iam.users.accessKeyLastUsed(s.ops.accessKeyId)).lastUsed?.date.getTime();
  const identity = { Action: 'GetCallerIdentity', Version: '2011-06-15' };
  const first = s.clock.now;
  await s.call(identity, s.ops, 'sts');
  await eventually(async () => (await lastUsed()) === first, 'the first use is recorded');
  s.clock.now += 30_000;
  await s.call(identity, s.ops, 'sts');
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(await lastUsed(), first, 'no write within the minute');
  s.clock.now += 31_000;
  await s.call({ Action: 'ListUsers', Version: '2010-05-08' }, s.ops);
  await eventually(async () => (await lastUsed()) === s.clock.now, 'a use a minute later');
  const used = await s.iam.users.accessKeyLastUsed(s.ops.accessKeyId);
  assert.equal(used.lastUsed?.serviceName, 'iam');
  assert.equal(used.lastUsed?.region, 'us-east-1');
});

test('deleting a user ends its sessions', async (t) => {
  const s = await setup(t);
  await s.iam.users.createUser('temp');
  const key = await s.iam.users.createAccessKey('temp');
  const session = sessionOf(
    await s.call(
      getSessionToken(),
      { accessKeyId: key.accessKeyId, secretAccessKey: key.secretAccessKey },
      'sts',
    ),
  );
  await s.iam.users.deleteAccessKey('temp', key.accessKeyId);
  await s.iam.users.deleteUser('temp');
  assertError(
    await s.call({ Action: 'GetCallerIdentity', Version: '2011-06-15' }, session, 'sts'),
    403,
    'InvalidClientTokenId',
  );
});
