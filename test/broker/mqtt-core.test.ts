import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { before, test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import {
  EPHEMERAL_PORTS_WITH_DEV,
  fileCleanup,
  type RunningServer,
  startServer,
} from '../helpers/cli.js';
import { connectClient, connectWithInbox, inbox } from '../helpers/mqtt-clients.js';
import { cleanConnect, parsePackets } from '../helpers/mqtt-raw.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

let server: RunningServer;
let port: number;
let unique = 0;
const id = (name: string) => `${name}-${process.pid}-${++unique}`;

// One server for the whole file; its cleanups run once every test is done.
const fileScope = fileCleanup();

before(async () => {
  const dataDir = tempDir(fileScope, 'bulwark-broker-');
  server = await startServer(fileScope, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV]);
  port = server.ready.dev as number;
});

test('QoS 0, 1 and 2 reach subscribers, across MQTT 3.1.1 and 5 [MQTT-4.3.1-1] [MQTT-4.3.2-1] [MQTT-4.3.3-1]', async (t) => {
  const sub5 = await connectClient(t, port, { protocolVersion: 5, clientId: id('sub5') });
  const sub4 = await connectClient(t, port, { protocolVersion: 4, clientId: id('sub4') });
  const in5 = inbox(sub5);
  const in4 = inbox(sub4);
  await sub5.subscribeAsync('qos/+', { qos: 2 });
  await sub4.subscribeAsync('qos/#', { qos: 1 });
  const pub = await connectClient(t, port, { protocolVersion: 4, clientId: id('pub') });
  for (const qos of [0, 1, 2] as const)
    await pub.publishAsync(`qos/${qos}`, `payload ${qos}`, { qos });
  for (const qos of [0, 1, 2]) {
    const got5 = await in5.next();
    assert.equal(got5.topic, `qos/${qos}`);
    assert.equal(got5.payload.toString(), `payload ${qos}`);
    assert.equal(got5.packet.qos, qos, 'v5 subscriber at QoS 2 gets the publish QoS');
    const got4 = await in4.next();
    assert.equal(
      got4.packet.qos,
      Math.min(qos, 1),
      'v3.1.1 subscriber at QoS 1 gets min(publish, subscription) [MQTT-3.8.4-6]',
    );
  }
});

test('a/# matches a itself, + matches one level, and a leading wildcard skips $ topics [MQTT-4.7.1-2] [MQTT-4.7.2-1]', async (t) => {
  const sub = await connectClient(t, port, { protocolVersion: 5, clientId: id('wild') });
  const messages = inbox(sub);
  await sub.subscribeAsync(['sport/#', '+/tennis', '#'], { qos: 0 });
  const pub = await connectClient(t, port, { protocolVersion: 5, clientId: id('wildpub') });
  await pub.publishAsync('$SYS/uptime', 'hidden', { qos: 1 });
  await pub.publishAsync('sport', 'parent', { qos: 1 });
  const got = await messages.next();
  assert.equal(got.topic, 'sport');
  assert.equal(got.payload.toString(), 'parent');
  await messages.none(200);
});

test('retained messages: delivered on subscribe with RETAIN set, wildcards included; an empty payload deletes [MQTT-3.3.1-6] [MQTT-3.3.1-8] [MQTT-3.3.1-10]', async (t) => {
  const topic = `retained/${id('r')}/state`;
  const pub = await connectClient(t, port, { protocolVersion: 5, clientId: id('rpub') });
  await pub.publishAsync(topic, 'on', { qos: 1, retain: true });
  const sub = await connectClient(t, port, { protocolVersion: 5, clientId: id('rsub') });
  const messages = inbox(sub);
  await sub.subscribeAsync(topic.replace('/state', '/+'), { qos: 1 });
  const got = await messages.next();
  assert.equal(got.payload.toString(), 'on');
  assert.equal(got.packet.retain, true);
  await pub.publishAsync(topic, 'live', { qos: 1, retain: true });
  const live = await messages.next();
  assert.equal(
    live.packet.retain,
    false,
    'a live message is forwarded with RETAIN cleared [MQTT-3.3.1-9]',
  );
  await pub.publishAsync(topic, '', { qos: 1, retain: true });
  await messages.next();
  const late = await connectClient(t, port, { protocolVersion: 5, clientId: id('rlate') });
  const lateMessages = inbox(late);
  await late.subscribeAsync(topic, { qos: 1 });
  await lateMessages.none(300);
  const rh2 = await connectClient(t, port, { protocolVersion: 5, clientId: id('rh2') });
  const rh2Messages = inbox(rh2);
  await pub.publishAsync(topic, 'again', { qos: 1, retain: true });
  await rh2.subscribeAsync(topic, { qos: 1, rh: 2 });
  await rh2Messages.none(300);
});

