import { Command, Option } from 'commander';
import { openDataDir, type OpenDataDir } from '../app/data-dir.js';
import { loadConfig, type Config } from '../config/index.js';
import { BulwarkError, isBulwarkError } from '../errors.js';
import { storeBusyError } from '../store/index.js';

/** The flags every command that works on a data dir takes; they override file and environment. */
export function withDataDirOptions(command: Command): Command {
  return command
    .option('--data-dir <dir>', 'data directory (default ./data)')
    .option('--config <file>', 'YAML or JSON configuration file');
}

export function withListenerOptions(command: Command): Command {
  return command
    .option('--host <host>', 'address to bind (default 0.0.0.0)')
    .option('--mqtt-port <port>', 'MQTT over TLS port; 0 picks a free one (default 8883)')
    .option('--api-port <port>', 'HTTPS API port; 0 picks a free one (default 8443)')
    .addOption(
      new Option('--dev-port <port>', 'plain-TCP MQTT listener on 127.0.0.1 only (off by default)'),
    );
}

interface CommonFlags {
  dataDir?: string;
  config?: string;
  host?: string;
  mqttPort?: string;
  apiPort?: string;
  devPort?: string;
}

export function configFrom(flags: CommonFlags): Config {
  return loadConfig({
    file: flags.config,
    env: process.env,
    flags: {
      dataDir: flags.dataDir,
      host: flags.host,
      mqttPort: flags.mqttPort,
      apiPort: flags.apiPort,
      devPort: flags.devPort,
    },
  });
}

/** Opens the data dir the flags name (never creating one) for the duration of `work`. */
export async function withDataDir<T>(
  flags: CommonFlags,
  work: (dataDir: OpenDataDir, config: Config) => Promise<T>,
): Promise<T> {
  const config = configFrom(flags);
  const dataDir = await openDataDir(config, process.env, { create: false });
  try {
    return await work(dataDir, config);
  } finally {
    await dataDir.close();
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Runs a command's action; errors go to stderr with the error's exit code (2 for bad input). */
export function action<A extends unknown[]>(
  run: (...args: A) => Promise<void>,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (error) {
      const known = isBulwarkError(error) ? error : storeBusyError(error);
      if (known) {
        process.stderr.write(`bulwark: ${known.message}\n`);
        process.exitCode = known.exitCode;
      } else {
        process.stderr.write(
          `bulwark: internal error: ${(error as Error).stack ?? String(error)}\n`,
        );
        process.exitCode = 1;
      }
    }
  };
}

export function invalidArgument(message: string): BulwarkError {
  return new BulwarkError('ConfigInvalid', message);
}

/** Commander's collector for a flag that may be given several times. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A time flag: an ISO 8601 time or epoch seconds, as epoch ms. */
export function timeFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (!Number.isFinite(ms))
    throw invalidArgument(
      `${flag} ${JSON.stringify(value.slice(0, 100))}: give an ISO 8601 time or epoch seconds`,
    );
  return ms;
}
