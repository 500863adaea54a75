// IAM end to end with the AWS CLI v2, as an operator would set it up: a user allowed only
// iot:DescribeThing, a policy that demands MFA for iot:DeleteCertificate (long-term keys refused,
// `aws sts get-session-token` credentials with a TOTP code accepted), and MQTT over WSS judged by
// the signing user's IAM policies.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { ClientOptions } from 'ws';
import {
  awsCliJson,
  createUserWithPolicy,
  enableVirtualMfaDevice,
  needAwsCli,
  serverCa,
  type AwsCliJson,
  type AwsCredentials,
  type CliJson,
} from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS, fileCleanup, startServer, type RunningServer } from '../helpers/cli.js';
import { connectUrlWithInbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';
import { presignedMqttPath } from '../helpers/presigned-mqtt-url.js';

const files = fileCleanup();
const dir = tempDir(files, 'bulwark-iam-e2e-');
const dataDir = join(dir, 'data');
const home = join(dir, 'home');
let server: RunningServer;

before(async () => {
  server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
});

/** `aws …` as the administrator, or as `credentials`; the parsed JSON output. */
function aws(args: string[], credentials?: AwsCredentials): AwsCliJson {
  return awsCliJson({ port: server.ready.api, dataDir }, args, {
    home,
    ...(credentials ? { credentials } : {}),
  });
}

function ok(args: string[], credentials?: AwsCredentials): CliJson {
  const result = aws(args, credentials);
  assert.equal(result.status, 0, `aws ${args.join(' ')}: ${result.stderr}`);
  return result.json;
}

/** A new user with `policy` inline and an access key. */
function userWith(userName: string, policy: object): AwsCredentials {
  return createUserWithPolicy((args) => ok(args), userName, policy);
}

test('a user allowed only iot:DescribeThing can describe a thing and is refused CreateThing', (t) => {
  if (!needAwsCli(t)) return;
  ok(['iot', 'create-thing', '--thing-name', 'boiler']);
  const reader = userWith('reader', {
    Version: '2012-10-17',
    Statement: [{ Sid: 'Describe', Effect: 'Allow', Action: 'iot:DescribeThing', Resource: '*' }],
  });
  assert.equal(ok(['iot', 'describe-thing', '--thing-name', 'boiler'], reader).thingName, 'boiler');
  const refused = aws(['iot', 'create-thing', '--thing-name', 'intruder'], reader);
  assert.notEqual(refused.status, 0);
  assert.match(
    refused.stderr,
    /AccessDeniedException.*User: arn:aws:iam::000000000000:user\/reader is not authorized to perform: iot:CreateThing on resource: arn:aws:iot:us-east-1:000000000000:thing\/intruder because no identity-based policy allows the iot:CreateThing action/,
  );
  // The simulator gives the same answers, naming what decided.
  const simulated = ok([
    'iam',
    'simulate-principal-policy',
    '--policy-source-arn',
    'arn:aws:iam::000000000000:user/reader',
    '--action-names',
    'iot:DescribeThing',
    'iot:CreateThing',
  ]).EvaluationResults as {
    EvalActionName: string;
    EvalDecision: string;
    MatchedStatements: { SourcePolicyId: string }[];
  }[];
  assert.deepEqual(
    simulated.map((result) => [
      result.EvalActionName,
      result.EvalDecision,
      result.MatchedStatements.map((statement) => statement.SourcePolicyId),
    ]),
    [
      ['iot:DescribeThing', 'allowed', ['only-this']],
      ['iot:CreateThing', 'implicitDeny', []],
    ],
  );
  // Nor may it reach IAM itself.
  const escalate = aws(
    [
      'iam',
      'attach-user-policy',
      '--user-name',
      'reader',
      '--policy-arn',
      'arn:aws:iam::000000000000:policy/x',
    ],
    reader,
  );
  assert.match(escalate.stderr, /AccessDenied/);
});

test('MFA required for iot:DeleteCertificate: long-term keys refused, get-session-token credentials with a TOTP code accepted', async (t) => {
  if (!needAwsCli(t)) return;
  const operator = userWith('operator', {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'Everything',
        Effect: 'Allow',
        Action: ['iot:*', 'iam:*MFADevice*', 'iam:ListMFADevices'],
        Resource: '*',
      },
      {
        Sid: 'DeleteOnlyWithMfa',
        Effect: 'Deny',
        Action: 'iot:DeleteCertificate',
        Resource: '*',
        Condition: { BoolIfExists: { 'aws:MultiFactorAuthPresent': 'false' } },
      },
    ],
  });
  const certificateId = ok(['iot', 'create-keys-and-certificate'], operator)
    .certificateId as string;
  ok(
    ['iot', 'update-certificate', '--certificate-id', certificateId, '--new-status', 'INACTIVE'],
    operator,
  );

  const withoutMfa = aws(
    ['iot', 'delete-certificate', '--certificate-id', certificateId],
    operator,
  );
  assert.notEqual(withoutMfa.status, 0);
  assert.match(withoutMfa.stderr, /AccessDeniedException.*explicit deny/);

  // The operator enrols a virtual MFA device, as with an authenticator app.
  const { serialNumber, used, next } = enableVirtualMfaDevice(
    (args) => ok(args, operator),
    'operator',
    join(dir, 'seed.txt'),
  );
  // A code already used (to enable the device) is refused.
  const replay = aws(
    ['sts', 'get-session-token', '--serial-number', serialNumber, '--token-code', used],
    operator,
  );
  assert.notEqual(replay.status, 0);
  const session = ok(
    ['sts', 'get-session-token', '--serial-number', serialNumber, '--token-code', next],
    operator,
  ).Credentials;
  assert.match(session.AccessKeyId, /^ASIA/);
  const temporary: AwsCredentials = {
    accessKeyId: session.AccessKeyId,
    secretAccessKey: session.SecretAccessKey,
    sessionToken: session.SessionToken,
  };
  ok(['iot', 'delete-certificate', '--certificate-id', certificateId], temporary);
  const gone = aws(['iot', 'describe-certificate', '--certificate-id', certificateId], temporary);
  assert.match(gone.stderr, /ResourceNotFoundException/);
});

