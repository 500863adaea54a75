import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import mqtt, { Store, type IConnackPacket, type IDisconnectPacket } from 'mqtt';
import { createTestCa, issueClientCertificate } from '../helpers/certificates.js';
import { EPHEMERAL_PORTS_WITH_DEV, startServer, stopServer } from '../helpers/cli.js';
import { connectClient, connectWithInbox } from '../helpers/mqtt-clients.js';
import { cleanConnect, parsePackets } from '../helpers/mqtt-raw.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

test('an acknowledged retained message survives kill -9 and is stored sealed', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const args = ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV];
  const first = await startServer(t, args);
  const marker = `RETAINED-${process.pid}-${Date.now()}`;
  const publisher = await connectClient(t, first.ready.dev as number, {
    protocolVersion: 5,
    clientId: 'durable-pub',
  });
  for (let i = 0; i < 20; i++)
    await publisher.publishAsync(`plant/line-${i}/state`, `${marker} ${i}`, {
      qos: 1,
      retain: true,
    });
  publisher.end(true);
  assert.equal(await stopServer(first, 'SIGKILL'), 'SIGKILL');

  const dbDir = join(dataDir, 'db');
  const raw = Buffer.concat(readdirSync(dbDir).map((name) => readFileSync(join(dbDir, name))));
  assert.ok(raw.includes(Buffer.from('plant/line-7/state')), 'the topic is a plaintext lookup key');
  assert.equal(raw.indexOf(Buffer.from(marker)), -1, 'the retained payload is sealed on disk');

  const second = await startServer(t, args);
  const { client, messages } = await connectWithInbox(t, second.ready.dev as number, {
    protocolVersion: 5,
    clientId: 'durable-sub',
  });
  await client.subscribeAsync('plant/+/state', { qos: 1 });
  const payloads = new Set<string>();
  for (let i = 0; i < 20; i++) payloads.add((await messages.next()).payload.toString());
  assert.deepEqual(
    [...payloads].sort(),
    Array.from({ length: 20 }, (_, i) => `${marker} ${i}`).sort(),
  );
  await stopServer(second);
});

test('retained messages are capped: a new retained topic past the quota is refused with 0x97, replacing one still works', async (t) => {
  const server = await startServer(
    t,
    ['--data-dir', join(tempDir(t), 'data'), ...EPHEMERAL_PORTS_WITH_DEV],
    {
      env: { BULWARK_MQTT_LIMITS_MAX_RETAINED_MESSAGES: '3' },
    },
  );
  const client = await connectClient(t, server.ready.dev as number, {
    protocolVersion: 5,
    clientId: 'quota',
  });
  for (let i = 0; i < 3; i++)
    await client.publishAsync(`quota/${i}`, `v${i}`, { qos: 1, retain: true });
  await assert.rejects(
    client.publishAsync('quota/3', 'one too many', { qos: 1, retain: true }),
    /Quota exceeded/i,
  );
  await client.publishAsync('quota/1', 'replaced', { qos: 1, retain: true });
  await client.publishAsync('quota/2', '', { qos: 1, retain: true });
  await client.publishAsync('quota/3', 'room again', { qos: 1, retain: true });
  await stopServer(server);
});

