// Interop with the AWS IoT Device SDK v2 for JavaScript: its MQTT 5 and MQTT 3.1.1 clients, built
// the way the SDK's samples build them for AWS IoT Core, against the real server over mutual TLS.
// The SDK runs on aws-crt (native code with its own event loop threads), so every client is
// stopped and closed, and every wait is bounded.
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { iot, mqtt, mqtt5 } from 'aws-iot-device-sdk-v2';
import {
  createTestCa,
  issueClientCertificate,
  writePems,
  type TestCertificate,
} from '../helpers/certificates.js';
import { startServer, type Cleanup, type RunningServer } from '../helpers/cli.js';
import { connectUrlWithInbox, type Inbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';

const WAIT_MS = 10_000;

let server: RunningServer;
let serverCaPath: string;
let serverCa: string;
let sensor: TestCertificate;
let sensorFiles: { cert: string; key: string };
let stranger: TestCertificate;
let unique = 0;
const id = (name: string) => `${name}-${process.pid}-${++unique}`;

// One server for the whole file; its cleanups run once every test is done.
const cleanups: (() => unknown)[] = [];
const fileScope: Cleanup = { after: (fn) => cleanups.push(fn) };
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

before(async () => {
  const dir = tempDir(fileScope, 'bulwark-aws-sdk-');
  const deviceCa = await createTestCa('Fleet CA');
  const otherCa = await createTestCa('Stranger CA');
  writeFileSync(join(dir, 'device-ca.pem'), deviceCa.certificatePem);
  sensor = await issueClientCertificate(deviceCa, 'sensor-1');
  sensorFiles = writePems(dir, 'sensor', sensor);
  stranger = await issueClientCertificate(otherCa, 'intruder');
  const dataDir = join(dir, 'data');
  server = await startServer(
    fileScope,
    ['--data-dir', dataDir, '--api-port', '0', '--mqtt-port', '0'],
    { env: { BULWARK_MQTT_DEVICE_CA_FILE: join(dir, 'device-ca.pem') } },
  );
  serverCaPath = join(dataDir, 'pki', 'server-ca.pem');
  serverCa = readFileSync(serverCaPath, 'utf8');
});

/** `promise`, or a rejection naming `what` after `ms`. */
async function within<T>(what: string, promise: Promise<T>, ms = WAIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** The next `event` from `emitter`, bounded. Listen before starting what emits it. */
function nextEvent<T>(emitter: EventEmitter, event: string, ms = WAIT_MS): Promise<T> {
  return within(
    `${event} event`,
    new Promise<T>((resolve) => emitter.once(event, resolve)),
    ms,
  );
}

/** MQTT.js over mutual TLS, subscribed to the lifecycle events of `clientId`. */
async function watchPresence(t: Cleanup, clientId: string): Promise<Inbox> {
  const { client, messages } = await connectUrlWithInbox(
    t,
    `mqtts://127.0.0.1:${server.ready.mqtt}`,
    {
      ca: serverCa,
      cert: sensor.certificatePem,
      key: sensor.privateKeyPem,
      servername: 'localhost',
      clientId: id('watcher'),
    },
  );
  await client.subscribeAsync(`$aws/events/presence/+/${clientId}`, { qos: 1 });
  return messages;
}

async function presenceEvent(inbox: Inbox, kind: 'connected' | 'disconnected') {
  const message = await inbox.next(WAIT_MS);
  assert.match(message.topic, new RegExp(`^\\$aws/events/presence/${kind}/`));
  return JSON.parse(message.payload.toString()) as Record<string, unknown>;
}

/**
 * An SDK MQTT 5 client for `host`:mqttPort over mutual TLS, built as for AWS IoT Core. Stopped and
 * closed when the test ends, whatever happened.
 */
function sdkMqtt5Client(
  t: Cleanup,
  certificate: TestCertificate,
  clientId: string,
  options: { trustServerCa?: boolean } = {},
): mqtt5.Mqtt5Client {
  const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(
    'localhost',
    certificate.certificatePem,
    certificate.privateKeyPem,
  )
    .withPort(server.ready.mqtt)
    .withConnectProperties({ clientId, keepAliveIntervalSeconds: 60 })
    .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
    .withConnackTimeoutMs(5_000);
  if (options.trustServerCa !== false) builder.withCertificateAuthority(serverCa);
  const client = new mqtt5.Mqtt5Client(builder.build());
  let stopped = false;
  client.on('stopped', () => (stopped = true));
  t.after(async () => {
    if (!stopped) {
      const done = nextEvent(client, 'stopped', 5_000).catch(() => undefined);
      client.stop();
      await done;
    }
    client.close();
  });
  return client;
}

test('AWS IoT Device SDK v2, MQTT 5 client: mutual TLS connect, QoS 1 subscribe and publish round trip, clean DISCONNECT', async (t) => {
  const clientId = id('sdk-mqtt5');
  const presence = await watchPresence(t, clientId);
  const client = sdkMqtt5Client(t, sensor, clientId);
  const failures: string[] = [];
  client.on('connectionFailure', (event: mqtt5.ConnectionFailureEvent) =>
    failures.push(event.error.toString()),
  );

  const connected = nextEvent<mqtt5.ConnectionSuccessEvent>(client, 'connectionSuccess');
  client.start();
  const { connack, settings } = await within(
    'connectionSuccess event',
    connected.catch((error: Error) => {
      throw new Error(`${error.message}; connection failures: ${failures.join(', ') || 'none'}`);
    }),
  );
  assert.equal(connack.reasonCode, mqtt5.ConnectReasonCode.Success);
  assert.equal(connack.sessionPresent, false);
  assert.equal(settings.clientId, clientId);
  assert.equal(settings.rejoinedSession, false);
  console.log(JSON.stringify({ connack, settings }));
  const hello = await presenceEvent(presence, 'connected');
  assert.equal(hello.clientId, clientId);
  assert.equal(hello.eventType, 'connected');

  const topic = `sdk/${clientId}/temperature`;
  const suback = await within(
    'SUBACK',
    client.subscribe({
      subscriptions: [{ topicFilter: `sdk/${clientId}/#`, qos: mqtt5.QoS.AtLeastOnce }],
    }),
  );
  assert.deepEqual(suback.reasonCodes, [mqtt5.SubackReasonCode.GrantedQoS1]);

  const received = nextEvent<mqtt5.MessageReceivedEvent>(client, 'messageReceived');
  const payload = Buffer.from([0x00, 0x7b, 0xff, 0x0a, 0x32, 0x31, 0x2e, 0x35]);
  const puback = await within(
    'PUBACK',
    client.publish({
      topicName: topic,
      qos: mqtt5.QoS.AtLeastOnce,
      payload,
      contentType: 'application/octet-stream',
      userProperties: [{ name: 'unit', value: 'celsius' }],
    }),
  );
  assert.equal(puback?.reasonCode, mqtt5.PubackReasonCode.Success);
  const { message } = await received;
  assert.equal(message.topicName, topic);
  assert.equal(message.qos, mqtt5.QoS.AtLeastOnce);
  assert.deepEqual(Buffer.from(message.payload as ArrayBuffer), payload);
  assert.equal(message.contentType, 'application/octet-stream');
  assert.deepEqual(message.userProperties, [{ name: 'unit', value: 'celsius' }]);

  const stopped = nextEvent(client, 'stopped');
  client.stop({ reasonCode: mqtt5.DisconnectReasonCode.NormalDisconnection });
  await stopped;
  const bye = await presenceEvent(presence, 'disconnected');
  assert.equal(bye.clientId, clientId);
  assert.equal(bye.disconnectReason, 'CLIENT_INITIATED_DISCONNECT');
  assert.equal(bye.clientInitiatedDisconnect, true);
  assert.deepEqual(failures, []);
});
