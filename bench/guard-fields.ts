/**
 * The free-form field guard's cost per API call.
 *
 * 1. API: two real `bulwark serve` (from dist/) on SQLite, one with the field guard as configured
 *    by default (names and tags deny, descriptions and attributes warn), one with every field
 *    class `off`; the AWS SDK's IoT client with keep-alive, CONCURRENCY callers. Three calls
 *    whose free-form fields the guard reads: CreateThing (a new name and three attributes),
 *    UpdateThing (three attributes) and TagResource (three tags), with clean values (nothing
 *    matches, the common case: every detector runs over every value and finds nothing). The
 *    servers take turns, ROUNDS times; the median run of each, and the difference.
 * 2. In process: FieldGuard.check over the same fields as each call, in microseconds per call.
 *
 *   npx tsc -p tsconfig.build.json && node --import tsx bench/guard-fields.ts
 *
 * Environment: BENCH_SCALE multiplies the call counts. Prints a markdown table on stdout.
 */
import {
  CreateThingCommand,
  IoTClient,
  TagResourceCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  attributeMapFields,
  FieldGuard,
  tagListFields,
  textField,
  type FreeFormField,
} from '../src/guard/field-guard.js';
import { Guard, guardSettingsSchema } from '../src/guard/index.js';
import { adminClientOptions, startServe, stopServe, type ServeProcess } from './bulwark-serve.js';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
if (!(SCALE > 0)) throw new Error('BENCH_SCALE must be a positive number');
const CALLS = Math.max(200, Math.round(1500 * SCALE));
const CONCURRENCY = 16;
const ROUNDS = 5;
const IN_PROCESS_CALLS = Math.max(10_000, Math.round(100_000 * SCALE));
const ACCOUNT = '000000000000';

const progress = (line: string): void => void process.stderr.write(`${line}\n`);

/** Values as a fleet's inventory would hold them. */
const ATTRIBUTES = { model: 'TH-200', firmware: 'v4.2.1', site: 'plant-7-hall-b' };
const TAGS = [
  { Key: 'environment', Value: 'production' },
  { Key: 'cost-centre', Value: 'ops-4711' },
  { Key: 'owner', Value: 'field-service' },
];

type CallName = 'CreateThing' | 'UpdateThing' | 'TagResource';
const CALL_NAMES: CallName[] = ['CreateThing', 'UpdateThing', 'TagResource'];

/** The fields each call hands the guard, as its operation declares them. */
function fieldsOf(call: CallName, n: number): FreeFormField[] {
  const attributes = attributeMapFields(ATTRIBUTES, 'attributePayload.attributes');
  if (call === 'CreateThing')
    return [...textField('thingName', 'names', `meter-${n}`), ...attributes];
  if (call === 'UpdateThing') return attributes;
  return tagListFields(TAGS);
}

interface Measured {
  perSecond: number;
  p50: number;
  p99: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

function measured(latencies: number[], elapsedMs: number): Measured {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    perSecond: (latencies.length / elapsedMs) * 1000,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
  };
}

interface Target {
  label: string;
  server: ServeProcess;
  client: IoTClient;
  dir: string;
  /** Things made so far: CreateThing's names go on from here. */
  created: number;
}

async function startTarget(label: string, guard: object): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), 'bulwark-bench-guard-fields-'));
  const configFile = join(dir, 'bulwark.json');
  writeFileSync(configFile, JSON.stringify({ guard }));
  const server = await startServe({ dataDir: join(dir, 'data'), args: ['--config', configFile] });
  const client = new IoTClient(adminClientOptions(server, CONCURRENCY));
  const target: Target = { label, server, client, dir, created: 0 };
  // The things UpdateThing and TagResource work on, and a warm-up (connections, JIT).
  await load(target, 'CreateThing');
  return target;
}

async function stopTarget(target: Target): Promise<void> {
  target.client.destroy();
  await stopServe(target.server);
  rmSync(target.dir, { recursive: true, force: true });
}