test('kill -9 under QoS 1 and QoS 2 load: every acknowledged message reaches every persistent session after restart, QoS 2 exactly once', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const args = ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV];
  const first = await startServer(t, args);
  const port = first.ready.dev as number;
  const session = {
    protocolVersion: 5 as const,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
  };
  // A persistent client keeps its own session state too: MQTT.js holds received QoS 2 messages
  // until PUBREL in its incoming store, which must outlive the reconnect [MQTT-4.1.0-1].
  const onlineClientState = new Store();
  const online = await connectWithInbox(t, port, {
    ...session,
    clientId: 'load-online',
    incomingStore: onlineClientState,
  });
  await online.client.subscribeAsync('load/#', { qos: 2 });
  const offline = await connectClient(t, port, { ...session, clientId: 'load-offline' });
  await offline.subscribeAsync('load/#', { qos: 2 });
  await offline.endAsync();

  const publisher = await connectClient(t, port, {
    protocolVersion: 5,
    clientId: 'load-pub',
    reconnectPeriod: 0,
  });
  const acknowledged: string[] = [];
  let sent = 0;
  // Waves of 20 publishes, within the broker's Receive Maximum (MQTT.js does not count it itself);
  // the server is killed as soon as 200 are acknowledged, with the rest of a wave in flight.
  await new Promise<void>((resolve) => {
    const wave = () => {
      const inFlight = [];
      for (let i = 0; i < 20; i++) {
        const qos = sent % 2 === 0 ? 1 : 2;
        const id = `q${qos}-${sent++}`;
        inFlight.push(
          publisher.publishAsync(`load/${id}`, id, { qos }).then(() => {
            acknowledged.push(id);
            if (acknowledged.length === 200) resolve();
          }),
        );
      }
      void Promise.allSettled(inFlight).then(() => acknowledged.length < 200 && wave());
    };
    wave();
  });
  assert.equal(await stopServer(first, 'SIGKILL'), 'SIGKILL');
  const beforeKill = online.messages.messages.map((message) => message.payload.toString());
  publisher.end(true);
  // The old client object is not ended: ending it would close the store it shares with the new one.

  const second = await startServer(t, args);
  const port2 = second.ready.dev as number;
  const resumedOnline = await connectWithInbox(t, port2, {
    ...session,
    clientId: 'load-online',
    incomingStore: onlineClientState,
  });
  const resumedOffline = await connectWithInbox(t, port2, { ...session, clientId: 'load-offline' });
  assert.equal(resumedOffline.client.connected, true);
  const settle = async (inbox: typeof resumedOnline.messages) => {
    for (let last = -1; last !== inbox.messages.length;) {
      last = inbox.messages.length;
      await new Promise((resolve) => setTimeout(resolve, 1500));
    }
    return inbox.messages.map((message) => message.payload.toString());
  };
  const afterOnline = await settle(resumedOnline.messages);
  const afterOffline = await settle(resumedOffline.messages);

  const count = (ids: string[]) =>
    ids.reduce(
      (counts, id) => counts.set(id, (counts.get(id) ?? 0) + 1),
      new Map<string, number>(),
    );
  const onlineCounts = count([...beforeKill, ...afterOnline]);
  const offlineCounts = count(afterOffline);
  for (const id of acknowledged) {
    assert.ok((onlineCounts.get(id) ?? 0) >= 1, `${id} reached the connected session`);
    assert.ok((offlineCounts.get(id) ?? 0) >= 1, `${id} reached the offline session after restart`);
  }
  for (const [id, times] of [...onlineCounts, ...offlineCounts]) {
    if (id.startsWith('q2-'))
      assert.equal(times, 1, `QoS 2 message ${id} delivered exactly once, not ${times} times`);
  }
  await stopServer(second);
});

test('a connection over its publish rate is throttled, not cut off: every message still arrives', async (t) => {
  const server = await startServer(
    t,
    ['--data-dir', join(tempDir(t), 'data'), ...EPHEMERAL_PORTS_WITH_DEV],
    {
      env: { BULWARK_MQTT_LIMITS_MAX_PUBLISHES_PER_SECOND: '50' },
    },
  );
  const port = server.ready.dev as number;
  const { client: subscriber, messages } = await connectWithInbox(t, port, {
    protocolVersion: 5,
    clientId: 'rate-sub',
  });
  await subscriber.subscribeAsync('rate/#', { qos: 0 });
  const publisher = await connectClient(t, port, { protocolVersion: 4, clientId: 'rate-pub' });
  const started = Date.now();
  for (let i = 0; i < 150; i++) publisher.publish('rate/x', String(i), { qos: 0 });
  for (let i = 0; i < 150; i++)
    assert.equal((await messages.next(10_000)).payload.toString(), String(i));
  // 150 publishes at 50 a second with a one-second burst cannot all be read in under two seconds.
  assert.ok(Date.now() - started >= 1900, `throttled: took ${Date.now() - started} ms`);
  assert.equal(publisher.connected, true, 'the publisher was not disconnected');
  await stopServer(server);
});

test('the will of a persistent session connected at kill -9 is sent after the restart; a discarded one is not [MQTT-3.1.2-8]', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const args = ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV];
  const first = await startServer(t, args);
  const port = first.ready.dev as number;
  const persistent = {
    protocolVersion: 5 as const,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
  };
  const watcher = await connectClient(t, port, { ...persistent, clientId: 'will-watcher' });
  await watcher.subscribeAsync('status/#', { qos: 1 });
  await watcher.endAsync();
  const will = (who: string) => ({
    topic: `status/${who}`,
    payload: Buffer.from(`${who} is gone`),
    qos: 1 as const,
    retain: false,
  });
  // Connected when the server dies: its will must still go out.
  await connectClient(t, port, { ...persistent, clientId: 'crashed', will: will('crashed') });
  // Disconnected normally before: its will was discarded and must stay so.
  const polite = await connectClient(t, port, {
    ...persistent,
    clientId: 'polite',
    will: will('polite'),
  });
  const presence = await connectWithInbox(t, port, { protocolVersion: 5, clientId: 'presence' });
  await presence.client.subscribeAsync('$aws/events/presence/disconnected/polite', { qos: 1 });
  await polite.endAsync();
  // The server has taken the disconnection in (and stores the discarded will with it).
  await presence.messages.next();
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.equal(await stopServer(first, 'SIGKILL'), 'SIGKILL');

  const second = await startServer(t, args);
  const { messages } = await connectWithInbox(t, second.ready.dev as number, {
    ...persistent,
    clientId: 'will-watcher',
  });
  assert.equal((await messages.next(10_000)).payload.toString(), 'crashed is gone');
  await messages.none(1000);
  await stopServer(second);
});

