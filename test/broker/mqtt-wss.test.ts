import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { IClientOptions } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import WebSocket, { type ClientOptions } from 'ws';
import {
  createTestCa,
  issueClientCertificate,
  type TestCertificate,
} from '../helpers/certificates.js';
import {
  type Cleanup,
  EPHEMERAL_PORTS,
  fileCleanup,
  httpsGet,
  type RunningServer,
  startServer,
} from '../helpers/cli.js';
import { adminCredentials, type AwsCredentials } from '../helpers/aws-api.js';
import { presignedMqttPath } from '../helpers/presigned-mqtt-url.js';
import { connectUrlWithInbox, type Inbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';

let server: RunningServer;
let dataDir: string;
let serverCa: string;
let sensor: TestCertificate;
let stranger: TestCertificate;
let unique = 0;
const id = (name: string) => `${name}-${process.pid}-${++unique}`;

// One server for the whole file; its cleanups run once every test is done.
const fileScope = fileCleanup();

before(async () => {
  const dir = tempDir(fileScope, 'bulwark-wss-');
  const deviceCa = await createTestCa('Fleet CA');
  const otherCa = await createTestCa('Stranger CA');
  writeFileSync(join(dir, 'device-ca.pem'), deviceCa.certificatePem);
  sensor = await issueClientCertificate(deviceCa, 'sensor-1');
  stranger = await issueClientCertificate(otherCa, 'intruder');
  dataDir = join(dir, 'data');
  server = await startServer(fileScope, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
    env: {
      BULWARK_MQTT_DEVICE_CA_FILE: join(dir, 'device-ca.pem'),
      BULWARK_MQTT_DEVICE_CA_POLICY: 'dev-listener',
    },
  });
  serverCa = readFileSync(join(dataDir, 'pki', 'server-ca.pem'), 'utf8');
});

function tlsOptions(certificate: TestCertificate | null | undefined) {
  return {
    ca: serverCa,
    ...(certificate ? { cert: certificate.certificatePem, key: certificate.privateKeyPem } : {}),
  };
}

/** The server certificate names `localhost`; `ws` passes this through to `tls.connect`. */
const SNI: ClientOptions & { servername: string } = { servername: 'localhost' };

/** MQTT.js over secure WebSocket at `/mqtt` on the API port. */
function connectWss(
  t: Cleanup,
  options: IClientOptions,
  certificate: TestCertificate | null = sensor,
) {
  return connectUrlWithInbox(t, `wss://127.0.0.1:${server.ready.api}/mqtt`, {
    ...tlsOptions(certificate),
    wsOptions: { ...SNI },
    ...options,
  });
}

/** MQTT.js over mutual TLS on the MQTT port. */
function connectTls(t: Cleanup, options: IClientOptions) {
  return connectUrlWithInbox(t, `mqtts://127.0.0.1:${server.ready.mqtt}`, {
    ...tlsOptions(sensor),
    servername: 'localhost',
    ...options,
  });
}

