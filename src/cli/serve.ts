import type { Command } from 'commander';
import { Guard } from '../guard/guard.js';
import { createLogger } from '../logs/logger.js';
import { action, configFrom, withDataDirOptions, withListenerOptions } from './common.js';

export function registerServe(program: Command): void {
  withListenerOptions(withDataDirOptions(program.command('serve')))
    .description('run Bulwark; initialises the data dir on first start')
    .action(
      action(async (flags) => {
        const config = configFrom(flags);
        // Every line redacted with the guard's detectors (guard.redaction).
        const logger = createLogger(config.log.level, new Guard(config.guard).redaction);
        // Loaded here, not at the top: every other command starts without the whole server.
        const { startBulwark } = await import('../app/server.js');
        const running = await startBulwark(config, process.env, logger);

        let stopping = false;
        const stop = async (signal: string) => {
          if (stopping) {
            logger.warn({ signal }, 'second signal: exiting without draining');
            process.exit(1);
          }
          stopping = true;
          logger.info({ signal }, 'shutting down: closing listeners, draining, closing the store');
          const force = setTimeout(() => {
            logger.error('shutdown grace period over: exiting');
            process.exit(1);
          }, config.shutdownGraceMs);
          force.unref();
          await running.close();
          logger.info('stopped');
          logger.flush();
        };
        process.on('SIGTERM', () => void stop('SIGTERM'));
        process.on('SIGINT', () => void stop('SIGINT'));

        // Announced only once shutdown is handled: a supervisor may signal as soon as it reads this.
        process.stdout.write(JSON.stringify({ ready: running.ports }) + '\n');
        logger.info({ ...running.ports }, 'ready');
      }),
    );
}
