import { mkdirSync } from 'node:fs';
import type { Config } from '../config/index.js';
import { ensureAdministrator } from '../iam/index.js';
import { Kms } from '../kms/index.js';
import { ensureDeviceCa, type DeviceCa } from '../pki/device-ca.js';
import { ensureServerIdentity, type ServerIdentity } from '../pki/server-identity.js';
import { ensureDevListenerPolicy } from '../policy/dev-listener.js';
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

export interface InitialisedDataDir {
  identity: ServerIdentity;
  /** The CA that signs the device certificates Bulwark issues (its key sealed in the store). */
  deviceCa: DeviceCa;
  /** Where the administrator's first access key was written, when this call created it. */
  adminCredentialsFile?: string;
}

/**
 * What init creates, idempotently: the server CA and certificate, the device CA, the administrator IAM user
 * `admin` with a first access key written to a 0600 file in the data dir, and the IoT policy
 * `dev-listener` that authorizes the dev listener's clients.
 */
export async function initialiseDataDir(
  dataDir: OpenDataDir,
  config: Config,
): Promise<InitialisedDataDir> {
  const identity = await ensureServerIdentity(dataDir.store, config.dataDir, config.hostNames);
  const deviceCa = await ensureDeviceCa(dataDir.store, config.dataDir);
  const adminCredentialsFile = await ensureAdministrator(dataDir.store, config.dataDir);
  await ensureDevListenerPolicy(dataDir.store, {
    region: config.region,
    accountId: config.accountId,
  });
  return { identity, deviceCa, ...(adminCredentialsFile ? { adminCredentialsFile } : {}) };
}