test('the will is sent on an abnormal close, not after DISCONNECT [MQTT-3.1.2-8] [MQTT-3.1.2-10]', async (t) => {
  const watcher = await connectClient(t, port, { protocolVersion: 5, clientId: id('watch') });
  const messages = inbox(watcher);
  const topic = `will/${id('w')}`;
  await watcher.subscribeAsync(topic, { qos: 1 });
  const polite = await connectClient(t, port, {
    protocolVersion: 4,
    clientId: id('polite'),
    will: { topic, payload: Buffer.from('polite gone'), qos: 1, retain: false },
  });
  await polite.endAsync();
  const rude = await connectClient(t, port, {
    protocolVersion: 5,
    clientId: id('rude'),
    will: { topic, payload: Buffer.from('rude gone'), qos: 1, retain: false },
  });
  rude.stream.destroy();
  const got = await messages.next();
  assert.equal(got.payload.toString(), 'rude gone');
  await messages.none(200);
});

test('a persistent session keeps subscriptions and queues QoS 1 messages while offline [MQTT-3.1.2-4] [MQTT-4.4.0-1]', async (t) => {
  const clientId = id('persistent');
  const first = await connectClient(t, port, {
    protocolVersion: 5,
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: 60 },
  });
  await first.subscribeAsync('offline/+', { qos: 1 });
  await first.endAsync();
  const pub = await connectClient(t, port, { protocolVersion: 4, clientId: id('opub') });
  for (let i = 0; i < 5; i++) await pub.publishAsync(`offline/${i}`, `m${i}`, { qos: 1 });
  const { client: second, messages } = await connectWithInbox(t, port, {
    protocolVersion: 5,
    clientId,
    clean: false,
    properties: { sessionExpiryInterval: 60 },
  });
  assert.ok(second.connected);
  for (let i = 0; i < 5; i++) assert.equal((await messages.next()).payload.toString(), `m${i}`);
  const clean = await connectClient(t, port, { protocolVersion: 5, clientId, clean: true });
  const cleanMessages = inbox(clean);
  await pub.publishAsync('offline/9', 'after clean start', { qos: 1 });
  await cleanMessages.none(200);
});

test('a second connection with the same client id takes the session over: the first gets DISCONNECT 0x8E [MQTT-3.1.4-3]', async (t) => {
  const clientId = id('dup');
  const first = await connectClient(t, port, { protocolVersion: 5, clientId });
  const disconnected = new Promise<number | undefined>((resolve) =>
    first.on('disconnect', (packet) => resolve(packet.reasonCode)),
  );
  await connectClient(t, port, { protocolVersion: 5, clientId });
  assert.equal(await disconnected, 0x8e);
});

test('MQTT 5: subscription identifiers, no local, retain as published, user properties and content type pass through', async (t) => {
  const client = await connectClient(t, port, { protocolVersion: 5, clientId: id('v5') });
  const messages = inbox(client);
  await client.subscribeAsync('v5/a', { qos: 1, properties: { subscriptionIdentifier: 7 } });
  await client.subscribeAsync('v5/+', { qos: 1, properties: { subscriptionIdentifier: 9 } });
  await client.subscribeAsync('nolocal/own', { qos: 1, nl: true });
  await client.subscribeAsync('v5/rap', { qos: 1, rap: true });
  const pub = await connectClient(t, port, { protocolVersion: 5, clientId: id('v5pub') });
  await pub.publishAsync('v5/a', 'x', {
    qos: 1,
    properties: {
      userProperties: { site: 'oslo' },
      contentType: 'text/plain',
      correlationData: Buffer.from('c1'),
      responseTopic: 'v5/reply',
    },
  });
  const got = await messages.next();
  assert.deepEqual(
    [got.packet.properties?.subscriptionIdentifier].flat().sort(),
    [7, 9],
    'one delivery with both identifiers [MQTT-3.3.4-3]',
  );
  assert.deepEqual({ ...got.packet.properties?.userProperties }, { site: 'oslo' });
  assert.equal(got.packet.properties?.contentType, 'text/plain');
  assert.equal(got.packet.properties?.responseTopic, 'v5/reply');
  assert.deepEqual(got.packet.properties?.correlationData, Buffer.from('c1'));
  await client.publishAsync('nolocal/own', 'mine', { qos: 1 });
  await pub.publishAsync('v5/rap', 'kept flag', { qos: 1, retain: true });
  const rap = await messages.next();
  assert.equal(rap.topic, 'v5/rap');
  assert.equal(rap.packet.retain, true, 'Retain As Published keeps RETAIN [MQTT-3.3.1-12]');
  await messages.none(200);
});

