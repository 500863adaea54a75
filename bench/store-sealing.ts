/**
 * What sealing costs: the store's write and read throughput with real envelope encryption (Kms)
 * against the same store with a pass-through Sealer, on SQLite (synchronous full and normal) and
 * on PostgreSQL. Prints a markdown table and records it in bench/RESULTS.md.
 *
 *   npm run bench            (= node --import tsx bench/store-sealing.ts)
 *
 * Environment:
 *   BENCH_PG_URL   PostgreSQL to use (default postgres://127.0.0.1:5432/test); a schema
 *                  bench_<random>_{plain,sealed} is created per case and dropped afterwards.
 *   BENCH_SCALE    multiplies every count (e.g. 0.1 for a smoke run); a scaled run does not
 *                  write RESULTS.md.
 *
 * Fairness: the unsealed and the sealed store of a case are open side by side (separate files or
 * schemas, same table, same rows) and each measurement alternates between them in rounds, the
 * order flipping each round, so drift (WAL growth, checkpoints, disk noise) hits both alike.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import {
  isSealed,
  openWithDataKey,
  readHeader,
  sealWithDataKey,
  type SealContext,
} from '../src/kms/envelope.js';
import { Kms } from '../src/kms/kms.js';
import type { Sealer } from '../src/kms/types.js';
import type { Engine } from '../src/store/engine.js';
import { PostgresEngine } from '../src/store/postgres.js';
import { SealedStore } from '../src/store/sealed-store.js';
import { SqliteEngine } from '../src/store/sqlite.js';
import type { Migration, Row, TableDef } from '../src/store/types.js';
import { codeVersion, RESULTS_PATH, writeResultsSection } from './results-file.js';

// ---------------------------------------------------------------------------------------------
// Parameters

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
if (!(SCALE > 0))
  throw new Error(`BENCH_SCALE must be a positive number, got ${process.env.BENCH_SCALE}`);
const scaled = (n: number, multiple = 1): number =>
  Math.max(multiple, Math.round((n * SCALE) / multiple) * multiple);

const BATCH = 500;
const PAGE = 500;
const ROUNDS = 10;
const COUNTS = {
  /** One durable commit per put (fsync per commit): SQLite full, PostgreSQL. fsync latency is noisy, hence 5,000. */
  singleDurable: scaled(5_000, ROUNDS),
  /** SQLite synchronous=normal does not fsync per commit in WAL mode, so it gets more ops. */
  singleNormal: scaled(20_000, ROUNDS),
  batched: scaled(50_000, BATCH * ROUNDS),
  gets: scaled(50_000, ROUNDS),
  listRows: scaled(50_000, PAGE * ROUNDS),
  micro: scaled(100_000),
};
const WARMUP = { single: 200, batches: 2, gets: 1_000, pages: 2, micro: 5_000 };

const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://127.0.0.1:5432/test';
const SECTION = '## Store: sealed vs. unsealed';
const TARGET_PERCENT = 10;

const TABLE = 'bench_values';
const tableDef: TableDef = {
  name: TABLE,
  columns: { id: { type: 'text' }, thing: { type: 'text' }, updated_at: { type: 'integer' } },
  primaryKey: ['id'],
  sealed: ['document'],
};
const migrations: Migration[] = [{ id: 'bench-0001', steps: [{ createTable: tableDef }] }];

// ---------------------------------------------------------------------------------------------
// The two sealers

/** Seals nothing: isolates what the real Kms adds to the store. Exists only in this bench. */
const passThrough: Sealer = {
  seal: async (plaintext) => plaintext,
  open: async (sealed) => sealed,
  needsRewrap: () => false,
  rewrap: async (sealed) => sealed,
};

// ---------------------------------------------------------------------------------------------
// Documents: a device-shadow-like state, ~200 bytes, and a ~4 KB one with a reading history

type Doc = Record<string, unknown>;

function shadowDoc(targetBytes: number): Doc {
  const reported: Record<string, unknown> = {
    temperature: 21.4,
    humidity: 43,
    battery: 87,
    rssi: -61,
    firmware: '1.4.2',
    led: 'on',
    mode: 'auto',
  };
  const doc: Doc = {
    state: { reported, desired: { led: 'on', mode: 'auto' } },
    version: 100000,
    timestamp: 1_732_800_000,
  };
  if (targetBytes > 1000) {
    const history: { t: number; temperature: number; humidity: number; battery: number }[] = [];
    reported.history = history;
    for (let i = 0; JSON.stringify(doc).length < targetBytes; i++) {
      history.push({
        t: 1_732_800_000 + i * 60,
        temperature: 21 + (i % 7) / 10,
        humidity: 40 + (i % 9),
        battery: 87 - (i % 3),
      });
    }
  }
  return doc;
}

