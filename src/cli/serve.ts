import type { Command } from 'commander';
import type { AddressInfo } from 'node:net';
import { createApiServer } from '../api/server.js';
import { openDataDir } from '../app/data-dir.js';
import { BulwarkError } from '../errors.js';
import { createLogger } from '../logs/logger.js';
import { ensureServerIdentity, serverCaPath } from '../pki/server-identity.js';
import { action, configFrom, withDataDirOptions, withListenerOptions } from './common.js';

const KEY_DELETION_SWEEP_MS = 60 * 60 * 1000;

export function registerServe(program: Command): void {
  withListenerOptions(withDataDirOptions(program.command('serve')))
    .description('run Bulwark; initialises the data dir on first start')
    .action(
      action(async (flags) => {
        const config = configFrom(flags);
        if (config.devPort !== null) {
          throw new BulwarkError(
            'ConfigInvalid',
            'invalid configuration: devPort: the MQTT listeners are not part of this build yet; remove --dev-port',
          );
        }
        const logger = createLogger(config.log.level);
        const dataDir = await openDataDir(config, process.env, { create: true });
        const sweepKeys = () => {
          for (const receipt of dataDir.kms.destroyDueKeys())
            logger.warn(
              { receipt },
              'customer key destroyed at the end of its deletion waiting period',
            );
        };
        let api;
        try {
          sweepKeys();
          const identity = await ensureServerIdentity(
            dataDir.store,
            config.dataDir,
            config.hostNames,
          );
          api = await createApiServer({ identity, store: dataDir.store, logger });
          await api.listen({ host: config.host, port: config.apiPort });
        } catch (error) {
          await api?.close();
          await dataDir.close();
          throw error;
        }
        const sweep = setInterval(sweepKeys, KEY_DELETION_SWEEP_MS);
        sweep.unref();
        if (dataDir.created)
          logger.info(
            { dataDir: config.dataDir, serverCa: serverCaPath(config.dataDir) },
            'initialised a new data dir',
          );
        let stopping = false;
        const stop = async (signal: string) => {
          if (stopping) {
            logger.warn({ signal }, 'second signal: exiting without draining');
            process.exit(1);
          }
          stopping = true;
          logger.info({ signal }, 'shutting down: closing listeners, draining, closing the store');
          clearInterval(sweep);
          const force = setTimeout(() => {
            logger.error('shutdown grace period over: exiting');
            process.exit(1);
          }, config.shutdownGraceMs);
          force.unref();
          await api.close();
          await dataDir.close();
          logger.info('stopped');
          logger.flush();
        };
        process.on('SIGTERM', () => void stop('SIGTERM'));
        process.on('SIGINT', () => void stop('SIGINT'));

        // Announced only once shutdown is handled: a supervisor may signal as soon as it reads this.
        const apiPort = (api.server.address() as AddressInfo).port;
        process.stdout.write(JSON.stringify({ ready: { api: apiPort } }) + '\n');
        logger.info({ api: apiPort, store: dataDir.store.engine }, 'ready');
      }),
    );
}
