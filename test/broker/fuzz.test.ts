import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { EPHEMERAL_PORTS_WITH_DEV, startServer, stopServer } from '../helpers/cli.js';
import { connectClient } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';

/** A deterministic generator, so a failure can be replayed with the same seed. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), 1 | state);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function residentKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0);
}

const TEMPLATES: Packet[] = [
  {
    cmd: 'publish',
    topic: 'fuzz/a/b',
    payload: Buffer.from('payload'),
    qos: 1,
    retain: false,
    dup: false,
    messageId: 7,
  },
  {
    cmd: 'publish',
    topic: 'fuzz/retained',
    payload: Buffer.from('r'),
    qos: 0,
    retain: true,
    dup: false,
  },
  { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'fuzz/#', qos: 1 }] },
  { cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['fuzz/#'] },
  { cmd: 'puback', messageId: 9 },
  { cmd: 'pubrec', messageId: 10 },
  { cmd: 'pubrel', messageId: 11 },
  { cmd: 'pubcomp', messageId: 12 },
  { cmd: 'pingreq' },
  { cmd: 'disconnect' },
];

/**
 * One connection's worth of traffic: a valid CONNECT, then valid packets with one fuzzed packet
 * (a few bytes of a valid one changed, or random bytes) at a random place, so most packets are
 * parsed and handled before the fuzzed one ends the connection.
 */
function connectionBytes(next: () => number, version: 4 | 5, packets: number): Buffer {
  const chunks = [
    mqttPacket.generate(
      {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: version,
        clientId: `fuzz-${Math.floor(next() * 1e9)}`,
        clean: true,
        keepalive: 30,
      },
      { protocolVersion: version },
    ),
  ];
  const fuzzedAt = Math.floor(next() * packets);
  for (let i = 0; i < packets; i++) {
    const template = TEMPLATES[Math.floor(next() * (TEMPLATES.length - 1))] as Packet;
    const bytes = Buffer.from(mqttPacket.generate(template, { protocolVersion: version }));
    if (i !== fuzzedAt) {
      chunks.push(bytes);
    } else if (next() < 0.7) {
      for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--)
        bytes[Math.floor(next() * bytes.length)] = Math.floor(next() * 256);
      chunks.push(bytes);
    } else {
      chunks.push(
        Buffer.from(
          Array.from({ length: 1 + Math.floor(next() * 40) }, () => Math.floor(next() * 256)),
        ),
      );
    }
  }
  return Buffer.concat(chunks);
}

function sendAndClose(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1', () => {
      socket.end(bytes);
    });
    socket.on('data', () => undefined);
    socket.on('error', () => resolve());
    socket.on('close', () => resolve());
    setTimeout(() => {
      socket.destroy();
      resolve();
    }, 5000).unref();
  });
}

test('fuzz: 100,000 random and mutated packets cause no crash, no hang and no unbounded growth', async (t) => {
  // A small heap turns a leak into a crash instead of slow growth V8 would only collect later.
  const server = await startServer(t, ['--data-dir', tempDir(t), ...EPHEMERAL_PORTS_WITH_DEV], {
    env: { NODE_OPTIONS: '--max-old-space-size=96' },
  });
  const port = server.ready.dev as number;
  const pid = server.child.pid as number;
  const next = random(20261128);
  const connections = 10_000;
  const packetsPerConnection = 10;
  const rounds = 50;
  for (let round = 0; round < rounds; round++) {
    const batch = [];
    for (let i = 0; i < connections / rounds; i++)
      batch.push(
        sendAndClose(port, connectionBytes(next, next() < 0.5 ? 4 : 5, packetsPerConnection)),
      );
    await Promise.all(batch);
  }
  const total = connections * packetsPerConnection;
  assert.ok(total >= 100_000);
  assert.equal(server.child.exitCode, null, 'the server is still running');
  const client = await connectClient(t, port, { protocolVersion: 5, clientId: 'after-fuzz' });
  await client.subscribeAsync('fuzz/check', { qos: 1 });
  const received = new Promise<string>((resolve) =>
    client.once('message', (_topic, payload) => resolve(payload.toString())),
  );
  await client.publishAsync('fuzz/check', 'still serving', { qos: 1 });
  assert.equal(await received, 'still serving');
  const finalKiB = residentKiB(pid);
  assert.ok(finalKiB < 256 * 1024, `resident memory ${finalKiB} KiB after the fuzz`);
  const handlerErrors = server
    .stderr()
    .split('\n')
    .filter((line) => line.includes('error while handling a packet'));
  assert.deepEqual(handlerErrors.slice(0, 3), [], 'no handler threw on fuzzed input');
  client.end(true);
  assert.equal(await stopServer(server), 0);
});
