import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { Kms } from '../../src/kms/index.js';
import type { Engine, SqlValue } from '../../src/store/engine.js';
import { PostgresEngine } from '../../src/store/postgres.js';
import { SealedStore } from '../../src/store/sealed-store.js';
import { SqliteEngine } from '../../src/store/sqlite.js';
import type { Migration } from '../../src/store/types.js';
import { dropSchema, needPostgres, POSTGRES_URL, uniqueSchema } from './services.js';
import { tempDir } from './temp.js';

export const RECORDS = 'test_records';

/** A table shaped like device data: plaintext lookup columns, sealed documents, a per-thing scope. */
export const fixtureMigrations: Migration[] = [
  {
    id: 'test-0001-records',
    steps: [
      {
        createTable: {
          name: RECORDS,
          columns: {
            id: { type: 'text' },
            thing: { type: 'text', nullable: true },
            status: { type: 'text' },
            version: { type: 'integer' },
            active: { type: 'boolean' },
          },
          primaryKey: ['id'],
          sealed: ['document', 'payload'],
          scope: { column: 'thing', prefix: 'thing' },
          indexes: [['thing']],
        },
      },
    ],
  },
];

export interface EngineLocation {
  kind: 'sqlite' | 'postgres';
  dataDir: string;
  /** PostgreSQL only: the test's own schema. */
  schema?: string;
}

export interface Harness {
  location: EngineLocation;
  kms: Kms;
  store: SealedStore;
  /** SQL on the same database, beside the store: to tamper, copy and back up rows as an attacker or operator would. */
  raw(sql: string, params?: SqlValue[]): Promise<Record<string, SqlValue>[]>;
  /** Every byte the engine has on disk for the test's data. */
  rawBytes(): Promise<Buffer>;
  close(): Promise<void>;
}

export async function openEngineAt(location: EngineLocation): Promise<Engine> {
  if (location.kind === 'postgres')
    return PostgresEngine.connect({
      url: POSTGRES_URL,
      schema: location.schema as string,
      poolSize: 4,
    });
  return new SqliteEngine({
    path: join(location.dataDir, 'db', 'bulwark.db'),
    synchronous: 'full',
  });
}

export async function openHarnessAt(
  location: EngineLocation,
  migrations: Migration[] = fixtureMigrations,
): Promise<Harness> {
  const { kms } = Kms.openOrCreate(location.dataDir, {}, { dataKeyMaxUses: 2 ** 24 });
  const engine = await openEngineAt(location);
  const store = await SealedStore.open({ engine, sealer: kms, migrations });
  const raw = async (sql: string, params?: SqlValue[]) =>
    /^\s*SELECT/i.test(sql) ? engine.all(sql, params) : (await engine.run(sql, params), []);
  const rawBytes = async () => {
    if (engine instanceof SqliteEngine) {
      const base = join(location.dataDir, 'db', 'bulwark.db');
      return Buffer.concat(
        [base, `${base}-wal`, `${base}-shm`]
          .filter((path) => existsSync(path))
          .map((path) => readFileSync(path)),
      );
    }
    await engine.all('CHECKPOINT');
    const relations = await engine.all(
      `SELECT pg_relation_filepath(c.oid) AS heap, pg_relation_filepath(NULLIF(c.reltoastrelid, 0)) AS toast
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = ? AND c.relname = ?`,
      [location.schema as string, RECORDS],
    );
    const paths = relations
      .flatMap((row) => [row.heap, row.toast])
      .filter((path): path is string => typeof path === 'string');
    const [wal] = await engine.all('SELECT pg_walfile_name(pg_current_wal_lsn()) AS name');
    paths.push(`pg_wal/${wal?.name as string}`);
    const parts = await Promise.all(
      paths.map(
        async (path) =>
          (await engine.all('SELECT pg_read_binary_file(?) AS bytes', [path]))[0]?.bytes as Buffer,
      ),
    );
    return Buffer.concat(parts);
  };
  return {
    location,
    kms,
    store,
    raw,
    rawBytes,
    close: once(async () => {
      await store.close();
      kms.close();
    }),
  };
}

function once(close: () => Promise<void>): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => (closing ??= close());
}

/** A new data dir (and, for PostgreSQL, a new schema) removed when the test ends; undefined when skipped. */
export async function newLocation(
  t: TestContext,
  kind: 'sqlite' | 'postgres',
): Promise<EngineLocation | undefined> {
  const dataDir = tempDir(t);
  if (kind === 'sqlite') return { kind, dataDir };
  if (!(await needPostgres(t))) return undefined;
  const schema = uniqueSchema('bulwark_test');
  t.after(() => dropSchema(schema));
  return { kind, dataDir, schema };
}

export async function openHarness(
  t: TestContext,
  kind: 'sqlite' | 'postgres',
): Promise<Harness | undefined> {
  const location = await newLocation(t, kind);
  if (!location) return undefined;
  const harness = await openHarnessAt(location);
  t.after(() => harness.close());
  return harness;
}
