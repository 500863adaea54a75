// The payload guard's inline mode (guard.inline) on a real `bulwark serve`: a refusing rule on
// sensors/# and a flagging rule on telemetry/#, driven by MQTT.js (v5 and 3.1.1), mosquitto_pub
// and the AWS CLI's `iot-data publish`, with an MQTT.js subscriber watching what arrives. The
// last test stops the server and reads the audit trail (`bulwark audit export`): the summaries
// name detectors and topics, never a payload.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test, type TestContext } from 'node:test';
import type { MqttClient } from 'mqtt';
import { needAwsCli, runAwsCli, type ApiTarget } from '../helpers/aws-api.js';
import {
  EPHEMERAL_PORTS_WITH_DEV,
  fileCleanup,
  runCli,
  startServer,
  stopServer,
  type RunningServer,
} from '../helpers/cli.js';
import { connectClient, connectWithInbox, type Inbox } from '../helpers/mqtt-clients.js';
import { needCommand } from '../helpers/services.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

/** What the refusing rule on sensors/# looks for, and the flagging rule on telemetry/#. */
const REFUSED = 'CREDIT_CARD_NUMBER';
const FLAGGED = 'EMAIL_ADDRESS';
const PAYLOAD_FORMAT_INVALID = 0x99;

const files = fileCleanup();
const dir = tempDir(files, 'bulwark-inline-guard-');
const dataDir = join(dir, 'data');
const home = join(dir, 'home');
const configFile = join(dir, 'bulwark.json');
let server: RunningServer;
let devPort: number;
let target: ApiTarget;
let unique = 0;
const id = (name: string) => `${name}-${process.pid}-${++unique}`;

/** Every sensitive value a test sends: none may show up in the logs or the trail. */
const secretsSent: string[] = [];

/** A Visa-range card number no other test uses: 15 random digits and the Luhn check digit. */
function cardNumber(): string {
  const body = `4${Array.from({ length: 14 }, () => Math.floor(Math.random() * 10)).join('')}`;
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    // Every second digit from the right of the full number (the check digit is the first).
    let digit = Number(body[body.length - 1 - i]) * (i % 2 === 0 ? 2 : 1);
    if (digit > 9) digit -= 9;
    sum += digit;
  }
  return `${body}${(10 - (sum % 10)) % 10}`;
}

/** A payload holding a card number (the refusing rule's detector); returns it and the number. */
function withCard(): { payload: string; value: string } {
  const value = cardNumber();
  secretsSent.push(value);
  return { payload: JSON.stringify({ temperature: 21.5, card: value }), value };
}

/** A payload holding an e-mail address (the flagging rule's detector). */
function withEmail(name: string): { payload: string; value: string } {
  const value = `inline.${name}.${process.pid}.${++unique}@example.com`;
  secretsSent.push(value);
  return { payload: JSON.stringify({ temperature: 21.5, owner: value }), value };
}

before(async () => {
  writeFileSync(
    configFile,
    JSON.stringify({
      // Device log entries at WARN, so flagged publishes are in it too.
      log: { deviceLevel: 'WARN' },
      guard: {
        inline: [
          { topics: ['sensors/#'], detectors: [REFUSED], action: 'refuse' },
          { topics: ['telemetry/#'], detectors: [FLAGGED], action: 'flag' },
        ],
      },
    }),
  );
  server = await startServer(files, [
    '--data-dir',
    dataDir,
    '--config',
    configFile,
    ...EPHEMERAL_PORTS_WITH_DEV,
  ]);
  devPort = server.ready.dev as number;
  target = { port: server.ready.api, dataDir };
});

/** An MQTT 5 subscriber on the dev listener, subscribed at QoS 2 to `filters`. */
async function subscriber(t: TestContext, ...filters: string[]): Promise<Inbox> {
  const { client, messages } = await connectWithInbox(t, devPort, {
    protocolVersion: 5,
    clientId: id('watcher'),
  });
  await client.subscribeAsync(filters, { qos: 2 });
  return messages;
}

interface Ack {
  cmd: 'puback' | 'pubrec';
  reasonCode?: number;
  properties?: { reasonString?: string };
}