test("MQTT over WSS is judged by the signing user's IAM policies", async (t) => {
  if (!needAwsCli(t)) return;
  const publisher = userWith('telemetry-writer', {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: 'arn:aws:iot:us-east-1:000000000000:client/writer-*',
      },
      {
        Effect: 'Allow',
        Action: 'iot:Publish',
        Resource: 'arn:aws:iot:us-east-1:000000000000:topic/telemetry/*',
      },
    ],
  });
  const url = `wss://127.0.0.1:${server.ready.api}${await presignedMqttPath(server.ready.api, publisher)}`;
  const sni: ClientOptions & { servername: string } = { servername: 'localhost' };
  const tls = { ca: serverCa(dataDir), wsOptions: sni };
  const { client } = await connectUrlWithInbox(t, url, {
    ...tls,
    protocolVersion: 5,
    clientId: 'writer-1',
  });
  await client.publishAsync('telemetry/boiler', 'ok', { qos: 1 });
  await assert.rejects(client.publishAsync('commands/boiler', 'no', { qos: 1 }), /Not authorized/i);
  // MQTT 5 SUBACK 0x87: the policy grants no iot:Subscribe.
  const suback = await client.subscribeAsync('telemetry/#', { qos: 1 }).then(
    (granted) => granted[0]?.qos as number,
    (error: { packet?: { granted?: (number | { qos: number })[] } }) => {
      const granted = error.packet?.granted?.[0];
      return typeof granted === 'number' ? granted : (granted?.qos ?? -1);
    },
  );
  assert.equal(suback, 0x87);
  // Another client id is refused at CONNECT.
  await assert.rejects(
    connectUrlWithInbox(t, url, { ...tls, protocolVersion: 5, clientId: 'other' }),
  );
  // A policy change reaches the live connection (its policies are reloaded every 2 s of use).
  ok([
    'iam',
    'put-user-policy',
    '--user-name',
    'telemetry-writer',
    '--policy-name',
    'only-this',
    '--policy-document',
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }],
    }),
  ]);
  await eventually(
    () =>
      client.publishAsync('telemetry/boiler', 'after the change', { qos: 1 }).then(
        () => false,
        () => true,
      ),
    'publishing refused once the policy no longer allows it',
    10_000,
    250,
  );
});

