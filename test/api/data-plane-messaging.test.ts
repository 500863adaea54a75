// The HTTPS data plane's messaging operations (Publish, GetRetainedMessage, ListRetainedMessages)
// driven by real clients — the AWS SDK v3 (`@aws-sdk/client-iot-data-plane`), the AWS CLI v2 and,
// for devices, plain HTTPS with a client certificate as AWS's own curl examples do — against a
// real `bulwark serve`, with MQTT.js subscribers on the dev listener watching what arrives.
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  IoTClient,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import {
  GetRetainedMessageCommand,
  IoTDataPlaneClient,
  ListRetainedMessagesCommand,
  PublishCommand,
  type RetainedMessageSummary,
} from '@aws-sdk/client-iot-data-plane';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  adminCredentials,
  iotClient,
  needAwsCli,
  REGION,
  runAwsCli,
  serverCa,
  signedRequest,
  type ApiTarget,
} from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS_WITH_DEV, fileCleanup, startServer } from '../helpers/cli.js';
import { connectWithInbox, type Inbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';

const ACCOUNT_ID = '123456789012';
const MAX_PAYLOAD_BYTES = 128 * 1024;
const files = fileCleanup();
const dataDir = join(tempDir(files, 'bulwark-data-plane-'), 'data');
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV], {
  env: { BULWARK_ACCOUNT_ID: ACCOUNT_ID },
});
const target: ApiTarget = { port: server.ready.api, dataDir };
const home = tempDir(files, 'bulwark-aws-home-');
const iot: IoTClient = iotClient(target);
const data = new IoTDataPlaneClient({
  endpoint: `https://127.0.0.1:${target.port}`,
  region: REGION,
  credentials: adminCredentials(dataDir),
  maxAttempts: 1,
  requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ ca: serverCa(dataDir) }) }),
});
files.after(() => data.destroy());
files.after(() => iot.destroy());
let unique = 0;

/** A topic prefix no other test uses. */
function prefix(name: string): string {
  return `${name}-${process.pid}-${++unique}`;
}

/** An MQTT 5 client on the dev listener (policy `dev-listener`: everything), subscribed to `filter`. */
async function subscriber(t: TestContext, filter: string): Promise<Inbox> {
  const { client, messages } = await connectWithInbox(t, server.ready.dev as number, {
    protocolVersion: 5,
    clientId: prefix('watcher'),
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return messages;
}

/** Waits for stragglers, then checks that exactly `count` messages arrived in all. */
async function assertReceivedInAll(inbox: Inbox, count: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const topics = inbox.messages.map((message) => message.topic);
  assert.equal(topics.length, count, `messages arrived on: ${topics.join(', ')}`);
}

/** The AWS error type a rejected SDK call carries. */
async function sdkErrorName(call: Promise<unknown>): Promise<string> {
  const error = await call.then(
    () => assert.fail('the call succeeded'),
    (failure: { name?: string }) => failure,
  );
  return error.name as string;
}

// ---- devices: HTTPS with a client certificate, authorized by IoT policies ----

interface DeviceCredentials {
  certificateId: string;
  certificateArn: string;
  cert: string;
  key: string;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

async function newDevice(policyName: string): Promise<DeviceCredentials> {
  const created = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(new AttachPolicyCommand({ policyName, target: created.certificateArn }));
  return {
    certificateId: created.certificateId as string,
    certificateArn: created.certificateArn as string,
    cert: created.certificatePem as string,
    key: created.keyPair?.PrivateKey as string,
  };
}

/** One unsigned request on a new TLS connection, with the device's certificate if given. */
function deviceRequest(
  method: string,
  path: string,
  options: { device?: DeviceCredentials; body?: string; headers?: Record<string, string> } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = httpsRequest(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port: target.port,
        ca: serverCa(dataDir),
        agent: false,
        method,
        path,
        headers: options.headers ?? {},
        ...(options.device ? { cert: options.device.cert, key: options.device.key } : {}),
      },
      (response) => {
        let body = '';
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(options.body);
  });
}

function assertForbidden(answer: Answer, what: string): void {
  assert.equal(answer.status, 403, `${what}: ${answer.body}`);
  assert.equal(answer.headers['x-amzn-errortype'], 'ForbiddenException', what);
}

const DEVICE_TOPICS_POLICY = 'https-devices-d1';
const THING_TOPICS_POLICY = 'https-thing-topics';
await iot.send(
  new CreatePolicyCommand({
    policyName: DEVICE_TOPICS_POLICY,
    policyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'iot:Publish',
          Resource: `arn:aws:iot:${REGION}:${ACCOUNT_ID}:topic/devices/d1/*`,
        },
      ],
    }),
  }),
);
await iot.send(
  new CreatePolicyCommand({
    policyName: THING_TOPICS_POLICY,
    policyDocument: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['iot:Publish', 'iot:RetainPublish', 'iot:GetRetainedMessage'],
          Resource: `arn:aws:iot:${REGION}:${ACCOUNT_ID}:topic/things/\${iot:Connection.Thing.ThingName}/*`,
        },
      ],
    }),
  }),
);