/** A bare WebSocket handshake: the status the server answered and, when it upgraded, the socket. */
function handshake(
  t: Cleanup,
  options: { path?: string; protocols?: string[]; certificate?: TestCertificate },
): Promise<{ status: number; body: string; ws?: WebSocket }> {
  const url = `wss://127.0.0.1:${server.ready.api}${options.path ?? '/mqtt'}`;
  const ws = new WebSocket(url, options.protocols ?? ['mqtt'], {
    ...tlsOptions(options.certificate),
    ...SNI,
  });
  t.after(() => ws.terminate());
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ status: 101, body: '', ws }));
    ws.once('unexpected-response', (_request, response) => {
      let body = '';
      response.on('data', (chunk: Buffer) => (body += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

/** Presence events of the connections the server accepts, seen by a TLS client. */
async function watchConnects(t: Cleanup): Promise<Inbox> {
  const { client, messages } = await connectTls(t, { clientId: id('watcher') });
  await client.subscribeAsync('$aws/events/presence/connected/+', { qos: 1 });
  return messages;
}

const fingerprint = (certificate: TestCertificate) =>
  new X509Certificate(certificate.certificatePem).fingerprint256.replace(/:/g, '').toLowerCase();

for (const protocolVersion of [4, 5] as const) {
  test(`MQTT ${protocolVersion === 4 ? '3.1.1' : '5'} over WSS with a device certificate: QoS 1 both ways with a TLS client`, async (t) => {
    const tls = await connectTls(t, { protocolVersion, clientId: id('tls') });
    const presence = await watchConnects(t);
    const wssId = id('wss');
    const wss = await connectWss(t, { protocolVersion, clientId: wssId });

    // The WSS connection is a session of the certificate's principal, like a TLS one.
    const event = JSON.parse((await presence.next()).payload.toString()) as Record<string, unknown>;
    assert.equal(event.clientId, wssId);
    assert.equal(event.principalIdentifier, fingerprint(sensor));

    const topic = `wss/${protocolVersion}/${wssId}`;
    await tls.client.subscribeAsync(`${topic}/up`, { qos: 1 });
    await wss.client.subscribeAsync(`${topic}/down`, { qos: 1 });

    await wss.client.publishAsync(`${topic}/up`, 'from wss', { qos: 1 });
    const up = await tls.messages.next();
    assert.equal(up.topic, `${topic}/up`);
    assert.equal(up.payload.toString(), 'from wss');
    assert.equal(up.packet.qos, 1);

    await tls.client.publishAsync(`${topic}/down`, 'from tls', { qos: 1 });
    const down = await wss.messages.next();
    assert.equal(down.topic, `${topic}/down`);
    assert.equal(down.payload.toString(), 'from tls');
    assert.equal(down.packet.qos, 1);

    // A payload larger than one TLS record crosses intact.
    const large = Buffer.alloc(100 * 1024, 7);
    await wss.client.publishAsync(`${topic}/up`, large, { qos: 1 });
    assert.deepEqual((await tls.messages.next()).payload, large);
  });
}

test('the subprotocol: mqtt is chosen, mqttv3.1 is accepted, a handshake offering neither gets 400', async (t) => {
  const both = await handshake(t, { certificate: sensor, protocols: ['mqttv3.1', 'mqtt'] });
  assert.equal(both.status, 101);
  assert.equal(both.ws?.protocol, 'mqtt');
  const legacy = await handshake(t, { certificate: sensor, protocols: ['mqttv3.1'] });
  assert.equal(legacy.status, 101);
  assert.equal(legacy.ws?.protocol, 'mqttv3.1');
  assert.equal((await handshake(t, { certificate: sensor, protocols: [] })).status, 400);
  assert.equal((await handshake(t, { certificate: sensor, protocols: ['stomp'] })).status, 400);

  // An MQTT 3.1 client offers mqttv3.1 and reaches the broker, which speaks 3.1.1 and 5 only.
  await assert.rejects(
    connectWss(t, { protocolId: 'MQIsdp', protocolVersion: 3, clientId: id('v31') }),
    /Unacceptable protocol version/,
  );
});

test('without a client certificate, or with one from another CA, the upgrade gets 401 and no session', async (t) => {
  const presence = await watchConnects(t);
  const anonymous = await handshake(t, {});
  assert.equal(anonymous.status, 401);
  assert.match(anonymous.body, /device certificate/);
  assert.equal((await handshake(t, { certificate: stranger })).status, 401);

  // MQTT.js gets no CONNACK either way.
  await assert.rejects(connectWss(t, { clientId: id('anonymous') }, null));
  await assert.rejects(connectWss(t, { clientId: id('stranger') }, stranger));
  await presence.none(300);
  assert.match(server.stderr(), /WebSocket upgrade refused/);
});

test('an upgrade on any other path gets 404', async (t) => {
  assert.equal((await handshake(t, { certificate: sensor, path: '/' })).status, 404);
  assert.equal((await handshake(t, { certificate: sensor, path: '/mqtt/x' })).status, 404);
  assert.equal((await handshake(t, { certificate: sensor, path: '/health' })).status, 404);
  // A query string does not change the path (SigV4 will travel in one).
  assert.equal((await handshake(t, { certificate: sensor, path: '/mqtt?x=1' })).status, 101);
});

test('a text frame closes only its own connection, and its bytes never reach the broker [MQTT-6.0.0-1]', async (t) => {
  const presence = await watchConnects(t);
  const bystanderId = id('bystander');
  const bystander = await connectWss(t, { protocolVersion: 5, clientId: bystanderId });
  await presence.next();
  await bystander.client.subscribeAsync(`text/${bystanderId}`, { qos: 1 });

  const { ws } = await handshake(t, { certificate: sensor });
  assert.ok(ws);
  let answered = false;
  ws.on('message', () => (answered = true));
  const done = closed(ws);
  // A well-formed CONNECT, sent as text: it must not open a session.
  const connect = mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: id('texter'),
    keepalive: 30,
  });
  ws.send(connect.toString('latin1'), { binary: false });
  const { code } = await done;
  assert.equal(code, 1003);
  assert.equal(answered, false, 'no CONNACK');
  await presence.none(300);

  await bystander.client.publishAsync(`text/${bystanderId}`, 'still here', { qos: 1 });
  assert.equal((await bystander.messages.next()).payload.toString(), 'still here');
});

test('a WebSocket message larger than the broker takes closes the connection (1009)', async (t) => {
  const { ws } = await handshake(t, { certificate: sensor });
  assert.ok(ws);
  const done = closed(ws);
  ws.send(Buffer.alloc(200 * 1024));
  assert.equal((await done).code, 1009);
});

test('ordinary HTTPS requests need no client certificate', async () => {
  const health = await httpsGet(server.ready.api, '/health', serverCa);
  assert.equal(health.status, 200);
  assert.equal((JSON.parse(health.body) as { status: string }).status, 'ok');
});

test('without mqtt.deviceCaFile no client is asked for a certificate and every upgrade gets 401', async (t) => {
  const dataDir = join(tempDir(t, 'bulwark-wss-noca-'), 'data');
  const bare = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
  const ca = readFileSync(join(dataDir, 'pki', 'server-ca.pem'), 'utf8');
  const status = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`wss://127.0.0.1:${bare.ready.api}/mqtt`, ['mqtt'], {
      ca,
      cert: sensor.certificatePem,
      key: sensor.privateKeyPem,
      ...SNI,
    });
    t.after(() => ws.terminate());
    ws.once('open', () => resolve(101));
    ws.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    ws.once('error', reject);
  });
  assert.equal(status, 401);
  assert.equal((await httpsGet(bare.ready.api, '/health', ca)).status, 200);
});

