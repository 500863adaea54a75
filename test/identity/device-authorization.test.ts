// Device identity and IoT policies end to end: things, certificates and policies made through the
// AWS SDK v3, devices connecting over mutual TLS with MQTT.js and mosquitto, and every way one
// device could reach another's data tried and refused.
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  DetachPolicyCommand,
  UpdateCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { IClientOptions, MqttClient } from 'mqtt';
import { iotClient, serverCa, signedRequest } from '../helpers/aws-api.js';
import { type Cleanup, EPHEMERAL_PORTS, fileCleanup, startServer } from '../helpers/cli.js';
import { connectUrlWithInbox, type Inbox } from '../helpers/mqtt-clients.js';
import { needCommand } from '../helpers/services.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const dir = tempDir(files, 'bulwark-identity-');
const dataDir = join(dir, 'data');
let iot: IoTClient;
let mqttPort: number;
let apiPort: number;
let unique = 0;

interface Device {
  thingName: string;
  certificateArn: string;
  certificateId: string;
  cert: string;
  key: string;
  certFile: string;
  keyFile: string;
}

/** Only the device's own topics, through the thing policy variable (the example policy). */
const OWN_TOPICS_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: 'arn:aws:iot:us-east-1:000000000000:client/${iot:Connection.Thing.ThingName}',
    },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive', 'iot:RetainPublish'],
      Resource:
        'arn:aws:iot:us-east-1:000000000000:topic/devices/${iot:Connection.Thing.ThingName}/*',
    },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource:
        'arn:aws:iot:us-east-1:000000000000:topicfilter/devices/${iot:Connection.Thing.ThingName}/*',
    },
  ],
};

/** Subscribing to any filter, receiving only its own topics: deliveries are what is checked. */
const ANY_FILTER_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Subscribe', Resource: '*' },
    {
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: 'arn:aws:iot:us-east-1:000000000000:client/${iot:Connection.Thing.ThingName}',
    },
    {
      Effect: 'Allow',
      Action: 'iot:Receive',
      Resource:
        'arn:aws:iot:us-east-1:000000000000:topic/devices/${iot:Connection.Thing.ThingName}/*',
    },
  ],
};

/** Publishing only under the connecting certificate's own serial number (a certificate policy variable). */
const OWN_SERIAL_POLICY = {
  Version: '2012-10-17',
  Statement: [
    { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
    {
      Effect: 'Allow',
      Action: 'iot:Publish',
      Resource:
        'arn:aws:iot:us-east-1:000000000000:topic/serials/${iot:Certificate.SerialNumber}/*',
    },
  ],
};

/** Persistent sessions only (`iot:ConnectAttributes` lists PersistentConnect); wills under wills/. */
const PERSISTENT_ONLY_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: '*',
      Condition: { 'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': ['PersistentConnect'] } },
    },
    {
      Effect: 'Allow',
      Action: 'iot:Publish',
      Resource: 'arn:aws:iot:us-east-1:000000000000:topic/wills/*',
    },
  ],
};

async function device(policyName: string): Promise<Device> {
  const thingName = `sensor-${process.pid}-${++unique}`;
  await iot.send(new CreateThingCommand({ thingName }));
  const created = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const certificateArn = created.certificateArn as string;
  await iot.send(new AttachThingPrincipalCommand({ thingName, principal: certificateArn }));
  await iot.send(new AttachPolicyCommand({ policyName, target: certificateArn }));
  const certFile = join(dir, `${thingName}.crt`);
  const keyFile = join(dir, `${thingName}.key`);
  writeFileSync(certFile, created.certificatePem as string);
  writeFileSync(keyFile, created.keyPair?.PrivateKey as string, { mode: 0o600 });
  return {
    thingName,
    certificateArn,
    certificateId: created.certificateId as string,
    cert: created.certificatePem as string,
    key: created.keyPair?.PrivateKey as string,
    certFile,
    keyFile,
  };
}

function connectDevice(
  t: Cleanup,
  who: Device,
  options: IClientOptions = {},
): Promise<{ client: MqttClient; messages: Inbox }> {
  return connectUrlWithInbox(t, `mqtts://127.0.0.1:${mqttPort}`, {
    ca: serverCa(dataDir),
    cert: who.cert,
    key: who.key,
    servername: 'localhost',
    protocolVersion: 5,
    clientId: who.thingName,
    ...options,
  });
}

/** The SUBACK code for one filter: the QoS granted, or the refusal (MQTT.js rejects those). */
async function subscribeCode(client: MqttClient, filter: string): Promise<number> {
  try {
    const [granted] = await client.subscribeAsync(filter, { qos: 1 });
    return granted?.qos as number;
  } catch (error) {
    const granted = (error as { packet?: { granted?: (number | { qos: number })[] } }).packet
      ?.granted?.[0];
    if (granted === undefined) throw error;
    return typeof granted === 'number' ? granted : granted.qos;
  }
}

