/**
 * Device shadow updates per second, sealed, over MQTT and over HTTPS, on SQLite and PostgreSQL.
 * Starts a real `bulwark serve` (from dist/) per engine; MQTT clients (MQTT.js, on the dev
 * listener, so TLS is not what is measured) each update their own thing's shadow keeping 10
 * requests in flight (AWS's per-connection limit); HTTPS callers use the AWS SDK's iot-data
 * client with keep-alive. Every update is answered (accepted) before it counts. Rewrites the
 * "Device shadows" section of bench/RESULTS.md.
 *
 *   npm run build && node --import tsx bench/shadows.ts
 *
 * Environment: BENCH_SCALE multiplies the update counts (e.g. 0.1 for a smoke run);
 * BULWARK_TEST_POSTGRES_URL as for the tests (PostgreSQL is skipped, and said so, when absent).
 */
import { IoTDataPlaneClient, UpdateThingShadowCommand } from '@aws-sdk/client-iot-data-plane';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pg from 'pg';
import { adminClientOptions, startServe, stopServe, type ServeProcess } from './bulwark-serve.js';
import { codeVersion, writeResultsSection } from './results-file.js';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
if (!(SCALE > 0)) throw new Error('BENCH_SCALE must be a positive number');
const POSTGRES_URL =
  process.env.BULWARK_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const CLIENTS = 8;
const IN_FLIGHT = 10;
const MQTT_UPDATES = Math.max(200, Math.round(8000 * SCALE));
const HTTPS_UPDATES = Math.max(200, Math.round(4000 * SCALE));
const HTTPS_CONCURRENCY = 16;
const SECTION = '## Device shadows: updates per second';

const progress = (line: string): void => void process.stderr.write(`${line}\n`);

/** A reported state of five fields, as a device reporting telemetry would send. */
function reportedUpdate(sequence: number, clientToken?: string): string {
  return JSON.stringify({
    state: {
      reported: {
        temperature: 20 + (sequence % 10) / 10,
        humidity: 40 + (sequence % 7),
        battery: 100 - (sequence % 50),
        firmware: '1.4.2',
        sequence,
      },
    },
    ...(clientToken ? { clientToken } : {}),
  });
}

interface Figures {
  updates: number;
  seconds: number;
  latenciesMs: number[];
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
}