/** The PUBACKs and PUBRECs the client receives, in order. */
function acks(client: MqttClient): Ack[] {
  const seen: Ack[] = [];
  client.on('packetreceive', (packet) => {
    if (packet.cmd === 'puback' || packet.cmd === 'pubrec') seen.push(packet as Ack);
  });
  return seen;
}

/** The error a publish the broker refused fails with (MQTT.js: the ack's reason code). */
async function refusedPublish(published: Promise<unknown>): Promise<{ code?: number }> {
  return published.then(
    () => assert.fail('the publish was acknowledged'),
    (error: Error & { code?: number }) => error,
  );
}

/** Waits for stragglers, then checks that no message in `inbox` holds `text`. */
async function neverReceived(inbox: Inbox, text: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 300));
  const got = inbox.messages.filter((message) => message.payload.toString().includes(text));
  assert.equal(got.length, 0, `delivered on ${got.map((message) => message.topic).join(', ')}`);
}

test('MQTT 5 QoS 1: a card number on sensors/# gets PUBACK 0x99 naming the detector and is not delivered; a clean payload is', async (t) => {
  const topic = `sensors/${id('room')}/reading`;
  const inbox = await subscriber(t, 'sensors/#');
  const publisher = await connectClient(t, devPort, { protocolVersion: 5, clientId: id('pub') });
  const received = acks(publisher);
  const card = withCard();
  const refusal = await refusedPublish(publisher.publishAsync(topic, card.payload, { qos: 1 }));
  assert.equal(refusal.code, PAYLOAD_FORMAT_INVALID);
  const puback = received.find((ack) => ack.cmd === 'puback');
  assert.equal(puback?.reasonCode, PAYLOAD_FORMAT_INVALID);
  const reasonString = puback?.properties?.reasonString ?? '';
  assert.match(reasonString, new RegExp(REFUSED));
  assert.ok(!reasonString.includes(card.value), 'the reason string quotes no value');

  await publisher.publishAsync(topic, '{"temperature":21.5}', { qos: 1 });
  const clean = await inbox.next();
  assert.equal(clean.topic, topic);
  assert.equal(clean.payload.toString(), '{"temperature":21.5}');
  assert.equal(publisher.connected, true, 'the refusal did not close the MQTT 5 connection');
  await neverReceived(inbox, card.value);
});

test('MQTT 5 QoS 2: PUBREC 0x99; QoS 0: dropped, the connection stays open', async (t) => {
  const topic = `sensors/${id('room')}/reading`;
  const inbox = await subscriber(t, 'sensors/#');
  const publisher = await connectClient(t, devPort, { protocolVersion: 5, clientId: id('pub') });
  const received = acks(publisher);
  const atQos2 = withCard();
  const refusal = await refusedPublish(publisher.publishAsync(topic, atQos2.payload, { qos: 2 }));
  assert.equal(refusal.code, PAYLOAD_FORMAT_INVALID);
  const pubrec = received.find((ack) => ack.cmd === 'pubrec');
  assert.equal(pubrec?.reasonCode, PAYLOAD_FORMAT_INVALID);
  assert.match(pubrec?.properties?.reasonString ?? '', new RegExp(REFUSED));

  const atQos0 = withCard();
  await publisher.publishAsync(topic, atQos0.payload, { qos: 0 });
  await publisher.publishAsync(topic, 'after the QoS 0 one', { qos: 1 });
  assert.equal((await inbox.next()).payload.toString(), 'after the QoS 0 one');
  await neverReceived(inbox, atQos2.value);
  await neverReceived(inbox, atQos0.value);
});

test('a client that asks for no problem information gets 0x99 without a reason string [MQTT-3.1.2-29]', async (t) => {
  const publisher = await connectClient(t, devPort, {
    protocolVersion: 5,
    clientId: id('quiet'),
    properties: { requestProblemInformation: false },
  });
  const received = acks(publisher);
  await refusedPublish(
    publisher.publishAsync(`sensors/${id('q')}`, withCard().payload, { qos: 1 }),
  );
  const puback = received.find((ack) => ack.cmd === 'puback');
  assert.equal(puback?.reasonCode, PAYLOAD_FORMAT_INVALID);
  assert.equal(puback?.properties?.reasonString, undefined);
});

