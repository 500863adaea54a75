import type { Command } from 'commander';
import { initialiseDataDir, openDataDir } from '../app/data-dir.js';
import { deviceCaPath } from '../pki/device-ca.js';
import { serverCaPath } from '../pki/server-identity.js';
import { action, configFrom, printJson, withDataDirOptions } from './common.js';

export function registerInit(program: Command): void {
  withDataDirOptions(program.command('init'))
    .description(
      'initialise a data dir: root key, key store, database, server CA and certificate, device CA, administrator (idempotent)',
    )
    .action(
      action(async (flags) => {
        const config = configFrom(flags);
        const dataDir = await openDataDir(config, process.env, { create: true });
        try {
          const { adminCredentialsFile } = await initialiseDataDir(dataDir, config);
          printJson({
            dataDir: config.dataDir,
            created: dataDir.created,
            store: dataDir.store.engine,
            serverCa: serverCaPath(config.dataDir),
            deviceCa: deviceCaPath(config.dataDir),
            // The path only: the secret is in the file (mode 0600), never on stdout.
            ...(adminCredentialsFile ? { adminCredentials: adminCredentialsFile } : {}),
          });
        } finally {
          await dataDir.close();
        }
      }),
    );
}
