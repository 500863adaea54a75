import Database from 'better-sqlite3';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { get } from 'node:https';
import { join } from 'node:path';
import { after } from 'node:test';
import { readLinesUntil, ROOT } from './child.js';

export const CLI = join(ROOT, 'dist/src/cli/main.js');

/** The environment a newcomer's shell would give: no BULWARK_* settings leaking in from the test run. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('BULWARK_')),
  );
  return { ...env, ...extra };
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): CliResult {
  const result = spawnSync(process.execPath, [CLI, ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(options.env),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * `bulwark ARGS` from dist without blocking the event loop (a long scan, say), `nodeArgs`
 * before the script (e.g. a heap cap); resolves once it exits.
 */
export function runCliAsync(
  args: string[],
  options: { env?: Record<string, string>; nodeArgs?: string[] } = {},
): Promise<CliResult> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), CLI, ...args], {
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) =>
    child.on('close', (status) => resolve({ status, stdout, stderr })),
  );
}

export interface RunningServer {
  child: ChildProcess;
  ready: { api: number; mqtt: number; dev?: number };
  stderr: () => string;
}

/**
 * Takes the data dir database's write lock from a connection of this process, as another
 * process's long write would hold it; the returned function lets go.
 */
export function holdDatabaseWriteLock(dataDir: string): () => void {
  const holder = new Database(join(dataDir, 'db', 'bulwark.db'));
  holder.prepare('BEGIN IMMEDIATE').run();
  return () => {
    holder.prepare('ROLLBACK').run();
    holder.close();
  };
}

/** Starts `bulwark serve` (or any command line that ends in it) and waits for its ready line. */
/** `serve` flags for a test: every listener on a free port. */
export const EPHEMERAL_PORTS = ['--api-port', '0', '--mqtt-port', '0'];
/** The same, plus the loopback dev listener. */
export const EPHEMERAL_PORTS_WITH_DEV = [...EPHEMERAL_PORTS, '--dev-port', '0'];

/** Where to register cleanup: a test's context, or a whole file's (fileCleanup). */
export interface Cleanup {
  after(fn: () => unknown): void;
}

/**
 * Cleanup for things a whole test file shares (one server for all its tests): run, newest first,
 * once every test of the file is done. Registered at the file's top level, not inside a hook.
 */
export function fileCleanup(): Cleanup {
  const cleanups: (() => unknown)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  return { after: (fn) => void cleanups.push(fn) };
}

export async function startServer(
  t: Cleanup,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string; command?: string[] } = {},
): Promise<RunningServer> {
  const command = options.command ?? [process.execPath, CLI, 'serve'];
  const child = spawn(command[0] as string, [...command.slice(1), ...args], {
    cwd: options.cwd ?? ROOT,
    env: cleanEnv(options.env),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null)
      process.kill(-(child.pid as number), 'SIGKILL');
  });
  const lines = await readLinesUntil(child, (line) => line.startsWith('{"ready"'), 60_000);
  return {
    child,
    ready: (JSON.parse(lines[lines.length - 1] as string) as { ready: RunningServer['ready'] })
      .ready,
    stderr: () => stderr,
  };
}

export function stopServer(
  server: RunningServer,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | NodeJS.Signals | null> {
  return new Promise((resolve) => {
    server.child.once('exit', (code, signal) => resolve(code ?? signal));
    process.kill(-(server.child.pid as number), signal);
  });
}

export function httpsGet(
  port: number,
  path: string,
  ca: string | undefined,
  tls: { maxVersion?: 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' } = {},
): Promise<{ status: number; body: string; protocol: string }> {
  return new Promise((resolve, reject) => {
    const request = get(
      { host: '127.0.0.1', servername: 'localhost', port, path, ...(ca ? { ca } : {}), ...tls },
      (response) => {
        let body = '';
        const protocol = (response.socket as unknown as { getProtocol(): string }).getProtocol();
        response.on('data', (chunk: Buffer) => (body += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body, protocol }));
      },
    );
    request.on('error', reject);
  });
}

/** Path → SHA-256 of every file below `dir`, to prove a command wrote nothing. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (path: string) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) walk(full);
      else
        out[full.slice(dir.length)] = createHash('sha256').update(readFileSync(full)).digest('hex');
    }
  };
  walk(dir);
  return out;
}