test('MQTT 5 topic aliases from the client are resolved; an out-of-range alias ends the connection with 0x94 [MQTT-3.3.2-9]', async (t) => {
  const sub = await connectClient(t, port, { protocolVersion: 5, clientId: id('aliassub') });
  const messages = inbox(sub);
  await sub.subscribeAsync('alias/t', { qos: 1 });
  const pub = await connectClient(t, port, { protocolVersion: 5, clientId: id('aliaspub') });
  await pub.publishAsync('alias/t', 'first', { qos: 1, properties: { topicAlias: 1 } });
  await pub.publishAsync('', 'second', { qos: 1, properties: { topicAlias: 1 } });
  assert.equal((await messages.next()).payload.toString(), 'first');
  const second = await messages.next();
  assert.equal(second.topic, 'alias/t');
  assert.equal(second.payload.toString(), 'second');
  // MQTT.js refuses to send an alias above the server's maximum, so this one goes raw.
  const connect = mqttPacket.generate(
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 5,
      clientId: id('badalias'),
      clean: true,
      keepalive: 30,
    },
    { protocolVersion: 5 },
  );
  const publish = mqttPacket.generate(
    {
      cmd: 'publish',
      topic: 'alias/t',
      payload: Buffer.from('bad'),
      qos: 0,
      retain: false,
      dup: false,
      properties: { topicAlias: 99 },
    },
    { protocolVersion: 5 },
  );
  const result = await rawSession([connect, publish]);
  assert.equal(result.closed, true);
  const packets = parsePackets(result.received);
  assert.deepEqual(
    packets.map((packet) => packet.cmd),
    ['connack', 'disconnect'],
  );
  assert.equal((packets[1] as { reasonCode?: number }).reasonCode, 0x94);
});

test('CONNECT checks: a client id over 128 bytes is refused (v5 0x85, v3.1.1 code 2); an empty id is assigned one, or refused without a clean session [MQTT-3.1.3-8]', async (t) => {
  await assert.rejects(
    connectClient(t, port, { protocolVersion: 5, clientId: 'x'.repeat(129) }),
    /Client Identifier not valid/i,
  );
  await assert.rejects(
    connectClient(t, port, { protocolVersion: 4, clientId: 'y'.repeat(129) }),
    /Identifier rejected/i,
  );
  const v5 = await rawSession(
    [
      mqttPacket.generate(
        {
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 5,
          clientId: '',
          clean: true,
          keepalive: 30,
        },
        { protocolVersion: 5 },
      ),
    ],
    300,
  );
  const [connack5] = parsePackets(v5.received) as mqttPacket.IConnackPacket[];
  assert.equal(connack5?.reasonCode, 0);
  assert.match(connack5?.properties?.assignedClientIdentifier ?? '', /^bulwark-[0-9a-f-]{36}$/);
  // Neither MQTT.js nor mqtt-packet will write this CONNECT (level 4, clean session 0, empty id), so it is spelt out.
  const v4 = await rawSession([
    Buffer.from([
      0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x04, 0x00, 0x00, 0x1e, 0x00, 0x00,
    ]),
  ]);
  assert.equal(v4.closed, true);
  const [connack4] = parsePackets(v4.received, 4) as mqttPacket.IConnackPacket[];
  assert.equal(connack4?.returnCode, 2);
});

