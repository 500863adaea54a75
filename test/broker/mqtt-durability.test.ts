import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startServer, stopServer } from '../helpers/cli.js';
import { connectClient, connectWithInbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';

test('an acknowledged retained message survives kill -9 and is stored sealed', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const args = ['--data-dir', dataDir, '--api-port', '0', '--mqtt-port', '0', '--dev-port', '0'];
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
    [
      '--data-dir',
      join(tempDir(t), 'data'),
      '--api-port',
      '0',
      '--mqtt-port',
      '0',
      '--dev-port',
      '0',
    ],
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