/**
 * The user properties as the SDK and the CLI send them: a JSON array of one-member objects. A
 * name may repeat; the broker keeps a name's values together (MQTT.js and mqtt-packet model
 * them as a map), so they are given together here to round-trip exactly.
 */
const USER_PROPERTIES = [{ device: 'alpha' }, { device: 'beta' }, { unit: '°C' }];

test('SDK Publish: a topic with "/", "%" and spaces reaches an MQTT 5 subscriber with every MQTT 5 property as sent', async (t) => {
  const topic = `${prefix('sdk')}/dév ice%41/temp`;
  const inbox = await subscriber(t, `${topic.split('/')[0]}/#`);
  const payload = Buffer.from('{"celsius":21.5}');
  await data.send(
    new PublishCommand({
      topic,
      qos: 1,
      payload,
      userProperties: JSON.stringify(USER_PROPERTIES),
      payloadFormatIndicator: 'UTF8_DATA',
      contentType: 'application/json',
      responseTopic: `${topic}/reply`,
      correlationData: Buffer.from([0, 1, 2, 0xff]).toString('base64'),
      messageExpiry: 60,
    }),
  );
  const received = await inbox.next();
  assert.equal(received.topic, topic);
  assert.deepEqual(received.payload, payload);
  assert.equal(received.packet.qos, 1);
  const properties = received.packet.properties ?? {};
  assert.deepEqual({ ...properties.userProperties }, { device: ['alpha', 'beta'], unit: '°C' });
  assert.equal(properties.payloadFormatIndicator, true);
  assert.equal(properties.contentType, 'application/json');
  assert.equal(properties.responseTopic, `${topic}/reply`);
  assert.deepEqual(properties.correlationData, Buffer.from([0, 1, 2, 0xff]));
  assert.ok(
    (properties.messageExpiryInterval as number) > 0 &&
      (properties.messageExpiryInterval as number) <= 60,
  );
});

