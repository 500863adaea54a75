// Interop with the AWS IoT Device SDK v2 for JavaScript (aws-iot-device-sdk-v2 on aws-crt): its
// MQTT 5 and MQTT 3.1.1 clients, built as the SDK's samples build them for AWS IoT Core, against
// the real server over mutual TLS. The SDK runs in a child process per device (helpers/aws-sdk.ts
// says why); lifecycle events seen by an MQTT.js watcher show what the server saw.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { runSdkDevice, type SdkDeviceScenario } from '../helpers/aws-sdk.js';
import { createTestCa, issueClientCertificate, writePems } from '../helpers/certificates.js';
import {
  type Cleanup,
  EPHEMERAL_PORTS,
  fileCleanup,
  type RunningServer,
  startServer,
} from '../helpers/cli.js';
import { connectUrlWithInbox, type Inbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';

const TIMEOUT_MS = 10_000;

let server: RunningServer;
let serverCaPath: string;
let sensor: { cert: string; key: string };
let stranger: { cert: string; key: string };
let unique = 0;
const id = (name: string) => `${name}-${process.pid}-${++unique}`;

// One server for the whole file; its cleanups run once every test is done.
const fileScope = fileCleanup();

before(async () => {
  const dir = tempDir(fileScope, 'bulwark-aws-sdk-');
  const deviceCa = await createTestCa('Fleet CA');
  const otherCa = await createTestCa('Stranger CA');
  writeFileSync(join(dir, 'device-ca.pem'), deviceCa.certificatePem);
  sensor = writePems(dir, 'sensor', await issueClientCertificate(deviceCa, 'sensor-1'));
  stranger = writePems(dir, 'stranger', await issueClientCertificate(otherCa, 'intruder'));
  const dataDir = join(dir, 'data');
  server = await startServer(fileScope, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
    env: {
      BULWARK_MQTT_DEVICE_CA_FILE: join(dir, 'device-ca.pem'),
      BULWARK_MQTT_DEVICE_CA_POLICY: 'dev-listener',
    },
  });
  serverCaPath = join(dataDir, 'pki', 'server-ca.pem');
});

function scenario(
  protocol: SdkDeviceScenario['protocol'],
  clientId: string,
  extra: Partial<SdkDeviceScenario> = {},
): SdkDeviceScenario {
  return {
    protocol,
    host: 'localhost',
    port: server.ready.mqtt,
    certPath: sensor.cert,
    keyPath: sensor.key,
    caPath: serverCaPath,
    clientId,
    timeoutMs: TIMEOUT_MS,
    ...extra,
  };
}

/** MQTT.js over mutual TLS, subscribed to the presence events of `clientId`. */
async function watchPresence(t: Cleanup, clientId: string): Promise<Inbox> {
  const { client, messages } = await connectUrlWithInbox(
    t,
    `mqtts://127.0.0.1:${server.ready.mqtt}`,
    {
      ca: readFileSync(serverCaPath, 'utf8'),
      cert: readFileSync(sensor.cert, 'utf8'),
      key: readFileSync(sensor.key, 'utf8'),
      servername: 'localhost',
      clientId: id('watcher'),
    },
  );
  await client.subscribeAsync(`$aws/events/presence/+/${clientId}`, { qos: 1 });
  return messages;
}

async function presence(inbox: Inbox, kind: 'connected' | 'disconnected', clientId: string) {
  const message = await inbox.next(TIMEOUT_MS);
  assert.equal(message.topic, `$aws/events/presence/${kind}/${clientId}`);
  const event = JSON.parse(message.payload.toString()) as Record<string, unknown>;
  assert.equal(event.clientId, clientId);
  assert.equal(event.eventType, kind);
  return event;
}

/** The SDK disconnected with DISCONNECT: AWS IoT would report CLIENT_INITIATED_DISCONNECT. */
async function assertCleanDisconnect(inbox: Inbox, clientId: string) {
  await presence(inbox, 'connected', clientId);
  const bye = await presence(inbox, 'disconnected', clientId);
  assert.equal(bye.disconnectReason, 'CLIENT_INITIATED_DISCONNECT');
  assert.equal(bye.clientInitiatedDisconnect, true);
  await inbox.none(200);
}

