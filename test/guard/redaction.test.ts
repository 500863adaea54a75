// Redaction of Bulwark's own logs and audit events, through the real server: a device whose MQTT
// client id holds an AWS secret key (DP-6.4) and whose topic holds an e-mail address, an API call
// with an e-mail in a thing attribute read back with `aws cloudtrail lookup-events`, the device
// log file, and presigned WSS URLs whose signature and token must reach no log (DP-7.4).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocket, type ClientOptions } from 'ws';
import { adminCredentials, needAwsCli, runAwsCli, serverCa } from '../helpers/aws-api.js';
import {
  EPHEMERAL_PORTS_WITH_DEV,
  fileCleanup,
  runCli,
  startServer,
  type RunningServer,
} from '../helpers/cli.js';
import { connectClient, connectUrlWithInbox } from '../helpers/mqtt-clients.js';
import { presignedMqttPath } from '../helpers/presigned-mqtt-url.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

const files = fileCleanup();
const root = tempDir(files, 'bulwark-redaction-');
const dataDir = join(root, 'data');
const home = join(root, 'home');
const logDir = join(root, 'logs');
const logFile = join(logDir, 'device.log');
const server: RunningServer = await startServer(
  files,
  ['--data-dir', dataDir, '--host', '127.0.0.1', ...EPHEMERAL_PORTS_WITH_DEV],
  {
    env: {
      BULWARK_LOG_LEVEL: 'DEBUG',
      BULWARK_LOG_DEVICE_LEVEL: 'DEBUG',
      BULWARK_LOG_FILE: logFile,
    },
  },
);
const target = { port: server.ready.api, dataDir };

/** Every value planted in this file; none may reach a log, a log file or the audit trail. */
const PLANTED: string[] = [];
function plant<T extends string>(value: T): T {
  PLANTED.push(value);
  return value;
}