/** Each write gets its own version so the values differ; the nested state is shared. */
function docFor(base: Doc, i: number): Doc {
  return { ...base, version: 100000 + i, timestamp: 1_732_800_000 + i };
}

const pad = (n: number): string => String(n).padStart(7, '0');

// ---------------------------------------------------------------------------------------------
// Measurement

type Variant = 'plain' | 'sealed';

interface Side {
  variant: Variant;
  engine: Engine;
  store: SealedStore;
  nextSingle: number;
  nextBatched: number;
  getCursor: number;
  listAfter: string | undefined;
}

interface Tally {
  ops: number;
  ms: number;
  /** ops/s of each round */
  rounds: number[];
}

interface Measured {
  plain: Tally;
  sealed: Tally;
}

function now(): number {
  return performance.now();
}

/** Runs `perRound` ops on each side per round, alternating which side goes first. */
async function interleaved(
  sides: Record<Variant, Side>,
  totalOps: number,
  work: (side: Side, ops: number) => Promise<void>,
): Promise<Measured> {
  const perRound = totalOps / ROUNDS;
  const tally: Measured = {
    plain: { ops: 0, ms: 0, rounds: [] },
    sealed: { ops: 0, ms: 0, rounds: [] },
  };
  for (let round = 0; round < ROUNDS; round++) {
    const order: Variant[] = round % 2 === 0 ? ['plain', 'sealed'] : ['sealed', 'plain'];
    for (const variant of order) {
      const started = now();
      await work(sides[variant], perRound);
      const ms = now() - started;
      tally[variant].ops += perRound;
      tally[variant].ms += ms;
      tally[variant].rounds.push((perRound * 1000) / ms);
    }
  }
  return tally;
}

function rowFor(base: Doc, id: string, i: number): Row {
  return {
    id,
    thing: `thing-${i % 1000}`,
    updated_at: 1_732_800_000_000 + i,
    document: docFor(base, i),
  };
}

async function singleWrites(side: Side, base: Doc, ops: number): Promise<void> {
  for (let n = 0; n < ops; n++) {
    const i = side.nextSingle++;
    await side.store.put(TABLE, rowFor(base, `s-${pad(i)}`, i));
  }
}

async function batchedWrites(side: Side, base: Doc, ops: number): Promise<void> {
  for (let done = 0; done < ops; done += BATCH) {
    await side.store.transaction(async (tx) => {
      for (let n = 0; n < BATCH; n++) {
        const i = side.nextBatched++;
        await tx.put(TABLE, rowFor(base, `b-${pad(i)}`, i));
      }
    });
  }
}

async function gets(side: Side, keys: string[], ops: number): Promise<void> {
  for (let n = 0; n < ops; n++) {
    const id = keys[side.getCursor++ % keys.length] as string;
    const row = await side.store.get(TABLE, { id });
    if (!row || typeof row.document !== 'object')
      throw new Error(`bench: ${side.variant} store lost row ${id}`);
  }
}

async function listRows(side: Side, rows: number): Promise<void> {
  let read = 0;
  while (read < rows) {
    const page = await side.store.list(TABLE, {
      limit: PAGE,
      ...(side.listAfter !== undefined ? { after: { id: side.listAfter } } : {}),
    });
    read += page.length;
    const last = page[page.length - 1];
    side.listAfter = page.length < PAGE || !last ? undefined : (last.id as string);
  }
}

/** A fixed pseudo-random order of the batched keys, the same for both sides. */
function shuffledKeys(count: number, seed: number): string[] {
  const keys = Array.from({ length: count }, (_, i) => `b-${pad(i)}`);
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = keys.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [keys[i], keys[j]] = [keys[j] as string, keys[i] as string];
  }
  return keys;
}

// ---------------------------------------------------------------------------------------------
// Cases