/** Runs `count` tasks with at most `width` at a time. */
async function inParallel(count: number, width: number, task: (index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

async function mqttUpdates(server: ServeProcess): Promise<Figures> {
  const clients: MqttClient[] = await Promise.all(
    Array.from({ length: CLIENTS }, (_, index) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${server.dev as number}`, {
        clientId: `bench-${index}`,
        reconnectPeriod: 0,
      }),
    ),
  );
  // As device SDKs do: without it, Nagle holds each request behind the previous PUBACK.
  for (const client of clients) (client.stream as Socket).setNoDelay(true);
  const latenciesMs: number[] = [];
  const perClient = Math.ceil(MQTT_UPDATES / CLIENTS);
  const started = performance.now();
  await Promise.all(
    clients.map(async (client, index) => {
      const prefix = `$aws/things/bench-mqtt-${index}/shadow/update`;
      const waiting = new Map<string, () => void>();
      client.on('message', (topic, payload) => {
        const { clientToken } = JSON.parse(payload.toString()) as { clientToken: string };
        if (topic.endsWith('/rejected')) throw new Error(`rejected: ${payload.toString()}`);
        waiting.get(clientToken)?.();
      });
      await client.subscribeAsync([`${prefix}/accepted`, `${prefix}/rejected`], { qos: 1 });
      await inParallel(perClient, IN_FLIGHT, async (sequence) => {
        const clientToken = `t${sequence}`;
        const sent = performance.now();
        const answered = new Promise<void>((resolve) => waiting.set(clientToken, resolve));
        client.publish(prefix, reportedUpdate(sequence, clientToken), { qos: 0 });
        await answered;
        waiting.delete(clientToken);
        latenciesMs.push(performance.now() - sent);
      });
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await Promise.all(clients.map((client) => client.endAsync()));
  return { updates: perClient * CLIENTS, seconds, latenciesMs };
}

async function httpsUpdates(server: ServeProcess): Promise<Figures> {
  const client = new IoTDataPlaneClient(adminClientOptions(server, HTTPS_CONCURRENCY));
  const latenciesMs: number[] = [];
  const started = performance.now();
  await inParallel(HTTPS_UPDATES, HTTPS_CONCURRENCY, async (sequence) => {
    const sent = performance.now();
    await client.send(
      new UpdateThingShadowCommand({
        thingName: `bench-https-${sequence % CLIENTS}`,
        payload: Buffer.from(reportedUpdate(sequence)),
      }),
    );
    latenciesMs.push(performance.now() - sent);
  });
  const seconds = (performance.now() - started) / 1000;
  client.destroy();
  return { updates: HTTPS_UPDATES, seconds, latenciesMs };
}

async function postgresAvailable(): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await client.end();
}

function row(engine: string, face: string, figures: Figures): string {
  const sorted = [...figures.latenciesMs].sort((a, b) => a - b);
  return `| ${engine} | ${face} | ${figures.updates.toLocaleString('en-US')} | ${Math.round(
    figures.updates / figures.seconds,
  ).toLocaleString(
    'en-US',
  )} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} |`;
}

async function main(): Promise<void> {
  const began = Date.now();
  const loadBefore = loadavg();
  const rows: string[] = [];
  const notes: string[] = [];
  const unavailable = await postgresAvailable();
  const engines: ('sqlite' | 'postgres')[] = unavailable ? ['sqlite'] : ['sqlite', 'postgres'];
  if (unavailable) notes.push(`PostgreSQL skipped: ${unavailable}`);
  for (const engine of engines) {
    const dir = mkdtempSync(join(tmpdir(), 'bulwark-bench-shadow-'));
    const schema = `bench_shadow_${process.pid}`;
    const env: Record<string, string> =
      engine === 'postgres'
        ? {
            BULWARK_STORE_ENGINE: 'postgres',
            BULWARK_STORE_POSTGRES_URL: POSTGRES_URL,
            BULWARK_STORE_POSTGRES_SCHEMA: schema,
          }
        : {};
    const server = await startServe({
      dataDir: join(dir, 'data'),
      args: ['--dev-port', '0'],
      env: {
        // AWS's per-connection quotas (100 publishes/s, 512 KB/s) would cap each client at 100
        // updates/s; the shadow service is what is measured.
        BULWARK_MQTT_LIMITS_MAX_PUBLISHES_PER_SECOND: '0',
        BULWARK_MQTT_LIMITS_MAX_INBOUND_BYTES_PER_SECOND: '0',
        ...env,
      },
    });
    try {
      progress(`${engine}: ${MQTT_UPDATES} updates over MQTT…`);
      rows.push(row(engine, 'MQTT', await mqttUpdates(server)));
      progress(`${engine}: ${HTTPS_UPDATES} updates over HTTPS…`);
      rows.push(row(engine, 'HTTPS (SigV4)', await httpsUpdates(server)));
    } finally {
      await stopServe(server);
      rmSync(dir, { recursive: true, force: true });
      if (engine === 'postgres') await dropSchema(schema);
    }
  }
  const loadAfter = loadavg();
  const section = [
    SECTION,
    '',
    `- Date: ${new Date(began).toISOString()}`,
    `- Node: ${process.version}; CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores)`,
    `- Command: \`node --import tsx bench/shadows.ts\`, ${Math.round((Date.now() - began) / 1000)} s${SCALE !== 1 ? ` (BENCH_SCALE=${SCALE})` : ''}`,
    `- Code: ${codeVersion()}`,
    `- Load average (1 min) at start ${loadBefore[0]?.toFixed(2)}, at end ${loadAfter[0]?.toFixed(2)}`,
    ...notes.map((note) => `- ${note}`),
    '',
    `One \`bulwark serve\` per engine, shadows sealed (the default). MQTT: ${CLIENTS} MQTT.js clients on the dev listener (plain TCP, so TLS is not in the figure), each updating its own thing's classic shadow with ${IN_FLIGHT} requests in flight and AWS's per-connection publish quota lifted (with it, each client would stop at 100 updates/s); an update counts once its \`/update/accepted\` arrives. HTTPS: the AWS SDK's iot-data client, ${HTTPS_CONCURRENCY} requests in flight over keep-alive TLS, SigV4-signed, across ${CLIENTS} things. Each update reports five fields (about 130 bytes); the shadow stays the same size. Latency is request to answer.`,
    '',
    '| Engine | Face | Updates | Updates/s | p50 ms | p99 ms |',
    '| --- | --- | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');
  process.stdout.write(`${section}\n`);
  await writeResultsSection(SECTION, section, progress);
}

await main();