test('SDK: a retained message is readable by GetRetainedMessage, listed in topic order page by page, and deleted by an empty retained publish', async (t) => {
  const base = prefix('retained');
  const topics = [`${base}/c`, `${base}/a`, `${base}/b`];
  const before = Date.now();
  for (const [index, topic] of topics.entries())
    await data.send(
      new PublishCommand({
        topic,
        qos: index === 0 ? 1 : 0,
        retain: true,
        payload: Buffer.from(`reading ${index}`),
        ...(index === 0 ? { userProperties: JSON.stringify(USER_PROPERTIES) } : {}),
      }),
    );
  const after = Date.now();

  const got = await data.send(new GetRetainedMessageCommand({ topic: `${base}/c` }));
  assert.equal(got.topic, `${base}/c`);
  assert.equal(Buffer.from(got.payload as Uint8Array).toString(), 'reading 0');
  assert.equal(got.qos, 1);
  assert.ok(
    (got.lastModifiedTime as number) >= before && (got.lastModifiedTime as number) <= after,
  );
  assert.deepEqual(
    JSON.parse(Buffer.from(got.userProperties as Uint8Array).toString()),
    USER_PROPERTIES,
  );

  // Paging with maxResults=1 follows nextToken through every retained topic, in order.
  const listed: RetainedMessageSummary[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await data.send(new ListRetainedMessagesCommand({ maxResults: 1, nextToken }));
    assert.ok((page.retainedTopics ?? []).length <= 1);
    listed.push(...(page.retainedTopics ?? []));
    nextToken = page.nextToken;
    pages += 1;
  } while (nextToken !== undefined && pages < 100);
  const ours = listed.filter((summary) => summary.topic?.startsWith(`${base}/`));
  assert.deepEqual(
    ours.map((summary) => summary.topic),
    [`${base}/a`, `${base}/b`, `${base}/c`],
  );
  assert.deepEqual(
    listed.map((summary) => summary.topic),
    listed.map((summary) => summary.topic).sort(),
  );
  const c = ours[2] as RetainedMessageSummary;
  assert.equal(c.payloadSize, 'reading 0'.length);
  assert.equal(c.qos, 1);
  assert.ok((c.lastModifiedTime as number) >= before);

  // A new subscriber gets it from the broker: it is a real retained message.
  const inbox = await subscriber(t, `${base}/c`);
  assert.equal((await inbox.next()).payload.toString(), 'reading 0');

  await data.send(new PublishCommand({ topic: `${base}/c`, retain: true }));
  assert.equal(
    await sdkErrorName(data.send(new GetRetainedMessageCommand({ topic: `${base}/c` }))),
    'ResourceNotFoundException',
  );
  const remaining = await data.send(new ListRetainedMessagesCommand({}));
  assert.deepEqual(
    (remaining.retainedTopics ?? [])
      .map((summary) => summary.topic)
      .filter((topic) => topic?.startsWith(`${base}/`)),
    [`${base}/a`, `${base}/b`],
  );
});

test('SDK: a payload over the broker limit is 413, $aws/events/ topics are refused, QoS 2 and wildcards are invalid', async (t) => {
  const base = prefix('limits');
  const inbox = await subscriber(t, `${base}/#`);
  assert.equal(
    await sdkErrorName(
      data.send(
        new PublishCommand({ topic: `${base}/big`, payload: Buffer.alloc(MAX_PAYLOAD_BYTES + 1) }),
      ),
    ),
    'RequestEntityTooLargeException',
  );
  // Exactly at the limit is fine.
  await data.send(
    new PublishCommand({ topic: `${base}/big`, payload: Buffer.alloc(MAX_PAYLOAD_BYTES, 7) }),
  );
  assert.equal((await inbox.next()).payload.length, MAX_PAYLOAD_BYTES);

  const eventWatcher = await subscriber(t, '$aws/events/presence/connected/forged');
  assert.equal(
    await sdkErrorName(
      data.send(
        new PublishCommand({
          topic: '$aws/events/presence/connected/forged',
          payload: Buffer.from('{}'),
        }),
      ),
    ),
    'ForbiddenException',
  );
  for (const request of [
    { topic: `${base}/x`, qos: 2 },
    { topic: `${base}/+` },
    { topic: `${base}/x`, messageExpiry: 0 },
  ])
    assert.equal(
      await sdkErrorName(data.send(new PublishCommand({ ...request, payload: Buffer.from('x') }))),
      'InvalidRequestException',
      JSON.stringify(request),
    );
  await assertReceivedInAll(eventWatcher, 0);
  await assertReceivedInAll(inbox, 1);
});