/** Sends raw bytes; resolves when the server closes, or after `waitMs` with what arrived. */
function rawSession(
  bytes: Buffer[],
  waitMs = 4000,
): Promise<{ closed: boolean; received: Buffer }> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
    socket.on('close', () => resolve({ closed: true, received }));
    socket.on('error', () => undefined);
    socket.on('connect', () => bytes.forEach((chunk) => socket.write(chunk)));
    setTimeout(() => {
      socket.destroy();
      resolve({ closed: false, received });
    }, waitMs).unref();
  });
}

test('a QoS 1 PUBLISH with packet identifier 0 closes the connection, unacknowledged, in 3.1.1 and 5 [MQTT-2.3.1-1]', async () => {
  for (const protocolVersion of [4, 5] as const) {
    const connect = cleanConnect(id(`id0-${protocolVersion}`), protocolVersion);
    // mqtt-packet will not write packet id 0: topic "x", id 0, (v5: no properties), payload "y".
    const body = [0x00, 0x01, 0x78, 0x00, 0x00, ...(protocolVersion === 5 ? [0x00] : []), 0x79];
    const result = await rawSession([connect, Buffer.from([0x32, body.length, ...body])]);
    assert.equal(result.closed, true, `v${protocolVersion}`);
    const commands = parsePackets(result.received, protocolVersion).map((packet) => packet.cmd);
    assert.ok(!commands.includes('puback'), `v${protocolVersion}: ${commands.join(', ')}`);
  }
});

test('a PUBREL too short for its packet identifier closes the connection as malformed, with no PUBCOMP, in 3.1.1 and 5 [MQTT-2.3.1-1]', async () => {
  for (const protocolVersion of [4, 5] as const) {
    const connect = cleanConnect(id(`short-pubrel-${protocolVersion}`), protocolVersion);
    // Once connected: a PUBREL (0x62) with a remaining length of 1, half a packet identifier.
    const socket = tcpConnect(port, '127.0.0.1');
    let received = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length === chunk.length) socket.write(Buffer.from([0x62, 0x01, 0x00]));
    });
    socket.on('error', () => undefined);
    socket.on('connect', () => socket.write(connect));
    await once(socket, 'close');
    const packets = parsePackets(received, protocolVersion);
    assert.deepEqual(
      packets.map((packet) => packet.cmd),
      protocolVersion === 5 ? ['connack', 'disconnect'] : ['connack'],
      `v${protocolVersion}`,
    );
    if (protocolVersion === 5)
      assert.equal((packets[1] as mqttPacket.IDisconnectPacket).reasonCode, 0x81);
  }
});

test('garbage or a PUBLISH before CONNECT closes only that connection [MQTT-3.1.0-1]; the broker keeps serving', async (t) => {
  const garbage = await rawSession([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
  assert.equal(garbage.closed, true);
  const early = await rawSession([
    mqttPacket.generate({
      cmd: 'publish',
      topic: 'x',
      payload: Buffer.from('y'),
      qos: 0,
      retain: false,
      dup: false,
    }),
  ]);
  assert.equal(early.closed, true);
  assert.equal(early.received.length, 0);
  const huge = await rawSession([
    Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]),
    Buffer.alloc(300 * 1024),
  ]);
  assert.equal(
    huge.closed,
    true,
    'a packet larger than the maximum is refused before it is buffered',
  );
  const client = await connectClient(t, port, {
    protocolVersion: 5,
    clientId: id('after-garbage'),
  });
  assert.equal(client.connected, true);
});

test('keep alive: a client silent for 1.5 × its keep alive is disconnected [MQTT-3.1.2-24]', async () => {
  const connect = mqttPacket.generate({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: id('silent'),
    clean: true,
    keepalive: 1,
  });
  const started = Date.now();
  const result = await rawSession([connect]);
  assert.equal(result.closed, true);
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 1400 && elapsed < 3900, `closed after ${elapsed} ms`);
  assert.equal(result.received[0], 0x20, 'CONNACK came first');
});

