// Flow control between fast publishers and slow subscribers: what the broker does when a
// subscriber falls behind — hold its publishers back, keep a persistent session's overflow in the
// store, and in the end disconnect a subscriber that stays stuck.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Readable } from 'node:stream';
import type { MqttClient } from 'mqtt';
import { EPHEMERAL_PORTS_WITH_DEV, startServer, stopServer } from '../helpers/cli.js';
import { connectClient, connectWithInbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';

/** MQTT.js's socket: pausing it makes the client stop reading, as a stuck device would. */
function socketOf(client: MqttClient): Readable {
  return (client as unknown as { stream: Readable }).stream;
}

const UNLIMITED_RATE = {
  BULWARK_MQTT_LIMITS_MAX_PUBLISHES_PER_SECOND: '0',
  BULWARK_MQTT_LIMITS_MAX_INBOUND_BYTES_PER_SECOND: '0',
};

test('a persistent session past its in-memory queue keeps every acknowledged message in the store, in order, through kill -9', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const args = ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV];
  // A queue of 20 in memory: 300 messages to an offline session go mostly to the store alone.
  const env = { ...UNLIMITED_RATE, BULWARK_MQTT_LIMITS_MAX_QUEUED_MESSAGES: '20' };
  const first = await startServer(t, args, { env });
  const session = {
    protocolVersion: 5 as const,
    clean: false,
    clientId: 'spill-sub',
    properties: { sessionExpiryInterval: 600 },
  };
  const subscriber = await connectClient(t, first.ready.dev as number, session);
  await subscriber.subscribeAsync('spill/#', { qos: 1 });
  await subscriber.endAsync();

  const publisher = await connectClient(t, first.ready.dev as number, {
    protocolVersion: 5,
    clientId: 'spill-pub',
  });
  const total = 300;
  for (let wave = 0; wave < total; wave += 50)
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        publisher.publishAsync(`spill/${wave + i}`, String(wave + i), { qos: 1 }),
      ),
    );
  assert.equal(await stopServer(first, 'SIGKILL'), 'SIGKILL');
  publisher.end(true);

  const second = await startServer(t, args, { env });
  const { messages } = await connectWithInbox(t, second.ready.dev as number, session);
  const seen = new Set<number>();
  const order: number[] = [];
  while (seen.size < total) {
    const n = Number((await messages.next(10_000)).payload.toString());
    if (!seen.has(n)) order.push(n);
    seen.add(n);
  }
  assert.deepEqual(
    order,
    Array.from({ length: total }, (_, i) => i),
    'every acknowledged message arrives once the session resumes, oldest first',
  );
  await stopServer(second);
});

test('a subscriber that stops reading holds its QoS 0 publishers back instead of losing their messages', async (t) => {
  const server = await startServer(
    t,
    ['--data-dir', join(tempDir(t), 'data'), ...EPHEMERAL_PORTS_WITH_DEV],
    { env: UNLIMITED_RATE },
  );
  const port = server.ready.dev as number;
  const { client: subscriber, messages } = await connectWithInbox(t, port, {
    protocolVersion: 5,
    clientId: 'bp-sub',
  });
  await subscriber.subscribeAsync('bp/#', { qos: 0 });
  const publisher = await connectClient(t, port, { protocolVersion: 4, clientId: 'bp-pub' });
  // 20 MB: well past what the kernel's socket buffers absorb and the broker's 1 MB QoS 0 backlog,
  // so without backpressure most of it would be dropped while the subscriber is not reading.
  const total = 10_000;
  const payload = Buffer.alloc(2048, 'x');
  socketOf(subscriber).pause();
  for (let i = 0; i < total; i++)
    publisher.publish(`bp/${i}`, Buffer.concat([Buffer.from(`${i}:`), payload]), { qos: 0 });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  socketOf(subscriber).resume();
  for (let i = 0; i < total; i++) {
    const message = await messages.next(10_000);
    assert.equal(message.topic, `bp/${i}`, 'every message arrives, in order');
  }
  assert.equal(publisher.connected, true);
  await stopServer(server);
});

test('a subscriber that stays stuck is disconnected (THROTTLED) and its publisher carries on', async (t) => {
  const server = await startServer(
    t,
    ['--data-dir', join(tempDir(t), 'data'), ...EPHEMERAL_PORTS_WITH_DEV],
    { env: { ...UNLIMITED_RATE, BULWARK_MQTT_LIMITS_SLOW_CONSUMER_SECONDS: '2' } },
  );
  const port = server.ready.dev as number;
  const { client: observer, messages: events } = await connectWithInbox(t, port, {
    protocolVersion: 5,
    clientId: 'observer',
  });
  await observer.subscribeAsync('$aws/events/presence/disconnected/stuck-sub', { qos: 1 });
  await observer.subscribeAsync('after/#', { qos: 1 });
  const stuck = await connectClient(t, port, {
    protocolVersion: 5,
    clientId: 'stuck-sub',
    reconnectPeriod: 0,
  });
  await stuck.subscribeAsync('flood/#', { qos: 0 });
  socketOf(stuck).pause();
  const publisher = await connectClient(t, port, { protocolVersion: 5, clientId: 'flood-pub' });
  const payload = Buffer.alloc(2048, 'y');
  for (let i = 0; i < 15_000; i++) publisher.publish(`flood/${i}`, payload, { qos: 0 });

  const event = JSON.parse((await events.next(20_000)).payload.toString()) as {
    clientId: string;
    eventType: string;
    disconnectReason: string;
  };
  assert.equal(event.clientId, 'stuck-sub');
  assert.equal(event.eventType, 'disconnected');
  assert.equal(event.disconnectReason, 'THROTTLED');
  await publisher.publishAsync('after/flood', 'still here', { qos: 1 });
  assert.equal((await events.next(10_000)).payload.toString(), 'still here');
  await stopServer(server);
});