test('AWS CLI v2: iot-data publish (raw payload, MQTT 5 properties), get-retained-message and list-retained-messages', async (t) => {
  if (!needAwsCli(t)) return;
  const base = prefix('cli');
  const topic = `${base}/room 1/temp`;
  const inbox = await subscriber(t, `${base}/#`);
  const cli = (args: string[]) => {
    const result = runAwsCli(target, ['iot-data', ...args], { home });
    assert.equal(result.status, 0, result.stderr);
    return result.stdout.trim() ? (JSON.parse(result.stdout) as Record<string, unknown>) : {};
  };
  cli([
    'publish',
    '--topic',
    topic,
    '--qos',
    '1',
    '--retain',
    '--cli-binary-format',
    'raw-in-base64-out',
    '--payload',
    'hello from the cli',
    '--user-properties',
    JSON.stringify(USER_PROPERTIES),
    '--payload-format-indicator',
    'UTF8_DATA',
    '--content-type',
    'text/plain',
    '--response-topic',
    `${base}/reply`,
    '--correlation-data',
    Buffer.from('corr-7').toString('base64'),
  ]);
  const received = await inbox.next();
  assert.equal(received.topic, topic);
  assert.equal(received.payload.toString(), 'hello from the cli');
  assert.equal(received.packet.qos, 1);
  const properties = received.packet.properties ?? {};
  assert.deepEqual({ ...properties.userProperties }, { device: ['alpha', 'beta'], unit: '°C' });
  assert.equal(properties.payloadFormatIndicator, true);
  assert.equal(properties.contentType, 'text/plain');
  assert.equal(properties.responseTopic, `${base}/reply`);
  assert.deepEqual(properties.correlationData, Buffer.from('corr-7'));

  const got = cli(['get-retained-message', '--topic', topic]);
  assert.equal(got.topic, topic);
  assert.equal(Buffer.from(got.payload as string, 'base64').toString(), 'hello from the cli');
  // (The CLI 2.9's model predates userProperties in this response: it drops the member.)
  assert.equal(got.qos, 1);
  const listed = cli(['list-retained-messages']);
  const summaries = listed.retainedTopics as { topic: string; payloadSize: number }[];
  assert.deepEqual(
    summaries.filter((summary) => summary.topic === topic).map((summary) => summary.payloadSize),
    ['hello from the cli'.length],
  );
  // An empty retained publish deletes it.
  cli(['publish', '--topic', topic, '--retain']);
  const missing = runAwsCli(target, ['iot-data', 'get-retained-message', '--topic', topic], {
    home,
  });
  assert.notEqual(missing.status, 0);
  assert.match(missing.stderr, /\(ResourceNotFoundException\)/);
});

test('a device over HTTPS with its certificate publishes where its policy allows and is refused (403) elsewhere', async (t) => {
  const device = await newDevice(DEVICE_TOPICS_POLICY);
  const inbox = await subscriber(t, 'devices/#');

  const allowed = await deviceRequest('POST', '/topics/devices%2Fd1%2Fx?qos=1', {
    device,
    body: 'from d1',
  });
  assert.equal(allowed.status, 200, allowed.body);
  const received = await inbox.next();
  assert.equal(received.topic, 'devices/d1/x');
  assert.equal(received.payload.toString(), 'from d1');
  assert.equal(received.packet.qos, 1);

  assertForbidden(
    await deviceRequest('POST', '/topics/devices%2Fd2%2Fx', { device, body: 'into d2' }),
    'another device topic',
  );
  // Retaining needs iot:RetainPublish too, which this policy does not give.
  assertForbidden(
    await deviceRequest('POST', '/topics/devices%2Fd1%2Fx?retain=true', { device, body: 'kept' }),
    'retained publish without iot:RetainPublish',
  );
  assertForbidden(
    await deviceRequest('GET', '/retainedMessage', { device }),
    'ListRetainedMessages not in the policy',
  );
  await assertReceivedInAll(inbox, 1);

  // The control plane stays SigV4-only: a certificate is no operator.
  const control = await deviceRequest('GET', '/things', { device });
  assert.equal(control.status, 403);
  assert.equal(control.headers['x-amzn-errortype'], 'MissingAuthenticationTokenException');
});