/** The CONNACK reason a refused MQTT 5 (or return code of a 3.1.1) connection got. */
async function refusedConnect(t: Cleanup, who: Device, options: IClientOptions): Promise<number> {
  const error = await connectDevice(t, who, options).then(
    () => assert.fail('the connection was accepted'),
    (refusal: { code?: number }) => refusal,
  );
  return error.code as number;
}

before(async () => {
  const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
  mqttPort = server.ready.mqtt;
  apiPort = server.ready.api;
  iot = iotClient({ port: server.ready.api, dataDir });
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'own-topics',
      policyDocument: JSON.stringify(OWN_TOPICS_POLICY),
    }),
  );
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'any-filter',
      policyDocument: JSON.stringify(ANY_FILTER_POLICY),
    }),
  );
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'own-serial',
      policyDocument: JSON.stringify(OWN_SERIAL_POLICY),
    }),
  );
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'persistent-only',
      policyDocument: JSON.stringify(PERSISTENT_ONLY_POLICY),
    }),
  );
});

test('a device made with the AWS API connects with its certificate and uses only its own topics', async (t) => {
  const a = await device('own-topics');
  const b = await device('own-topics');
  const { client, messages } = await connectDevice(t, a);
  await client.subscribeAsync(`devices/${a.thingName}/cmd`, { qos: 1 });
  await client.publishAsync(`devices/${a.thingName}/cmd`, 'to myself', { qos: 1 });
  assert.equal((await messages.next()).payload.toString(), 'to myself');

  // MQTT 5: 0x87 Not authorized on PUBACK and SUBACK, the connection stays up.
  await assert.rejects(
    client.publishAsync(`devices/${b.thingName}/cmd`, 'into b', { qos: 1 }),
    /Not authorized/i,
  );
  for (const filter of [`devices/${b.thingName}/#`, 'devices/#', '#', '+/+/cmd'])
    assert.equal(await subscribeCode(client, filter), 0x87, `subscribing to ${filter} is refused`);
  assert.equal(client.connected, true);

  // A client id that is not the device's own thing does not connect: CONNACK 0x87.
  assert.equal(await refusedConnect(t, a, { clientId: b.thingName }), 0x87);
  // MQTT 3.1.1: CONNACK return code 5.
  assert.equal(await refusedConnect(t, a, { clientId: b.thingName, protocolVersion: 4 }), 5);
});

test("a certificate policy variable resolves to the connecting certificate's own value", async (t) => {
  const a = await device('own-serial');
  const b = await device('own-serial');
  const serialOf = (who: Device) => new X509Certificate(who.cert).serialNumber;
  const { client } = await connectDevice(t, a);
  await client.publishAsync(`serials/${serialOf(a)}/t`, 'mine', { qos: 1 });
  await assert.rejects(
    client.publishAsync(`serials/${serialOf(b)}/t`, 'not mine', { qos: 1 }),
    /Not authorized/i,
  );
});

test('iot:ConnectAttributes: only a persistent session connects where the policy asks for one, with or without a will', async (t) => {
  const a = await device('persistent-only');
  const will = { topic: `wills/${a.thingName}`, payload: Buffer.from('gone'), qos: 0 as const };
  const persistent = { clean: false, properties: { sessionExpiryInterval: 3600 } };
  assert.equal(await refusedConnect(t, a, { clean: true }), 0x87);
  assert.equal(await refusedConnect(t, a, { clean: true, will }), 0x87);
  // MQTT 5: Clean Start 0 without a session expiry keeps nothing past the connection.
  assert.equal(await refusedConnect(t, a, { clean: false }), 0x87);
  const plain = await connectDevice(t, a, persistent);
  await plain.client.endAsync();
  const withWill = await connectDevice(t, a, { ...persistent, will });
  assert.equal(withWill.client.connected, true);
});

test('MQTT 3.1.1: a denied publish closes the connection, a denied subscribe gets 0x80', async (t) => {
  const a = await device('own-topics');
  const b = await device('own-topics');
  const { client } = await connectDevice(t, a, { protocolVersion: 4 });
  assert.equal(await subscribeCode(client, `devices/${b.thingName}/#`), 0x80);
  const closed = new Promise<void>((resolve) => client.once('close', () => resolve()));
  client.publish(`devices/${b.thingName}/cmd`, 'into b', { qos: 1 });
  await closed;
});