test("a managed policy's new default version governs the next request; versions are listed, capped and never reused", (t) => {
  if (!needAwsCli(t)) return;
  const arn = 'arn:aws:iam::000000000000:policy/thing-readers';
  const allow = (action: string) =>
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
    });
  ok([
    'iam',
    'create-policy',
    '--policy-name',
    'thing-readers',
    '--policy-document',
    allow('iot:ListThings'),
  ]);
  ok(['iam', 'create-user', '--user-name', 'auditor']);
  ok(['iam', 'attach-user-policy', '--user-name', 'auditor', '--policy-arn', arn]);
  const key = ok(['iam', 'create-access-key', '--user-name', 'auditor']).AccessKey;
  const auditor = { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey };
  ok(['iot', 'list-things'], auditor);
  assert.match(aws(['iot', 'list-thing-types'], auditor).stderr, /AccessDeniedException/);

  const v2 = ok([
    'iam',
    'create-policy-version',
    '--policy-arn',
    arn,
    '--policy-document',
    allow('iot:ListThingTypes'),
    '--set-as-default',
  ]);
  assert.deepEqual([v2.PolicyVersion.VersionId, v2.PolicyVersion.IsDefaultVersion], ['v2', true]);
  ok(['iot', 'list-thing-types'], auditor);
  assert.match(aws(['iot', 'list-things'], auditor).stderr, /AccessDeniedException/);

  const deleteDefault = aws([
    'iam',
    'delete-policy-version',
    '--policy-arn',
    arn,
    '--version-id',
    'v2',
  ]);
  assert.match(deleteDefault.stderr, /DeleteConflict/);
  ok(['iam', 'set-default-policy-version', '--policy-arn', arn, '--version-id', 'v1']);
  ok(['iot', 'list-things'], auditor);
  for (let version = 3; version <= 5; version++)
    ok([
      'iam',
      'create-policy-version',
      '--policy-arn',
      arn,
      '--policy-document',
      allow('iot:DescribeThing'),
    ]);
  assert.match(
    aws([
      'iam',
      'create-policy-version',
      '--policy-arn',
      arn,
      '--policy-document',
      allow('iot:DescribeThing'),
    ]).stderr,
    /LimitExceeded/,
  );
  ok(['iam', 'delete-policy-version', '--policy-arn', arn, '--version-id', 'v5']);
  const v6 = ok([
    'iam',
    'create-policy-version',
    '--policy-arn',
    arn,
    '--policy-document',
    allow('iot:DescribeThing'),
  ]);
  assert.equal(v6.PolicyVersion.VersionId, 'v6', 'a deleted version number is not given again');
  const versions = ok(['iam', 'list-policy-versions', '--policy-arn', arn]).Versions as {
    VersionId: string;
    IsDefaultVersion: boolean;
  }[];
  assert.deepEqual(
    versions.map((version) => [version.VersionId, version.IsDefaultVersion]),
    [
      ['v6', false],
      ['v4', false],
      ['v3', false],
      ['v2', false],
      ['v1', true],
    ],
  );
  const entities = ok(['iam', 'list-entities-for-policy', '--policy-arn', arn]);
  assert.deepEqual(
    entities.PolicyUsers.map((user: { UserName: string }) => user.UserName),
    ['auditor'],
  );
  assert.deepEqual(entities.PolicyGroups, []);
});