test('a device certificate that is INACTIVE or REVOKED is refused; no certificate and no signature is refused', async (t) => {
  const device = await newDevice(DEVICE_TOPICS_POLICY);
  const inbox = await subscriber(t, 'devices/#');
  const publish = () =>
    deviceRequest('POST', '/topics/devices%2Fd1%2Fstatus', { device, body: 'status' });
  assert.equal((await publish()).status, 200);
  assert.equal((await inbox.next()).payload.toString(), 'status');

  await iot.send(
    new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus: 'INACTIVE' }),
  );
  assertForbidden(await publish(), 'INACTIVE certificate');
  await iot.send(
    new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus: 'ACTIVE' }),
  );
  assert.equal((await publish()).status, 200);
  assert.equal((await inbox.next()).payload.toString(), 'status');
  await iot.send(
    new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus: 'REVOKED' }),
  );
  assertForbidden(await publish(), 'REVOKED certificate');

  assertForbidden(
    await deviceRequest('POST', '/topics/devices%2Fd1%2Fstatus', { body: 'anonymous' }),
    'neither a certificate nor a signature',
  );
  await assertReceivedInAll(inbox, 2);
});

test('a device acts as the thing x-amzn-iot-thingname names only when it is attached: iot:Connection.Thing.ThingName resolves', async (t) => {
  const device = await newDevice(THING_TOPICS_POLICY);
  const thingName = prefix('meter');
  const otherThing = prefix('meter');
  await iot.send(new CreateThingCommand({ thingName }));
  await iot.send(new CreateThingCommand({ thingName: otherThing }));
  await iot.send(
    new AttachThingPrincipalCommand({
      thingName,
      principal: device.certificateArn,
      thingPrincipalType: 'EXCLUSIVE_THING',
    }),
  );
  const inbox = await subscriber(t, 'things/#');
  const path = (thing: string) => `/topics/things%2F${thing}%2Freading?retain=true`;

  const published = await deviceRequest('POST', path(thingName), {
    device,
    body: '42',
    headers: { 'x-amzn-iot-thingname': thingName },
  });
  assert.equal(published.status, 200, published.body);
  assert.equal((await inbox.next()).topic, `things/${thingName}/reading`);
  const retained = await deviceRequest('GET', `/retainedMessage/things%2F${thingName}%2Freading`, {
    device,
    headers: { 'x-amzn-iot-thingname': thingName },
  });
  assert.equal(retained.status, 200, retained.body);
  assert.equal(Buffer.from(JSON.parse(retained.body).payload, 'base64').toString(), '42');

  // Without the header the variable does not resolve; naming a thing not attached resolves
  // nothing either (not even the thing attached exclusively).
  assertForbidden(await deviceRequest('POST', path(thingName), { device, body: '1' }), 'no header');
  for (const topicThing of [thingName, otherThing])
    assertForbidden(
      await deviceRequest('POST', path(topicThing), {
        device,
        body: '1',
        headers: { 'x-amzn-iot-thingname': otherThing },
      }),
      `a thing not attached to the certificate, publishing as ${topicThing}`,
    );
  await assertReceivedInAll(inbox, 1);
});

test('SigV4 on the data plane: a raw-slash path and a percent-encoded one name the same topic; an unsigned request without a certificate is 403', async (t) => {
  const base = prefix('raw');
  const inbox = await subscriber(t, `${base}/#`);
  for (const path of [`/topics/${base}/a/b?qos=1`, `/topics/${base}%2Fa%2Fb?qos=1`]) {
    const answer = await signedRequest(
      target,
      { method: 'POST', path, headers: {}, body: path },
      adminCredentials(dataDir),
      { service: 'iotdata' },
    );
    assert.equal(answer.status, 200, answer.body);
    const received = await inbox.next();
    assert.equal(received.topic, `${base}/a/b`);
    assert.equal(received.payload.toString(), path);
  }
  // Signed for the control plane's name: refused, as before.
  const wrongService = await signedRequest(
    target,
    { method: 'POST', path: `/topics/${base}%2Fa`, headers: {}, body: 'x' },
    adminCredentials(dataDir),
    { service: 'iot' },
  );
  assert.equal(wrongService.status, 403);
  assert.equal(wrongService.headers['x-amzn-errortype'], 'InvalidSignatureException');
  assertForbidden(
    await deviceRequest('GET', `/retainedMessage/${base}%2Fa`),
    'unsigned GetRetainedMessage without a certificate',
  );
  await assertReceivedInAll(inbox, 2);
});
