import { mkdirSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { Kms } from '../kms/index.js';
import { openStore, type SealedStore } from '../store/index.js';
import { migrations } from './migrations.js';

export interface OpenDataDir {
  kms: Kms;
  store: SealedStore;
  /** True when this call initialised a new data dir (new root key and key store). */
  created: boolean;
  close(): Promise<void>;
}

/**
 * Opens a data dir for any command: keys first (a wrong root key stops here, before the
 * database is touched), then the store with every migration applied.
 */
export async function openDataDir(
  config: Config,
  env: NodeJS.ProcessEnv,
  options: { create: boolean },
): Promise<OpenDataDir> {
  const kmsOptions = { dataKeyMaxUses: config.kms.dataKeyMaxUses };
  let kms: Kms;
  let created = false;
  if (options.create) {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    ({ kms, created } = Kms.openOrCreate(config.dataDir, env, kmsOptions));
  } else {
    kms = Kms.open(config.dataDir, env, kmsOptions);
  }
  let store: SealedStore;
  try {
    store = await openStore(config, kms, migrations);
  } catch (error) {
    kms.close();
    throw error;
  }
  return {
    kms,
    store,
    created,
    async close() {
      await store.close();
      kms.close();
    },
  };
}
