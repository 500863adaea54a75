import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, resolve, sep } from 'node:path';
import { finished } from 'node:stream/promises';
import { createStream, type RotatingFileStream } from 'rotating-file-stream';
import { BulwarkError } from '../errors.js';
import type { DetectorSet } from '../guard/detector-set.js';
import { redactLogLine } from '../guard/redaction.js';
import type { Logger } from './logger.js';

/** Where device log entries go: whole JSON lines, each ending in a newline. */
export interface LineSink {
  write(line: string): void;
  /** Writes what is buffered and releases the sink. */
  close(): Promise<void>;
}

/**
 * Any writable stream (the operational log's destination, which redacts lines when the logger
 * was created with the guard's redaction set): lines go out as they come.
 */
export function streamSink(stream: { write(chunk: string): unknown }): LineSink {
  return {
    write: (line) => void stream.write(line),
    close: async () => undefined,
  };
}

export interface RotatingFileOptions {
  path: string;
  /** The file is rotated once it reaches this size. */
  maxFileBytes: number;
  /** Rotated files kept beside the current one: `path.1` (newest) … `path.N`. */
  maxFiles: number;
  logger: Logger;
  /** `guard.redaction`: each line is redacted before it is buffered. */
  redaction?: DetectorSet;
}

/** Lines buffered while the file is busy, beyond which new ones are dropped (and counted). */
const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * JSON lines to a file rotated by size, as logrotate does (`path` → `path.1` → … → `path.N`, the
 * oldest removed), by `rotating-file-stream`. Files are created with mode 0600 and an existing
 * file is narrowed to 0600, since device logs name clients, principals and addresses. Lines
 * written in one turn of the event loop go to the file in one write. Lines are redacted with
 * `redaction` first, as the operational log's stream redacts those written to it.
 */
export function rotatingFileSink(options: RotatingFileOptions): LineSink {
  const path = resolve(options.path);
  const directory = dirname(path);
  try {
    if (!existsSync(directory)) mkdirSync(directory, { recursive: true, mode: 0o700 });
    if (existsSync(path)) chmodSync(path, 0o600);
  } catch (error) {
    throw new BulwarkError(
      'ConfigInvalid',
      `invalid configuration: log.file = ${JSON.stringify(options.path)}: cannot use it (${(error as Error).message})`,
    );
  }
  const stream: RotatingFileStream = createStream(basename(path), {
    path: directory + sep,
    size: `${options.maxFileBytes}B`,
    rotate: options.maxFiles,
    mode: 0o600,
  });
  let failed = false;
  stream.on('error', (error: Error) => {
    if (!failed)
      options.logger.error({ err: error, file: path }, 'device log file cannot be written');
    failed = true;
  });
  let pending: string[] = [];
  let scheduled = false;
  let closed = false;
  let dropped = 0;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    stream.write(chunk);
  };
  return {
    write(line) {
      if (closed) return;
      if (stream.writableLength > MAX_BUFFERED_BYTES) {
        if (dropped++ % 10_000 === 0)
          options.logger.warn(
            { file: path, dropped },
            'device log file is behind: entries dropped',
          );
        return;
      }
      pending.push(options.redaction ? redactLogLine(line, options.redaction) : line);
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      flush();
      stream.end();
      await finished(stream).catch(() => undefined);
    },
  };
}