test('mosquitto clients with a certificate from CreateKeysAndCertificate: own topic allowed, another refused', async (t) => {
  if (!needCommand(t, 'mosquitto_pub', 'apt-get install mosquitto-clients')) return;
  const a = await device('own-topics');
  const b = await device('own-topics');
  const caFile = join(dir, 'server-ca.pem');
  writeFileSync(caFile, serverCa(dataDir));
  const publish = (topic: string, version = 'mqttv5') =>
    spawnSync(
      'mosquitto_pub',
      [
        ...['-h', '127.0.0.1', '-p', String(mqttPort), '--cafile', caFile],
        ...['--cert', a.certFile, '--key', a.keyFile, '-i', a.thingName, '-V', version],
        ...['-t', topic, '-m', 'hello', '-q', '1'],
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
  const own = publish(`devices/${a.thingName}/telemetry`);
  assert.equal(own.status, 0, own.stderr);
  const other = publish(`devices/${b.thingName}/telemetry`);
  // MQTT 5: PUBACK 0x87 with the reason string, which mosquitto_pub reports (and exits 0).
  assert.match(other.stderr, /Publish 1 failed: Not authorized/);
  // MQTT 3.1.1 has no reason codes: the connection is closed, as AWS does.
  const other311 = publish(`devices/${b.thingName}/telemetry`, 'mqttv311');
  assert.notEqual(other311.status, 0);
  assert.match(other311.stderr, /connection was lost/i);
});

test('retained messages, shared subscriptions and wildcards reach only the topics a device may receive', async (t) => {
  const a = await device('any-filter');
  const b = await device('own-topics');
  const publisherB = await connectDevice(t, b);
  await publisherB.client.publishAsync(`devices/${b.thingName}/secret`, 'b only', {
    qos: 1,
    retain: true,
  });
  const { client, messages } = await connectDevice(t, a);
  // The policy lets A subscribe to anything: '#', a shared group, B's own prefix.
  for (const filter of ['#', '$share/g/devices/#', `devices/${b.thingName}/#`])
    assert.equal(await subscribeCode(client, filter), 1, `${filter} is granted`);
  await publisherB.client.publishAsync(`devices/${b.thingName}/secret`, 'b live', { qos: 1 });
  // Neither B's retained message nor its live one is delivered: iot:Receive is checked per delivery.
  await messages.none(500);
});

test("a will on another device's topic is refused at CONNECT; $aws topics of another thing are closed", async (t) => {
  const a = await device('own-topics');
  const b = await device('own-topics');
  assert.equal(
    await refusedConnect(t, a, {
      will: {
        topic: `devices/${b.thingName}/status`,
        payload: Buffer.from('gone'),
        qos: 1,
        retain: false,
      },
    }),
    0x87,
  );
  const { client } = await connectDevice(t, a, {
    will: {
      topic: `devices/${a.thingName}/status`,
      payload: Buffer.from('gone'),
      qos: 1,
      retain: false,
    },
  });
  await assert.rejects(
    client.publishAsync(`$aws/things/${b.thingName}/shadow/update`, '{}', { qos: 1 }),
    /Not authorized/i,
  );
  for (const filter of [`$aws/things/${b.thingName}/shadow/#`, '$aws/events/#'])
    assert.equal(await subscribeCode(client, filter), 0x87, `${filter} is refused`);
});

test('a policy detached from a live connection stops its next publish', async (t) => {
  const a = await device('own-topics');
  const { client } = await connectDevice(t, a);
  await client.publishAsync(`devices/${a.thingName}/t`, 'before', { qos: 1 });
  await iot.send(new DetachPolicyCommand({ policyName: 'own-topics', target: a.certificateArn }));
  await assert.rejects(
    client.publishAsync(`devices/${a.thingName}/t`, 'after', { qos: 1 }),
    /Not authorized/i,
  );
});

test('revoking a certificate cuts its live connection within a second, and it cannot reconnect', async (t) => {
  const a = await device('own-topics');
  const { client } = await connectDevice(t, a);
  const closed = new Promise<number>((resolve) => client.once('close', () => resolve(Date.now())));
  const revokedAt = Date.now();
  await iot.send(
    new UpdateCertificateCommand({ certificateId: a.certificateId, newStatus: 'REVOKED' }),
  );
  const cutAfter = (await closed) - revokedAt;
  assert.ok(cutAfter < 1000, `cut off ${cutAfter} ms after the revocation was asked for`);
  assert.equal(await refusedConnect(t, a, {}), 0x87);
});

/** One series of a Prometheus counter from `/metrics` (0 when absent). */
async function counter(series: string): Promise<number> {
  const metrics = await signedRequest(
    { port: apiPort, dataDir },
    { method: 'GET', path: '/metrics', headers: {} },
  );
  const line = metrics.body.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

test('denials are counted in /metrics by action', async (t) => {
  const a = await device('own-topics');
  const b = await device('own-topics');
  const publishes = await counter('bulwark_mqtt_denied_total{action="publish"}');
  const subscribes = await counter('bulwark_mqtt_denied_total{action="subscribe"}');
  const connects = await counter('bulwark_mqtt_denied_total{action="connect"}');
  const { client } = await connectDevice(t, a);
  await assert.rejects(client.publishAsync(`devices/${b.thingName}/x`, 'no', { qos: 1 }));
  assert.equal(await subscribeCode(client, `devices/${b.thingName}/#`), 0x87);
  assert.equal(await refusedConnect(t, a, { clientId: b.thingName }), 0x87);
  assert.equal(await counter('bulwark_mqtt_denied_total{action="publish"}'), publishes + 1);
  assert.equal(await counter('bulwark_mqtt_denied_total{action="subscribe"}'), subscribes + 1);
  assert.equal(await counter('bulwark_mqtt_denied_total{action="connect"}'), connects + 1);
  assert.ok((await counter('bulwark_mqtt_connections')) >= 1);
});