test('lifecycle events: connected, subscribed, unsubscribed and disconnected with AWS fields and reasons; clients cannot forge them', async (t) => {
  const watcher = await connectClient(t, port, { protocolVersion: 5, clientId: id('lifewatch') });
  const events = inbox(watcher);
  const clientId = id('device');
  await watcher.subscribeAsync(
    [`$aws/events/presence/+/${clientId}`, `$aws/events/subscriptions/+/${clientId}`],
    { qos: 1 },
  );
  const device = await connectClient(t, port, { protocolVersion: 4, clientId });
  await device.subscribeAsync(['cmd/a', 'cmd/b'], { qos: 1 });
  await device.unsubscribeAsync('cmd/a');
  await device.endAsync();
  const bodies = [];
  for (let i = 0; i < 4; i++) {
    const event = await events.next();
    bodies.push({
      topic: event.topic,
      body: JSON.parse(event.payload.toString()) as Record<string, unknown>,
    });
  }
  assert.deepEqual(
    bodies.map((event) => event.topic),
    [
      `$aws/events/presence/connected/${clientId}`,
      `$aws/events/subscriptions/subscribed/${clientId}`,
      `$aws/events/subscriptions/unsubscribed/${clientId}`,
      `$aws/events/presence/disconnected/${clientId}`,
    ],
  );
  const [connected, subscribed, unsubscribed, disconnected] = bodies.map(
    (event) => event.body,
  ) as Record<string, unknown>[];
  assert.equal(connected?.eventType, 'connected');
  assert.equal(connected?.ipAddress, '127.0.0.1');
  assert.equal(connected?.principalIdentifier, 'dev');
  assert.match(String(connected?.sessionIdentifier), /^[0-9a-f]{32}$/);
  assert.deepEqual(subscribed?.topics, ['cmd/a', 'cmd/b']);
  assert.deepEqual(unsubscribed?.topics, ['cmd/a']);
  assert.equal(disconnected?.disconnectReason, 'CLIENT_INITIATED_DISCONNECT');
  assert.equal(disconnected?.clientInitiatedDisconnect, true);
  assert.equal(disconnected?.versionNumber, connected?.versionNumber);
  assert.equal(disconnected?.sessionIdentifier, connected?.sessionIdentifier);
  assert.equal(disconnected?.ipAddress, undefined);

  const forger = await connectClient(t, port, { protocolVersion: 5, clientId: id('forger') });
  await assert.rejects(
    forger.publishAsync(`$aws/events/presence/connected/${clientId}`, '{}', { qos: 1 }),
    /Not authorized/i,
  );
  await events.none(200);
});

test('MQTT 5 topic aliases to the client: set on first use, then the alias alone, within its Topic Alias Maximum [MQTT-3.3.2-11]', async (t) => {
  // MQTT.js resolves aliases before any hook sees the packet, so the subscriber is a raw socket.
  const socket = tcpConnect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  let received = Buffer.alloc(0);
  socket.on('data', (chunk) => (received = Buffer.concat([received, chunk])));
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    mqttPacket.generate(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 5,
        clientId: id('aliasrx'),
        clean: true,
        keepalive: 30,
        properties: { topicAliasMaximum: 1 },
      },
      { protocolVersion: 5 },
    ),
  );
  socket.write(
    mqttPacket.generate(
      { cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'aliasrx/+', qos: 0 }] },
      { protocolVersion: 5 },
    ),
  );
  const publishes = () =>
    parsePackets(received).filter(
      (packet): packet is mqttPacket.IPublishPacket => packet.cmd === 'publish',
    );
  await eventually(
    () => parsePackets(received).some((packet) => packet.cmd === 'suback'),
    'SUBACK',
  );
  const pub = await connectClient(t, port, { protocolVersion: 5, clientId: id('aliastx') });
  for (const [topic, payload] of [
    ['aliasrx/first', 'a'],
    ['aliasrx/first', 'b'],
    ['aliasrx/second', 'c'],
  ])
    await pub.publishAsync(topic as string, payload as string, { qos: 1 });
  await eventually(() => publishes().length >= 3, 'three PUBLISHes');
  assert.deepEqual(
    publishes().map((packet) => [
      packet.topic,
      packet.properties?.topicAlias,
      packet.payload.toString(),
    ]),
    [
      ['aliasrx/first', 1, 'a'],
      ['', 1, 'b'],
      ['aliasrx/second', undefined, 'c'],
    ],
  );
});