test('a graceful stop saves each connected persistent session as offline before the store closes', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const args = ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV];
  const server = await startServer(t, args);
  const session = {
    protocolVersion: 5 as const,
    clean: false,
    properties: { sessionExpiryInterval: 600 },
  };
  const clients = await Promise.all(
    Array.from({ length: 5 }, (_, i) =>
      connectClient(t, server.ready.dev as number, { ...session, clientId: `stopping-sub-${i}` }),
    ),
  );
  await Promise.all(clients.map((client) => client.subscribeAsync('stopping/#', { qos: 1 })));
  assert.equal(await stopServer(server), 0, server.stderr());
  assert.doesNotMatch(server.stderr(), /could not store the session going offline/);
  assert.doesNotMatch(server.stderr(), /"level":50/, 'no error logged while stopping');

  const restarted = await startServer(t, args);
  const resumed = mqtt.connect(`mqtt://127.0.0.1:${restarted.ready.dev}`, {
    ...session,
    clientId: 'stopping-sub-3',
    reconnectPeriod: 0,
  });
  t.after(() => resumed.end(true));
  const connack = await new Promise<IConnackPacket>((resolve) => resumed.once('connect', resolve));
  assert.equal(connack.sessionPresent, true, 'the session stopped with the server is resumed');
  await stopServer(restarted);
});

test('a TLS handshake that finishes while the server is stopping gets no session: the socket is closed and the stop stays clean', async (t) => {
  const dir = tempDir(t);
  const deviceCa = await createTestCa('Fleet CA');
  writeFileSync(join(dir, 'device-ca.pem'), deviceCa.certificatePem);
  const device = await issueClientCertificate(deviceCa, 'late-device');
  const dataDir = join(dir, 'data');
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV], {
    env: {
      BULWARK_MQTT_DEVICE_CA_FILE: join(dir, 'device-ca.pem'),
      BULWARK_MQTT_DEVICE_CA_POLICY: 'dev-listener',
    },
  });
  // Keeps the stop going: it does not close its side when the server does, so the broker waits
  // for its socket, destroyed a second after its DISCONNECT.
  const holder = tcpConnect({
    port: server.ready.dev as number,
    host: '127.0.0.1',
    allowHalfOpen: true,
  });
  t.after(() => holder.destroy());
  let held = Buffer.alloc(0);
  holder.on('data', (chunk: Buffer) => (held = Buffer.concat([held, chunk])));
  holder.write(cleanConnect('stop-holder', 5));
  await eventually(
    () => parsePackets(held).some((packet) => packet.cmd === 'connack'),
    'the holding client connected',
  );
  // Accepted by the TLS listener before the stop; its handshake is made during the stop.
  const late = tcpConnect({ port: server.ready.mqtt, host: '127.0.0.1' });
  t.after(() => late.destroy());
  await once(late, 'connect');

  const exited = stopServer(server);
  await eventually(
    () =>
      parsePackets(held).some(
        (packet) =>
          packet.cmd === 'disconnect' && (packet as IDisconnectPacket).reasonCode === 0x8b,
      ),
    'the stop began: DISCONNECT 0x8B (server shutting down) to the holding client',
  );
  const secured = tlsConnect({
    socket: late,
    servername: 'localhost',
    ca: readFileSync(join(dataDir, 'pki', 'server-ca.pem')),
    cert: device.certificatePem,
    key: device.privateKeyPem,
  });
  secured.on('error', () => undefined);
  const closed = new Promise((resolve) => secured.on('close', resolve));
  let answered = Buffer.alloc(0);
  secured.on('data', (chunk: Buffer) => (answered = Buffer.concat([answered, chunk])));
  // The client finishes its side of the handshake before the server has read it all, so the
  // CONNECT goes out; should the server close first, there is nothing to send it on.
  await new Promise((resolve) => {
    secured.once('secureConnect', resolve);
    secured.once('close', resolve);
  });
  if (!secured.destroyed) secured.write(cleanConnect('late-device', 5));
  await closed;
  assert.deepEqual(
    parsePackets(answered).map((packet) => packet.cmd),
    [],
    'no CONNACK for a connection the stopping broker took',
  );
  assert.equal(await exited, 0, server.stderr());
  assert.doesNotMatch(server.stderr(), /"level":50/, 'no error logged while stopping');
});
