import { pino, type Logger } from 'pino';
import type { Config } from '../config/index.js';

const PINO_LEVEL: Record<Config['log']['level'], string> = {
  DEBUG: 'debug',
  INFO: 'info',
  WARN: 'warn',
  ERROR: 'error',
  DISABLED: 'silent',
};

/** Operational logs as JSON lines on stderr; stdout carries only command output (the ready line). */
export function createLogger(level: Config['log']['level']): Logger {
  return pino({ level: PINO_LEVEL[level], base: { service: 'bulwark' } }, pino.destination(2));
}

export type { Logger };