interface Case {
  engine: 'sqlite' | 'postgres';
  mode: string;
  docBytes: number;
  singleWrites: number;
  /** Opens the engine one side's store lives on. */
  open(variant: Variant): Promise<Engine>;
  /** Settles the server before measuring (PostgreSQL: CHECKPOINT, so an earlier case's WAL does not bleed in). */
  settle?(): Promise<void>;
  /** Removes what open() created (after the stores are closed). */
  cleanup(): Promise<void>;
}

interface ResultRow {
  engine: string;
  mode: string;
  doc: string;
  operation: string;
  count: number;
  plain: number;
  sealed: number;
  overhead: number;
  roundMin: number;
  roundMax: number;
  isWrite: boolean;
}

const overheadOf = (plain: number, sealed: number): number => ((plain - sealed) / plain) * 100;

async function runCase(c: Case, kms: Kms): Promise<ResultRow[]> {
  const base = shadowDoc(c.docBytes);
  const docLabel = `${JSON.stringify(docFor(base, 0)).length} B`;
  const sides = {} as Record<Variant, Side>;
  const sealers: Record<Variant, Sealer> = { plain: passThrough, sealed: kms };
  try {
    for (const variant of ['plain', 'sealed'] as const) {
      const engine = await c.open(variant);
      let store: SealedStore;
      try {
        store = await SealedStore.open({ engine, sealer: sealers[variant], migrations });
      } catch (error) {
        await engine.close();
        throw error;
      }
      sides[variant] = {
        variant,
        engine,
        store,
        nextSingle: 0,
        nextBatched: 0,
        getCursor: 0,
        listAfter: undefined,
      };
    }

    // Warm-up (JIT, statement caches, the Kms data key), on keys of their own.
    for (const side of Object.values(sides)) {
      for (let i = 0; i < WARMUP.single; i++)
        await side.store.put(TABLE, rowFor(base, `w-s-${pad(i)}`, i));
      for (let b = 0; b < WARMUP.batches; b++) {
        await side.store.transaction(async (tx) => {
          for (let i = 0; i < BATCH; i++)
            await tx.put(TABLE, rowFor(base, `w-b-${pad(b * BATCH + i)}`, i));
        });
      }
      for (let i = 0; i < WARMUP.gets; i++)
        await side.store.get(TABLE, { id: `w-b-${pad(i % (WARMUP.batches * BATCH))}` });
      for (let p = 0; p < WARMUP.pages; p++) await side.store.list(TABLE, { limit: PAGE });
    }
    await checkSealing(sides, base);
    await c.settle?.();

    const rows: ResultRow[] = [];
    const record = (operation: string, count: number, m: Measured, isWrite: boolean): void => {
      const plain = (m.plain.ops * 1000) / m.plain.ms;
      const sealed = (m.sealed.ops * 1000) / m.sealed.ms;
      const perRound = m.plain.rounds.map((p, i) => overheadOf(p, m.sealed.rounds[i] as number));
      rows.push({
        engine: c.engine,
        mode: c.mode,
        doc: docLabel,
        operation,
        count,
        plain,
        sealed,
        overhead: overheadOf(plain, sealed),
        roundMin: Math.min(...perRound),
        roundMax: Math.max(...perRound),
        isWrite,
      });
      progress(
        `    ${operation.padEnd(32)} plain ${fmtOps(plain).padStart(9)}/s  sealed ${fmtOps(sealed).padStart(9)}/s  ${fmtPercent(overheadOf(plain, sealed))}`,
      );
    };

    record(
      'put, 1 per transaction',
      c.singleWrites,
      await interleaved(sides, c.singleWrites, (side, n) => singleWrites(side, base, n)),
      true,
    );
    record(
      `put, ${BATCH} per transaction`,
      COUNTS.batched,
      await interleaved(sides, COUNTS.batched, (side, n) => batchedWrites(side, base, n)),
      true,
    );
    const keys = shuffledKeys(COUNTS.batched, 0xb01);
    record(
      'get by key',
      COUNTS.gets,
      await interleaved(sides, COUNTS.gets, (side, n) => gets(side, keys, n)),
      false,
    );
    record(
      `list, pages of ${PAGE} (rows/s)`,
      COUNTS.listRows,
      await interleaved(sides, COUNTS.listRows, (side, n) => listRows(side, n)),
      false,
    );
    return rows;
  } finally {
    for (const side of Object.values(sides)) await side.store.close();
    await c.cleanup();
  }
}