test('MQTT 3.1.1 (MQTT.js and mosquitto_pub): a card number is not delivered and the connection is closed [MQTT-3.3.5-2]', async (t) => {
  const topic = `sensors/${id('room')}/reading`;
  const inbox = await subscriber(t, 'sensors/#');
  const publisher = await connectClient(t, devPort, { protocolVersion: 4, clientId: id('v311') });
  const closed = new Promise<void>((resolve) => publisher.once('close', () => resolve()));
  const fromMqttJs = withCard();
  publisher.publish(topic, fromMqttJs.payload, { qos: 1 });
  await closed;
  await neverReceived(inbox, fromMqttJs.value);

  if (!needCommand(t, 'mosquitto_pub', 'apt-get install mosquitto-clients')) return;
  const mosquittoPub = (message: string) =>
    spawnSync(
      'mosquitto_pub',
      [
        ...['-h', '127.0.0.1', '-p', String(devPort), '-V', 'mqttv311', '-q', '1'],
        ...['-i', id('mosquitto'), '-t', topic, '-m', message],
      ],
      { encoding: 'utf8', timeout: 20_000 },
    );
  const fromMosquitto = withCard();
  const refused = mosquittoPub(fromMosquitto.payload);
  assert.notEqual(refused.status, 0, 'mosquitto_pub saw its publish acknowledged');
  const clean = mosquittoPub('clean');
  assert.equal(clean.status, 0, clean.stderr);
  assert.equal((await inbox.next()).payload.toString(), 'clean');
  await neverReceived(inbox, fromMosquitto.value);
});

test('a retained publish with a card number is refused and not retained', async (t) => {
  const topic = `sensors/${id('retained')}/state`;
  const publisher = await connectClient(t, devPort, { protocolVersion: 5, clientId: id('pub') });
  await publisher.publishAsync(topic, 'kept', { qos: 1, retain: true });
  const card = withCard();
  await refusedPublish(publisher.publishAsync(topic, card.payload, { qos: 1, retain: true }));
  const inbox = await subscriber(t, topic);
  const retained = await inbox.next();
  assert.equal(retained.payload.toString(), 'kept', 'the earlier retained message stays');
  assert.equal(retained.packet.retain, true);
  await neverReceived(inbox, card.value);
});

test('flagged payloads are delivered; topics no rule covers, and detectors a rule does not name, are not checked', async (t) => {
  const flagged = `telemetry/${id('meter')}/reading`;
  const outside = `public/${id('board')}/notice`;
  const sensors = `sensors/${id('room')}/owner`;
  const inbox = await subscriber(t, 'telemetry/#', 'public/#', sensors);
  const publisher = await connectClient(t, devPort, { protocolVersion: 5, clientId: id('flag') });
  const email = withEmail('flagged');
  await publisher.publishAsync(flagged, email.payload, { qos: 1 });
  const got = await inbox.next();
  assert.equal(got.topic, flagged);
  assert.equal(got.payload.toString(), email.payload);
  // A card number where no rule applies; an e-mail address where the rule looks for cards only.
  for (const [topic, payload] of [
    [outside, withCard().payload],
    [sensors, withEmail('not-refused').payload],
  ] as const) {
    await publisher.publishAsync(topic, payload, { qos: 1 });
    const delivered = await inbox.next();
    assert.equal(delivered.topic, topic);
    assert.equal(delivered.payload.toString(), payload);
  }
  // The flag is in the operational log, and in the device log (at WARN here) as the refusals are.
  await eventually(
    () => server.stderr().includes('publish flagged: sensitive data in its payload'),
    'the operational log line of the flag',
  );
  // The device log entry follows the operational line: wait for it too.
  await eventually(
    () => /"status":"Success".*"reason":"SENSITIVE_DATA_IN_PAYLOAD"/.test(server.stderr()),
    'the device log entry of the flag',
  );
  assert.match(server.stderr(), /"status":"Failure".*"reason":"SENSITIVE_DATA_IN_PAYLOAD"/);
});