test('AWS IoT Device SDK v2, MQTT 5 client: mutual TLS, QoS 1 subscribe and publish round trip, DISCONNECT', async (t) => {
  const clientId = id('sdk-mqtt5');
  const watcher = await watchPresence(t, clientId);
  const userProperties = [{ name: 'unit', value: 'celsius' }];
  const report = await runSdkDevice(
    t,
    scenario('mqtt5', clientId, {
      roundTrip: {
        filter: `sdk/${clientId}/#`,
        topic: `sdk/${clientId}/temperature`,
        payloadHex: '007bff0a32312e35',
        contentType: 'application/octet-stream',
        userProperties,
      },
    }),
  );
  assert.equal(report.error, undefined);
  // The SDK offered ALPN x-amzn-mqtt-ca, as to AWS IoT Core on 8883; the server does not negotiate ALPN.
  assert.equal(report.alpnOffered, true);
  assert.equal(report.connected, true, report.connectionFailure);
  assert.equal(report.connackReasonCode, 0);
  assert.equal(report.sessionPresent, false);
  assert.equal(report.settings?.clientId, clientId);
  assert.equal(report.settings?.rejoinedSession, false);
  assert.deepEqual(report.subscribeResult, [1], 'SUBACK: Granted QoS 1');
  assert.equal(report.pubackReasonCode, 0, 'PUBACK: Success');
  assert.deepEqual(report.message, {
    topic: `sdk/${clientId}/temperature`,
    qos: 1,
    retain: false,
    payloadHex: '007bff0a32312e35',
    contentType: 'application/octet-stream',
    userProperties,
  });
  assert.equal(report.disconnectedCleanly, true);
  // The SDK may report the stop it was asked for as a disconnection (USER_REQUESTED_STOP),
  // depending on whether its socket or the server's close comes first; any other is a failure.
  assert.deepEqual(
    (report.disconnections ?? []).filter((error) => !error.includes('USER_REQUESTED_STOP')),
    [],
    'no disconnection but the one asked for',
  );
  await assertCleanDisconnect(watcher, clientId);
});

test('AWS IoT Device SDK v2, MQTT 3.1.1 client: mutual TLS from files, QoS 1 subscribe and publish round trip, DISCONNECT', async (t) => {
  const clientId = id('sdk-mqtt311');
  const watcher = await watchPresence(t, clientId);
  const report = await runSdkDevice(
    t,
    scenario('mqtt311', clientId, {
      roundTrip: {
        filter: `sdk/${clientId}/+`,
        topic: `sdk/${clientId}/humidity`,
        payloadHex: Buffer.from('{"rh":41}').toString('hex'),
      },
    }),
  );
  assert.equal(report.error, undefined);
  assert.equal(report.alpnOffered, true);
  assert.equal(report.connected, true, report.connectionFailure);
  assert.equal(report.sessionPresent, false);
  assert.deepEqual(report.subscribeResult, [1], 'SUBACK: QoS 1 granted');
  assert.equal(report.pubackReasonCode, 0);
  assert.deepEqual(report.message, {
    topic: `sdk/${clientId}/humidity`,
    qos: 1,
    retain: false,
    payloadHex: Buffer.from('{"rh":41}').toString('hex'),
  });
  assert.equal(report.disconnectedCleanly, true);
  await assertCleanDisconnect(watcher, clientId);
});

test('AWS IoT Device SDK v2, MQTT 5 client: a certificate from another CA is refused', async (t) => {
  const clientId = id('sdk-stranger');
  const watcher = await watchPresence(t, clientId);
  const report = await runSdkDevice(
    t,
    scenario('mqtt5', clientId, { certPath: stranger.cert, keyPath: stranger.key }),
  );
  assert.equal(report.error, undefined);
  assert.equal(report.connected, false);
  // TLS 1.3: the client's handshake completes before the server checks its certificate and closes.
  assert.match(report.connectionFailure ?? '', /AWS_IO_SOCKET_CLOSED|AWS_IO_TLS_ERROR/);
  await watcher.none(300);
  for (
    let waited = 0;
    !/TLS handshake refused/.test(server.stderr()) && waited < 3000;
    waited += 100
  )
    await new Promise((resolve) => setTimeout(resolve, 100));
  assert.match(server.stderr(), /TLS handshake refused/);
});
