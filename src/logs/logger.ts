import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';
import type { DetectorSet } from '../guard/detector-set.js';
import { redactLogLine } from '../guard/redaction.js';

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
 * of entries cannot exhaust the process's memory. With a `redaction` set (the guard's), each line
 * is redacted before it is written: pino's own lines, and every other line written to the
 * logger's destination (device log entries).
 */
export function createLogger(level: Config['log']['level'], redaction?: DetectorSet): Logger {
  const stderr = pino.destination({ dest: 2, maxLength: MAX_BUFFERED_BYTES });
  return pino(
    { level: PINO_LEVEL[level], base: { service: 'bulwark' } },
    redaction && redaction.detectors.length > 0 ? redactingStream(stderr, redaction) : stderr,
  );
}

/** The destination with each line redacted on its way in; flushes pass through. */
function redactingStream(
  destination: ReturnType<typeof pino.destination>,
  redaction: DetectorSet,
): { write(chunk: string): boolean; flush(callback?: (error?: Error) => void): void } {
  return {
    write: (chunk) => destination.write(redactLogLine(chunk, redaction)),
    flush: (callback) => destination.flush(callback),
  };
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