async function send(target: Target, call: CallName, n: number): Promise<void> {
  const existing = `meter-${n % CONCURRENCY}`;
  if (call === 'CreateThing')
    await target.client.send(
      new CreateThingCommand({
        thingName: `meter-${target.created++}`,
        attributePayload: { attributes: ATTRIBUTES },
      }),
    );
  else if (call === 'UpdateThing')
    await target.client.send(
      new UpdateThingCommand({
        thingName: existing,
        attributePayload: { attributes: ATTRIBUTES },
      }),
    );
  else
    await target.client.send(
      new TagResourceCommand({
        resourceArn: `arn:aws:iot:us-east-1:${ACCOUNT}:thing/${existing}`,
        tags: TAGS,
      }),
    );
}

async function load(target: Target, call: CallName): Promise<Measured> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < CALLS) {
        const n = next++;
        const t0 = performance.now();
        await send(target, call, n);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return measured(latencies, performance.now() - started);
}

function median(runs: Measured[]): Measured {
  return [...runs].sort((a, b) => a.perSecond - b.perSecond)[
    Math.floor(runs.length / 2)
  ] as Measured;
}

/** FieldGuard.check alone over each call's fields, in microseconds per call (median of 5). */
function inProcess(): Map<CallName, number> {
  const guard = new FieldGuard(new Guard(guardSettingsSchema.parse({})));
  const lists = new Map(
    CALL_NAMES.map((call) => [call, Array.from({ length: 1000 }, (_, n) => fieldsOf(call, n))]),
  );
  const time = (fields: FreeFormField[][]): number => {
    const started = performance.now();
    for (let n = 0; n < IN_PROCESS_CALLS; n++) guard.check(fields[n % fields.length] ?? []);
    return ((performance.now() - started) * 1000) / IN_PROCESS_CALLS;
  };
  // Warm-up: every call's fields once through, so that no call is measured cold.
  for (const fields of lists.values()) time(fields);
  const results = new Map<CallName, number>();
  for (const [call, fields] of lists) {
    const runs = Array.from({ length: 5 }, () => time(fields)).sort((a, b) => a - b);
    results.set(call, runs[2] ?? 0);
  }
  return results;
}

async function main(): Promise<void> {
  const checkMicros = inProcess();
  for (const [call, micros] of checkMicros)
    progress(`FieldGuard.check, ${call}'s fields: ${micros.toFixed(1)} µs per call`);

  const targets = [
    await startTarget('guard on', {}),
    await startTarget('guard off', {
      fields: { names: 'off', tags: 'off', descriptions: 'off', attributes: 'off' },
    }),
  ];
  const runs = new Map<string, Measured[]>();
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const call of CALL_NAMES)
        for (const target of round % 2 === 0 ? targets : [...targets].reverse()) {
          const result = await load(target, call);
          const key = `${target.label}|${call}`;
          runs.set(key, [...(runs.get(key) ?? []), result]);
          progress(
            `round ${round + 1} ${target.label} ${call}: ${result.perSecond.toFixed(0)}/s p50 ${result.p50.toFixed(2)} ms p99 ${result.p99.toFixed(2)} ms`,
          );
        }
  } finally {
    for (const target of targets) await stopTarget(target);
  }

  const lines = [
    `Measured ${new Date().toISOString()} on ${cpus().length} cores (load ${loadavg()[0]?.toFixed(2)} at the end). ${ROUNDS} interleaved rounds of ${CALLS} calls per row, ${CONCURRENCY} concurrent SDK callers, keep-alive, SQLite; the median run.`,
    '',
    '| Call | Guard on: calls/s | p50 ms | p99 ms | Guard off: calls/s | p50 ms | p99 ms | Added p50 ms | Added p99 ms | FieldGuard.check µs |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...CALL_NAMES.map((call) => {
      const on = median(runs.get(`guard on|${call}`) ?? []);
      const off = median(runs.get(`guard off|${call}`) ?? []);
      return `| ${call} | ${on.perSecond.toFixed(0)} | ${on.p50.toFixed(2)} | ${on.p99.toFixed(2)} | ${off.perSecond.toFixed(0)} | ${off.p50.toFixed(2)} | ${off.p99.toFixed(2)} | ${(on.p50 - off.p50).toFixed(2)} | ${(on.p99 - off.p99).toFixed(2)} | ${(checkMicros.get(call) ?? 0).toFixed(1)} |`;
    }),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
