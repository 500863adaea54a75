import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';

const PINO_LEVEL: Record<Config['log']['level'], string> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
  DISABLED: 'silent',
};

/** Lines waiting for a slow stderr beyond which new ones are dropped rather than held. */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Operational logs as JSON lines on stderr; stdout carries only command output (the ready line).
 * When whatever reads stderr falls behind, lines beyond a bounded buffer are dropped, so a flood
 * of entries cannot exhaust the process's memory.
 */
export function createLogger(level: Config['log']['level']): Logger {
  return pino(
    { level: PINO_LEVEL[level], base: { service: 'bulwark' } },
    pino.destination({ dest: 2, maxLength: MAX_BUFFERED_BYTES }),
  );
}

/**
 * The stream a logger writes to, so that other JSON lines (device log entries) can share it, in
 * order and without tearing lines; stderr when the logger does not say.
 */
export function logDestination(logger: Logger): { write(chunk: string): unknown } {
  const stream = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym] as
    { write?: unknown } | undefined;
  return stream && typeof stream.write === 'function'
    ? (stream as { write(chunk: string): unknown })
    : process.stderr;
}

export type { Logger };