/** A secret access key as AWS makes them: 40 characters, upper and lower case and digits. */
function awsSecretKey(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  for (;;) {
    const key = [...randomBytes(40)].map((byte) => alphabet[byte % alphabet.length]).join('');
    if (/[a-z]/.test(key) && /[A-Z]/.test(key) && /\d/.test(key)) return key;
  }
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- CloudTrail records are read loosely
type Json = Record<string, any>;

const emailAddress = () => `owner-${randomBytes(4).toString('hex')}@fleet-ops.net`;

/** The device log files: the current one and the rotated ones beside it. */
function logFileText(): string {
  if (!existsSync(logDir)) return '';
  return readdirSync(logDir)
    .filter((name) => name.startsWith('device.log'))
    .map((name) => readFileSync(join(logDir, name), 'utf8'))
    .join('');
}

/** Every line of `text` is a JSON document (redaction keeps lines valid). */
function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function assertNothingPlanted(where: string, text: string): void {
  for (const value of PLANTED)
    assert.ok(!text.includes(value), `${where} holds a planted value (${value.length} characters)`);
}

test('DP-6.4: an AWS secret key in an MQTT client id reaches the log as [REDACTED:AWS_CREDENTIALS]', async (t) => {
  const secret = plant(awsSecretKey());
  const email = plant(emailAddress());
  const clientId = `aws_secret_access_key=${secret}`;
  const client = await connectClient(t, server.ready.dev as number, { clientId });
  // The topic is logged too (Publish-In at INFO): a personal address in it is redacted.
  await client.publishAsync(`fleet/${email}/state`, '{"on":true}', { qos: 1 });
  await eventually(
    () =>
      jsonLines(server.stderr()).some(
        (entry) =>
          entry.eventType === 'Publish-In' &&
          entry.topicName === 'fleet/[REDACTED:EMAIL_ADDRESS]/state',
      ),
    'the Publish-In entry with its topic redacted',
  );
  const connect = jsonLines(server.stderr()).find(
    (entry) => entry.eventType === 'Connect' && entry.status === 'Success',
  );
  assert.equal(connect?.clientId, 'aws_secret_access_key=[REDACTED:AWS_CREDENTIALS]');
  assertNothingPlanted('stderr', server.stderr());
});

test('an e-mail address in a thing attribute is [REDACTED:EMAIL_ADDRESS] in LookupEvents, and the chain still verifies', (t) => {
  if (!needAwsCli(t)) return;
  const email = plant(emailAddress());
  const thingName = `redaction-${process.pid}`;
  const created = runAwsCli(
    target,
    [
      'iot',
      'create-thing',
      '--thing-name',
      thingName,
      '--attribute-payload',
      JSON.stringify({ attributes: { owner: email, model: 'r2' } }),
    ],
    { home },
  );
  assert.equal(created.status, 0, created.stderr);
  const lookup = runAwsCli(
    target,
    [
      'cloudtrail',
      'lookup-events',
      '--lookup-attributes',
      `AttributeKey=ResourceName,AttributeValue=arn:aws:iot:us-east-1:000000000000:thing/${thingName}`,
    ],
    { home },
  );
  assert.equal(lookup.status, 0, lookup.stderr);
  assertNothingPlanted('lookup-events', lookup.stdout);
  const events = (JSON.parse(lookup.stdout) as { Events: { CloudTrailEvent: string }[] }).Events;
  const record = events
    .map((event) => JSON.parse(event.CloudTrailEvent) as Json)
    .find((candidate) => candidate.eventName === 'CreateThing');
  assert.ok(record, lookup.stdout);
  assert.deepEqual(record.requestParameters.attributePayload.attributes, {
    owner: '[REDACTED:EMAIL_ADDRESS]',
    model: 'r2',
  });
  // Identifiers are left alone: the caller's key, the source address, the event's ids.
  assert.equal(record.userIdentity.accessKeyId, adminCredentials(dataDir).accessKeyId);
  assert.equal(record.sourceIPAddress, '127.0.0.1');
  assert.match(record.eventID, /^[0-9a-f-]{36}$/);
  const verify = runCli(['audit', 'verify', '--data-dir', dataDir]);
  assert.equal(verify.status, 0, verify.stdout + verify.stderr);
  // The whole trail, the field guard's warning event included, holds no planted value.
  const exported = runCli(['audit', 'export', '--data-dir', dataDir, '--format', 'jsonl']);
  assert.equal(exported.status, 0, exported.stderr);
  assert.ok(exported.stdout.includes('[REDACTED:EMAIL_ADDRESS]'));
  assertNothingPlanted('the audit export', exported.stdout);
});

/** The status a WebSocket upgrade to `path` is answered with (101 when accepted). */
function upgradeStatus(path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    // ws hands these to tls.connect, servername (the SNI) included, though its types omit it.
    const options: ClientOptions & { servername: string } = {
      ca: serverCa(dataDir),
      servername: 'localhost',
    };
    const ws = new WebSocket(`wss://127.0.0.1:${server.ready.api}${path}`, 'mqtt', options);
    ws.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('error', reject);
  });
}

test('DP-7.4: no log line holds the signature or session token of a presigned WSS URL', async (t) => {
  const admin = adminCredentials(dataDir);
  const signed = await presignedMqttPath(server.ready.api, admin);
  const signature = plant(new URL(signed, 'https://h').searchParams.get('X-Amz-Signature') ?? '');
  assert.match(signature, /^[0-9a-f]{64}$/);
  await connectUrlWithInbox(t, `wss://127.0.0.1:${server.ready.api}${signed}`, {
    ca: serverCa(dataDir),
    wsOptions: { servername: 'localhost' } as ClientOptions,
    clientId: `signed-${process.pid}`,
  });
  // A session token that no key issued: refused, logged and audited as a refusal.
  const token = plant(randomBytes(48).toString('base64url'));
  const refused = await presignedMqttPath(server.ready.api, { ...admin, sessionToken: token });
  assert.notEqual(await upgradeStatus(refused), 101);
  await eventually(
    () => server.stderr().includes('WebSocket upgrade refused'),
    'the refused upgrade in the log',
  );
  assertNothingPlanted('stderr', server.stderr());
});

test('the device log file holds the redacted entries and no planted value', async () => {
  await eventually(
    () => logFileText().includes('[REDACTED:AWS_CREDENTIALS]'),
    'the redacted Connect entry in the log file',
  );
  const text = logFileText();
  assert.ok(jsonLines(text).length > 0);
  assert.ok(text.includes('fleet/[REDACTED:EMAIL_ADDRESS]/state'));
  assertNothingPlanted('the device log file', text);
  assertNothingPlanted('stderr', server.stderr());
});
