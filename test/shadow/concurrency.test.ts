// Concurrent updates to one shadow from several MQTT clients and HTTPS at once, on SQLite and on
// PostgreSQL: every update gets its own version, none is lost, none skipped. And the store's rule
// that makes this hold across processes, with two services racing on one database.
import { GetThingShadowCommand, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { MqttClient } from 'mqtt';
import { ShadowService } from '../../src/shadow/index.js';
import { parseUpdateRequest } from '../../src/shadow/document.js';
import { shadowMigrations } from '../../src/shadow/shadow-store.js';
import { createLogger } from '../../src/logs/logger.js';
import { EPHEMERAL_PORTS_WITH_DEV, fileCleanup, startServer } from '../helpers/cli.js';
import { connectClient } from '../helpers/mqtt-clients.js';
import { dropSchema, needPostgres, POSTGRES_URL, uniqueSchema } from '../helpers/services.js';
import { newLocation, openHarnessAt } from '../helpers/store-harness.js';
import { tempDir } from '../helpers/temp.js';
import { dataPlaneClient } from './shadow-faces.js';

const MQTT_CLIENTS = 4;
const UPDATES_PER_CLIENT = 200;
const HTTPS_UPDATES = 200;
/** Requests each client keeps in flight: AWS's per-connection limit. */
const IN_FLIGHT = 10;

/** Runs `count` tasks with at most `width` at a time. */
async function inParallel(count: number, width: number, task: (index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** Updates over MQTT, each answered on `/update/accepted` or `/rejected` with its clientToken. */
async function mqttUpdater(client: MqttClient, thingName: string) {
  const prefix = `$aws/things/${thingName}/shadow/update`;
  const waiting = new Map<
    string,
    (answer: { topic: string; body: Record<string, unknown> }) => void
  >();
  client.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString()) as Record<string, unknown>;
    waiting.get(body.clientToken as string)?.({ topic, body });
  });
  await client.subscribeAsync([`${prefix}/accepted`, `${prefix}/rejected`], { qos: 1 });
  return async (field: string, value: number, clientToken: string) => {
    const answered = new Promise<{ topic: string; body: Record<string, unknown> }>((resolve) =>
      waiting.set(clientToken, resolve),
    );
    await client.publishAsync(
      prefix,
      JSON.stringify({ state: { reported: { [field]: value } }, clientToken }),
      { qos: 1 },
    );
    const answer = await answered;
    waiting.delete(clientToken);
    assert.equal(answer.topic, `${prefix}/accepted`, JSON.stringify(answer.body));
    return answer.body.version as number;
  };
}

async function thousandUpdates(t: TestContext, env: Record<string, string>) {
  const files = fileCleanup();
  const dataDir = join(tempDir(files, 'bulwark-shadow-race-'), 'data');
  // A thousand fields are more than AWS's 8 KB: the limit is a setting.
  const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV], {
    env: { BULWARK_SHADOW_MAX_STATE_BYTES: String(64 * 1024), ...env },
  });
  t.after(() => server.child.kill('SIGKILL'));
  const https = dataPlaneClient({ port: server.ready.api, dataDir });
  const thingName = 'contended';
  await https.send(
    new UpdateThingShadowCommand({
      thingName,
      payload: Buffer.from(JSON.stringify({ state: { reported: { initial: true } } })),
    }),
  );
  const versions: number[] = [];
  const clients = await Promise.all(
    Array.from({ length: MQTT_CLIENTS }, (_, index) =>
      connectClient(files, server.ready.dev as number, { clientId: `updater-${index}` }),
    ),
  );
  const updaters = await Promise.all(clients.map((client) => mqttUpdater(client, thingName)));
  await Promise.all([
    ...updaters.map((update, client) =>
      inParallel(UPDATES_PER_CLIENT, IN_FLIGHT, async (index) => {
        versions.push(await update(`m${client}_${index}`, index, `m${client}-${index}`));
      }),
    ),
    inParallel(HTTPS_UPDATES, IN_FLIGHT, async (index) => {
      const answer = await https.send(
        new UpdateThingShadowCommand({
          thingName,
          payload: Buffer.from(JSON.stringify({ state: { reported: { [`h_${index}`]: index } } })),
        }),
      );
      versions.push(
        (JSON.parse(Buffer.from(answer.payload as Uint8Array).toString()) as { version: number })
          .version,
      );
    }),
  ]);
  const total = MQTT_CLIENTS * UPDATES_PER_CLIENT + HTTPS_UPDATES;
  assert.deepEqual(
    versions.sort((a, b) => a - b),
    Array.from({ length: total }, (_, index) => index + 2),
    'each update got its own version, none skipped',
  );
  const shadow = JSON.parse(
    Buffer.from(
      (await https.send(new GetThingShadowCommand({ thingName }))).payload as Uint8Array,
    ).toString(),
  ) as { version: number; state: { reported: Record<string, unknown> } };
  assert.equal(shadow.version, 1 + total);
  const expected: Record<string, unknown> = { initial: true };
  for (let client = 0; client < MQTT_CLIENTS; client++)
    for (let index = 0; index < UPDATES_PER_CLIENT; index++)
      expected[`m${client}_${index}`] = index;
  for (let index = 0; index < HTTPS_UPDATES; index++) expected[`h_${index}`] = index;
  assert.deepEqual(shadow.state.reported, expected, 'no field lost');
}

test('1,000 concurrent updates over MQTT and HTTPS end at version + 1,000 with every field [sqlite]', (t) =>
  thousandUpdates(t, {}));

test('1,000 concurrent updates over MQTT and HTTPS end at version + 1,000 with every field [postgres]', async (t) => {
  if (!(await needPostgres(t))) return;
  const schema = uniqueSchema('bulwark_shadow');
  t.after(() => dropSchema(schema));
  await thousandUpdates(t, {
    BULWARK_STORE_ENGINE: 'postgres',
    BULWARK_STORE_POSTGRES_URL: POSTGRES_URL,
    BULWARK_STORE_POSTGRES_SCHEMA: schema,
  });
});

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`two services on one database (as two processes would be) never give one version twice [${kind}]`, async (t) => {
    const location = await newLocation(t, kind);
    if (!location) return;
    const harness = await openHarnessAt(location, shadowMigrations);
    t.after(() => harness.close());
    const logger = createLogger('ERROR');
    const services = [0, 1].map(
      () =>
        new ShadowService({
          store: harness.store,
          limits: { maxStateBytes: 8192, maxDepth: 6 },
          publish: async () => undefined,
          logger,
        }),
    );
    const id = { thingName: 'raced', shadowName: 'both' };
    const versions: number[] = [];
    await Promise.all(
      Array.from({ length: 100 }, async (_, index) => {
        const service = services[index % 2] as ShadowService;
        const request = parseUpdateRequest(
          Buffer.from(JSON.stringify({ state: { desired: { [`f${index}`]: index } } })),
          service.limits,
        );
        versions.push(((await service.update(id, request)) as { version: number }).version);
      }),
    );
    assert.deepEqual(
      versions.sort((a, b) => a - b),
      Array.from({ length: 100 }, (_, index) => index + 1),
    );
    const shadow = (await services[0]?.get(id)) as { state: { desired: Record<string, number> } };
    assert.equal(Object.keys(shadow.state.desired).length, 100);
  });
}