/** Outside the timing: the sealed side really stores sealed bytes, the plain side plaintext. */
async function checkSealing(sides: Record<Variant, Side>, base: Doc): Promise<void> {
  const id = 'w-s-0000000';
  for (const side of Object.values(sides)) {
    const [raw] = await side.engine.all(`SELECT document FROM ${TABLE} WHERE id = ?`, [id]);
    const bytes = raw?.document;
    if (!Buffer.isBuffer(bytes))
      throw new Error(`bench: no raw value for ${id} in the ${side.variant} store`);
    if (side.variant === 'sealed' && !isSealed(bytes))
      throw new Error('bench: the sealed store holds an unsealed value');
    if (
      side.variant === 'plain' &&
      bytes.subarray(1).toString('utf8') !== JSON.stringify(docFor(base, 0))
    ) {
      throw new Error('bench: the plain store does not hold the plaintext');
    }
    const row = await side.store.get(TABLE, { id });
    if (JSON.stringify(row?.document) !== JSON.stringify(docFor(base, 0)))
      throw new Error(`bench: ${side.variant} store reads back another value`);
  }
}

function sqliteCase(root: string, synchronous: 'full' | 'normal', docBytes: number): Case {
  const dir = join(root, `sqlite-${synchronous}-${docBytes}`);
  return {
    engine: 'sqlite',
    mode: `synchronous=${synchronous}`,
    docBytes,
    singleWrites: synchronous === 'full' ? COUNTS.singleDurable : COUNTS.singleNormal,
    open: async (variant) => new SqliteEngine({ path: join(dir, `${variant}.db`), synchronous }),
    cleanup: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

function postgresCase(url: string, docBytes: number): Case {
  const prefix = `bench_${randomBytes(4).toString('hex')}`;
  const schemas: string[] = [];
  return {
    engine: 'postgres',
    mode: 'pool 10, synchronous_commit default',
    docBytes,
    singleWrites: COUNTS.singleDurable,
    open: async (variant) => {
      const schema = `${prefix}_${variant}`;
      schemas.push(schema);
      return PostgresEngine.connect({ url, schema, poolSize: 10 });
    },
    // CHECKPOINT needs superuser or pg_checkpoint; without it the case just runs unsettled.
    settle: () =>
      withClient(url, (client) =>
        client.query('CHECKPOINT').then(
          () => undefined,
          () => undefined,
        ),
      ),
    cleanup: () =>
      withClient(url, async (client) => {
        for (const schema of schemas)
          await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      }),
  };
}

async function withClient(url: string, work: (client: pg.Client) => Promise<void>): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}

/**
 * node-pg takes the user from PGUSER or USER, never from the OS; where neither is set (services,
 * containers) a URL without a user fails with "no PostgreSQL user name specified". Fill in the OS
 * user as libpq (psql) would.
 */
function withUser(url: string): { url: string; note?: string } {
  const parsed = new URL(url);
  if (parsed.username || process.env.PGUSER || process.env.USER) return { url };
  parsed.username = os.userInfo().username;
  return {
    url: parsed.toString(),
    note: `neither PGUSER nor USER is set; connecting as OS user ${parsed.username}`,
  };
}

/** Why PostgreSQL cannot be used, or undefined if it can. */
async function postgresUnavailable(url: string): Promise<string | undefined> {
  const parsed = new URL(url);
  const host = parsed.hostname || '127.0.0.1';
  const port = Number(parsed.port || '5432');
  const tcp = await new Promise<string | undefined>((resolve) => {
    const socket = tcpConnect({ host, port });
    socket.setTimeout(3000, () => {
      socket.destroy();
      resolve(`no answer from ${host}:${port} within 3 s`);
    });
    socket.once('connect', () => {
      socket.end();
      resolve(undefined);
    });
    socket.once('error', (error) => resolve(`${host}:${port}: ${error.message}`));
  });
  if (tcp) return tcp;
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return `${url.replace(/\/\/[^@/]*@/, '//')}: ${(error as Error).message}`;
  } finally {
    await client.end().catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// Micro: raw Kms.seal / Kms.open, no database

interface MicroRow {
  what: string;
  count: number;
  opsPerSecond: number;
}

async function micro(kms: Kms): Promise<MicroRow[]> {
  const plaintext = Buffer.from(JSON.stringify(shadowDoc(200)).slice(0, 200).padEnd(200, ' '));
  const contexts: SealContext[] = Array.from({ length: 1000 }, (_, i) => ({
    table: TABLE,
    primaryKey: JSON.stringify([`m-${pad(i)}`]),
    column: 'document',
  }));
  const n = COUNTS.micro;
  const rows: MicroRow[] = [];
  const time = async (what: string, op: (i: number) => unknown): Promise<void> => {
    for (let i = 0; i < WARMUP.micro; i++) await op(i);
    const started = now();
    for (let i = 0; i < n; i++) await op(i);
    rows.push({ what, count: n, opsPerSecond: (n * 1000) / (now() - started) });
  };
  const ctx = (i: number): SealContext => contexts[i % contexts.length] as SealContext;

  const sealed: Buffer[] = [];
  for (const context of contexts) sealed.push(await kms.seal(plaintext, context));
  const value = (i: number): Buffer => sealed[i % sealed.length] as Buffer;
  await time('Kms.seal, 200 B', (i) => kms.seal(plaintext, ctx(i)));
  await time('Kms.open, 200 B', (i) => kms.open(value(i), ctx(i)));

  // The AES-256-GCM envelope alone, with the data key in hand: what Kms adds around it is the rest.
  const dataKey = randomBytes(32);
  const ids = { keyNumber: 1, keyVersion: 1, dataKeyNumber: 1 };
  const raw = contexts.map((context) => sealWithDataKey(dataKey, ids, plaintext, context));
  const rawValue = (i: number): Buffer => raw[i % raw.length] as Buffer;
  await time('envelope only: sealWithDataKey', (i) =>
    sealWithDataKey(dataKey, ids, plaintext, ctx(i)),
  );
  await time('envelope only: openWithDataKey', (i) =>
    openWithDataKey(dataKey, rawValue(i), readHeader(rawValue(i)), ctx(i)),
  );
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Output

const fmtOps = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtPercent = (n: number): string => `${n >= 0 ? '+' : '−'}${Math.abs(n).toFixed(1)}%`;

function progress(line: string): void {
  process.stderr.write(`${line}\n`);
}

function storeTable(rows: ResultRow[]): string {
  const lines = [
    '| Engine | Mode | Doc | Operation | Count | Unsealed ops/s | Sealed ops/s | Overhead | Per-round overhead | < 10% target |',
    '|---|---|---|---|--:|--:|--:|--:|--:|---|',
  ];
  for (const r of rows) {
    const noisy = r.roundMin < TARGET_PERCENT && r.roundMax >= TARGET_PERCENT ? ' (noisy)' : '';
    const verdict = r.overhead < TARGET_PERCENT ? 'meets' : '**misses**';
    const target = r.engine === 'sqlite' && r.isWrite ? verdict + noisy : '—';
    lines.push(
      `| ${r.engine} | ${r.mode} | ${r.doc} | ${r.operation} | ${r.count.toLocaleString('en-US')} | ${fmtOps(r.plain)} | ${fmtOps(r.sealed)} | ${fmtPercent(r.overhead)} | ${fmtPercent(r.roundMin)} … ${fmtPercent(r.roundMax)} | ${target} |`,
    );
  }
  return lines.join('\n');
}

function microTable(rows: MicroRow[]): string {
  const lines = ['| Operation | Count | ops/s | µs/op |', '|---|--:|--:|--:|'];
  for (const r of rows)
    lines.push(
      `| ${r.what} | ${r.count.toLocaleString('en-US')} | ${fmtOps(r.opsPerSecond)} | ${(1e6 / r.opsPerSecond).toFixed(2)} |`,
    );
  return lines.join('\n');
}

function verdicts(rows: ResultRow[]): string[] {
  return rows
    .filter((r) => r.engine === 'sqlite' && r.isWrite)
    .map(
      (r) =>
        `- SQLite ${r.mode}, ${r.doc}, ${r.operation}: sealing costs ${fmtPercent(r.overhead)} of write throughput — ` +
        (r.overhead < TARGET_PERCENT
          ? `**meets** the < ${TARGET_PERCENT}% target`
          : `**misses** the < ${TARGET_PERCENT}% target`) +
        (r.roundMin < TARGET_PERCENT && r.roundMax >= TARGET_PERCENT
          ? ` (the per-round figures straddle ${TARGET_PERCENT}%: borderline)`
          : '') +
        '.',
    );
}

const fmtLoad = (load: number[]): string => load.map((n) => n.toFixed(2)).join(' / ');

function commandLine(): string {
  const script = process.argv[1]
    ? process.argv[1].replace(`${process.cwd()}/`, '')
    : 'bench/store-sealing.ts';
  const env = process.env.BENCH_PG_URL ? `BENCH_PG_URL=… ` : '';
  return `${env}node ${[...process.execArgv, script].join(' ')}`;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const started = now();
  const loadBefore = os.loadavg();
  const code = codeVersion();
  const root = mkdtempSync(join(os.tmpdir(), 'bulwark-bench-'));
  const notes: string[] = [];
  let kms: Kms | undefined;
  try {
    const kmsDir = join(root, 'kms');
    mkdirSync(kmsDir);
    kms = Kms.openOrCreate(kmsDir, {}, { dataKeyMaxUses: 2 ** 24 }).kms;

    const pgTarget = withUser(PG_URL);
    if (pgTarget.note) notes.push(`PostgreSQL: ${pgTarget.note}.`);
    const pgSkipped = await postgresUnavailable(pgTarget.url);
    if (pgSkipped) {
      const line = `PostgreSQL part skipped: ${pgSkipped}`;
      notes.push(line);
      console.log(line);
    }

    // The micro figures first, while nothing else (a PostgreSQL checkpoint, say) competes for the CPU.
    progress('Kms micro-benchmark');
    const microRows = await micro(kms);

    const cases: Case[] = [
      sqliteCase(root, 'full', 200),
      sqliteCase(root, 'normal', 200),
      sqliteCase(root, 'full', 4096),
      sqliteCase(root, 'normal', 4096),
      ...(pgSkipped ? [] : [postgresCase(pgTarget.url, 200), postgresCase(pgTarget.url, 4096)]),
    ];

    const rows: ResultRow[] = [];
    for (const c of cases) {
      const caseStarted = now();
      progress(`${c.engine} ${c.mode}, ~${c.docBytes} B documents`);
      rows.push(...(await runCase(c, kms)));
      progress(`    (${((now() - caseStarted) / 1000).toFixed(1)} s)`);
    }
    const elapsed = (now() - started) / 1000;

    const store = storeTable(rows);
    const microMd = microTable(microRows);
    console.log(`\n${store}\n\n${microMd}\n`);
    for (const line of verdicts(rows)) console.log(line);
    console.log(`\n(${elapsed.toFixed(0)} s in all)`);

    const cpus = os.cpus();
    const section = [
      SECTION,
      '',
      `- Date: ${new Date().toISOString()}`,
      `- Node: ${process.version}; ${os.type()} ${os.release()} ${os.arch()}`,
      `- CPU: ${cpus[0]?.model ?? 'unknown'} (${cpus.length} cores)`,
      `- Command: \`${commandLine()}\` (\`npm run bench\`), ${elapsed.toFixed(0)} s`,
      `- Code: ${code}`,
      `- Temp dir (SQLite files): ${os.tmpdir()}`,
      `- Load average (1/5/15 min) at start: ${fmtLoad(loadBefore)}; at end: ${fmtLoad(os.loadavg())} — anything else running on the machine skews the figures`,
      ...notes.map((note) => `- ${note}`),
      '',
      `Each figure is total ops / total time over ${ROUNDS} rounds that alternate between an unsealed store (pass-through Sealer) and a sealed one (Kms, dataKeyMaxUses 2^24), after a warm-up. ` +
        `Overhead = (unsealed − sealed) / unsealed; "per-round overhead" is the smallest and largest overhead among the rounds, a rough noise gauge. ` +
        `"put, 1 per transaction" is store.put outside a transaction (one commit each); "put, ${BATCH} per transaction" is ${BATCH} puts in one store.transaction. ` +
        `"get by key" reads the batched keys in a fixed shuffled order; "list" pages through the table with limit ${PAGE} and after.`,
      '',
      store,
      '',
      `Target (issue): sealing should cost less than ${TARGET_PERCENT}% of SQLite write throughput.`,
      '',
      ...verdicts(rows),
      '',
      '### Kms.seal / Kms.open, no database',
      '',
      microMd,
      '',
    ].join('\n');
    if (SCALE === 1) {
      await writeResultsSection(SECTION, section, progress);
      progress(`wrote ${RESULTS_PATH}`);
    } else {
      progress(`BENCH_SCALE=${SCALE}: not writing ${RESULTS_PATH}`);
    }
  } finally {
    kms?.close();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