test('HTTPS data plane (aws iot-data publish): a card number is refused with InvalidRequestException naming the detector; a flagged payload is delivered', async (t) => {
  if (!needAwsCli(t)) return;
  const base = id('https');
  const inbox = await subscriber(t, `sensors/${base}/#`, `telemetry/${base}/#`);
  const publish = (topic: string, payload: string) =>
    runAwsCli(
      target,
      [
        ...['iot-data', 'publish', '--topic', topic, '--qos', '1'],
        ...['--cli-binary-format', 'raw-in-base64-out', '--payload', payload],
      ],
      { home },
    );
  const card = withCard();
  const refused = publish(`sensors/${base}/x`, card.payload);
  assert.notEqual(refused.status, 0);
  assert.match(refused.stderr, /\(InvalidRequestException\)/);
  assert.match(refused.stderr, new RegExp(REFUSED));
  assert.ok(!refused.stderr.includes(card.value), 'the error quotes no value');
  const email = withEmail('https-flagged');
  const flagged = publish(`telemetry/${base}/x`, email.payload);
  assert.equal(flagged.status, 0, flagged.stderr);
  assert.equal((await inbox.next()).payload.toString(), email.payload);
  await neverReceived(inbox, card.value);
});

test('the audit trail holds SensitiveDataInPayload summaries naming detectors, and neither it nor the logs hold a sensitive value', async () => {
  assert.equal(await stopServer(server), 0, server.stderr());
  const exportFile = join(dir, 'audit.jsonl');
  const exported = runCli(['audit', 'export', '--data-dir', dataDir, '--output', exportFile]);
  assert.equal(exported.status, 0, exported.stderr);
  const trail = readFileSync(exportFile, 'utf8');
  interface Summary {
    errorCode?: string;
    userIdentity: { type: string };
    additionalEventData: {
      action: string;
      count: number;
      detectors: Record<string, number>;
      topics: string[];
      listener?: string;
    };
  }
  const events = trail
    .split('\n')
    .filter((line) => line.includes('"eventName":"SensitiveDataInPayload"'))
    .map((line) => JSON.parse(line) as Summary);
  const flagged = events.filter((event) => event.additionalEventData.action === 'flag');
  const refused = events.filter((event) => event.additionalEventData.action === 'refuse');
  assert.ok(flagged.length > 0 && refused.length > 0, `${events.length} summaries`);
  for (const event of flagged) {
    assert.deepEqual(Object.keys(event.additionalEventData.detectors), [FLAGGED]);
    assert.ok(event.additionalEventData.topics.every((topic) => topic.startsWith('telemetry/')));
    assert.equal(event.errorCode, undefined, 'a flagged publish was delivered');
  }
  for (const event of refused) {
    assert.deepEqual(Object.keys(event.additionalEventData.detectors), [REFUSED]);
    assert.ok(event.additionalEventData.topics.every((topic) => topic.startsWith('sensors/')));
    assert.equal(event.errorCode, 'SENSITIVE_DATA_IN_PAYLOAD');
  }
  // Over HTTPS too, as the administrator's IAM identity.
  const overHttps = events.filter((event) => event.additionalEventData.listener === 'https');
  assert.deepEqual(overHttps.map((event) => event.userIdentity.type).sort(), [
    'IAMUser',
    'IAMUser',
  ]);

  for (const value of secretsSent) {
    assert.ok(!trail.includes(value), `the trail holds ${value}`);
    assert.ok(!server.stderr().includes(value), `the logs hold ${value}`);
  }
});

test('a rule naming a detector that is not enabled, or an invalid topic filter, stops start-up with a clear error', () => {
  for (const [rule, message] of [
    [
      { topics: ['sensors/#'], detectors: ['NO_SUCH_DETECTOR'] },
      /guard\.inline\[0\]\.detectors: NO_SUCH_DETECTOR is not an enabled detector/,
    ],
    [
      { topics: ['sensors/#/x'], detectors: [REFUSED] },
      /guard\.inline\[0\]\.topics: "sensors\/#\/x" is not a valid MQTT topic filter/,
    ],
  ] as const) {
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ guard: { inline: [rule] } }));
    const args = ['--data-dir', join(dir, 'bad-data'), '--config', file];
    const result = runCli(['serve', ...args, ...EPHEMERAL_PORTS_WITH_DEV]);
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, message);
  }
});