/** `/mqtt?X-Amz-…` for this file's server. */
function presignedPath(
  credentials: AwsCredentials,
  options: { signingDate?: Date; expiresIn?: number } = {},
): Promise<string> {
  return presignedMqttPath(server.ready.api, credentials, options);
}

test('an IAM user connects over WSS with a SigV4-presigned URL and no client certificate, as AWS clients do', async (t) => {
  const presence = await watchConnects(t);
  const clientId = id('signed');
  const path = await presignedPath(adminCredentials(dataDir));
  const { client, messages } = await connectUrlWithInbox(
    t,
    `wss://127.0.0.1:${server.ready.api}${path}`,
    { ...tlsOptions(null), wsOptions: { ...SNI }, protocolVersion: 5, clientId },
  );
  const connected = await presence.next();
  assert.equal(connected.topic, `$aws/events/presence/connected/${clientId}`);
  assert.match(
    (JSON.parse(connected.payload.toString()) as { principalIdentifier: string })
      .principalIdentifier,
    /^arn:aws:iam::\d{12}:user\/admin$/,
  );
  await client.subscribeAsync(`signed/${clientId}`, { qos: 1 });
  await client.publishAsync(`signed/${clientId}`, 'over a signed URL', { qos: 1 });
  assert.equal((await messages.next()).payload.toString(), 'over a signed URL');
});

test('a WSS URL signed with a wrong secret, an unknown key or too long ago gets 403 with the AWS error, and no session', async (t) => {
  const presence = await watchConnects(t);
  const admin = adminCredentials(dataDir);
  const cases: [string, string, RegExp][] = [
    [
      'wrong secret',
      await presignedPath({ ...admin, secretAccessKey: `${admin.secretAccessKey.slice(1)}x` }),
      /InvalidSignatureException|SignatureDoesNotMatch/,
    ],
    [
      'unknown key',
      await presignedPath({ ...admin, accessKeyId: 'AKIAAAAAAAAAAAAAAAAA' }),
      /UnrecognizedClientException/,
    ],
    [
      'expired',
      await presignedPath(admin, {
        signingDate: new Date(Date.now() - 20 * 60 * 1000),
        expiresIn: 60,
      }),
      /expired|RequestExpired/i,
    ],
  ];
  for (const [what, path, error] of cases) {
    const answer = await handshake(t, { path });
    assert.equal(answer.status, 403, what);
    assert.match(answer.body, error, what);
  }
  await presence.none(300);
});
