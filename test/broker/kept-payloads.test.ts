// What the broker keeps past a tick (retained messages, a persistent session's queue, wills)
// must not keep the socket chunk it was read from: one TCP read holds every packet of one write,
// up to 64 KiB, and a kept view of a small payload would hold all of it. Bulwark runs in this
// process so that live ArrayBuffer memory can be read after a full garbage collection.
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { startBulwark } from '../../src/app/server.js';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logs/logger.js';
import { collectGarbage } from '../helpers/gc.js';
import { connectClient, connectWithInbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';

/** Bytes of live ArrayBuffers once everything unreachable is collected. */
function liveArrayBufferBytes(): number {
  collectGarbage();
  collectGarbage();
  return process.memoryUsage().arrayBuffers;
}

/** 60 KB to a topic nobody subscribes to: the rest of the read a small packet arrives in. */
const BULK_PUBLISH = mqttPacket.generate({
  cmd: 'publish',
  topic: 'kept/bulk',
  payload: Buffer.alloc(60_000, 0x62),
  qos: 0,
  retain: false,
  dup: false,
});
const ROUNDS = 150;
const MiB = 1024 * 1024;

/** A raw MQTT 3.1.1 client: writes exactly the bytes it is given, in one write each. */
async function rawClient(
  port: number,
): Promise<{ socket: Socket; acks: (count: number) => Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const acknowledged = new EventEmitter();
  let count = 0;
  parser.on('packet', (packet: Packet) => {
    if (packet.cmd === 'puback' || packet.cmd === 'connack') acknowledged.emit('ack', ++count);
  });
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  return {
    socket,
    /** Settles once `wanted` CONNACKs and PUBACKs have come in all. */
    acks: (wanted) =>
      count >= wanted
        ? Promise.resolve()
        : new Promise((resolve) =>
            acknowledged.on('ack', (n: number) => n === wanted && resolve()),
          ),
  };
}

const encode = (packet: Parameters<typeof mqttPacket.generate>[0]) => mqttPacket.generate(packet);

test('retained messages, queued deliveries and wills keep only their own payload bytes', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const config = loadConfig({
    env: {
      BULWARK_MQTT_LIMITS_MAX_PUBLISHES_PER_SECOND: '0',
      BULWARK_MQTT_LIMITS_MAX_INBOUND_BYTES_PER_SECOND: '0',
      BULWARK_MQTT_LIMITS_MAX_QUEUED_MESSAGES: String(ROUNDS * 2),
    },
    flags: { dataDir, host: '127.0.0.1', apiPort: 0, mqttPort: 0, devPort: 0 },
  });
  const running = await startBulwark(config, {}, createLogger('ERROR'));
  t.after(() => running.close());
  const port = running.ports.dev as number;

  // A persistent session, offline: its QoS 1 deliveries wait in its in-memory queue.
  const session = { clean: false, clientId: 'kept-sub', protocolVersion: 4 as const };
  const subscriber = await connectClient(t, port, session);
  await subscriber.subscribeAsync('kept/queued', { qos: 1 });
  await subscriber.endAsync();

  const before = liveArrayBufferBytes();
  const publisher = await rawClient(port);
  publisher.socket.write(encode({ cmd: 'connect', clientId: 'kept-pub', keepalive: 60 }));
  for (let i = 0; i < ROUNDS; i++) {
    // Small packets first, then 60 KB nobody subscribes to, in one write: one read on the broker.
    publisher.socket.write(
      Buffer.concat([
        encode({
          cmd: 'publish',
          topic: `kept/retained/${i}`,
          payload: `r${i}`,
          qos: 0,
          retain: true,
          dup: false,
        }),
        encode({
          cmd: 'publish',
          topic: 'kept/queued',
          payload: `q${i}`,
          qos: 1,
          messageId: i + 1,
          retain: false,
          dup: false,
        }),
        BULK_PUBLISH,
      ]),
    );
  }
  await publisher.acks(1 + ROUNDS);

  // Clients whose will is read with 60 KB behind it, and who stay connected.
  const willers: Socket[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const willer = await rawClient(port);
    willers.push(willer.socket);
    willer.socket.write(
      Buffer.concat([
        encode({
          cmd: 'connect',
          clientId: `kept-will-${i}`,
          keepalive: 60,
          will: { topic: `kept/will/${i}`, payload: Buffer.from(`w${i}`), qos: 0, retain: false },
        }),
        BULK_PUBLISH,
      ]),
    );
    await willer.acks(1);
  }

  const grown = liveArrayBufferBytes() - before;
  // 2 × 150 chunks of ~60 KB would be ~17 MiB if kept; the payloads themselves are a few KiB.
  assert.ok(grown < 4 * MiB, `live ArrayBuffers grew by ${(grown / MiB).toFixed(1)} MiB`);

  // What was kept is still whole: the retained messages, the queue, and a will.
  const { client: reader, messages } = await connectWithInbox(t, port, session);
  const queued = [];
  for (let i = 0; i < ROUNDS; i++) queued.push((await messages.next(5000)).payload.toString());
  assert.deepEqual(
    queued,
    Array.from({ length: ROUNDS }, (_, i) => `q${i}`),
  );
  await reader.subscribeAsync('kept/retained/149', { qos: 0 });
  assert.equal((await messages.next(5000)).payload.toString(), 'r149');
  await reader.subscribeAsync('kept/will/7', { qos: 0 });
  (willers[7] as Socket).destroy();
  assert.equal((await messages.next(5000)).payload.toString(), 'w7');
  for (const willer of willers) willer.destroy();
  publisher.socket.destroy();
});
