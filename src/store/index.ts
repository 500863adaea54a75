import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { Sealer } from '../kms/index.js';
import type { Engine } from './engine.js';
import { PostgresEngine } from './postgres.js';
import { SealedStore } from './sealed-store.js';
import { SqliteEngine } from './sqlite.js';
import type { Migration } from './types.js';

export { SealedStore } from './sealed-store.js';
export { rewrapAll, countOnOldVersions, type RewrapProgress, type RewrapReport } from './rewrap.js';
export * from './types.js';
export { readPage } from './page.js';
export { BUSY_TIMEOUT_MS, storeBusyError } from './sqlite.js';

export function sqlitePath(dataDir: string): string {
  return join(dataDir, 'db', 'bulwark.db');
}

/** PostgreSQL's password comes from the environment (PGPASSWORD), never from the config file. */
export async function openEngine(config: Config): Promise<Engine> {
  if (config.store.engine === 'postgres') return PostgresEngine.connect(config.store.postgres);
  return new SqliteEngine({
    path: sqlitePath(config.dataDir),
    synchronous: config.store.sqlite.synchronous,
  });
}

export async function openStore(
  config: Config,
  sealer: Sealer,
  migrations: Migration[],
): Promise<SealedStore> {
  const engine = await openEngine(config);
  try {
    return await SealedStore.open({ engine, sealer, migrations });
  } catch (error) {
    await engine.close();
    throw error;
  }
}
