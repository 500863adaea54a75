import type { Command } from 'commander';
import { openDataDir } from '../app/data-dir.js';
import { ensureServerIdentity, serverCaPath } from '../pki/server-identity.js';
import { action, configFrom, printJson, withDataDirOptions } from './common.js';

export function registerInit(program: Command): void {
  withDataDirOptions(program.command('init'))
    .description(
      'initialise a data dir: root key, key store, database, server CA and certificate (idempotent)',
    )
    .action(
      action(async (flags) => {
        const config = configFrom(flags);
        const dataDir = await openDataDir(config, process.env, { create: true });
        try {
          await ensureServerIdentity(dataDir.store, config.dataDir, config.hostNames);
          printJson({
            dataDir: config.dataDir,
            created: dataDir.created,
            store: dataDir.store.engine,
            serverCa: serverCaPath(config.dataDir),
          });
        } finally {
          await dataDir.close();
        }
      }),
    );
}
