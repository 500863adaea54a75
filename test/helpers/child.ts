import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { TestContext } from 'node:test';

export const ROOT = new URL('../../', import.meta.url).pathname;

/** Starts a TypeScript fixture under test/fixtures in its own process; killed when the test ends. */
export function startFixture(t: TestContext, fixture: string, args: string[]): ChildProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', `test/fixtures/${fixture}`, ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return child;
}

/** Calls `onLine` for every stdout line until it returns true; resolves with the lines read. */
export function readLinesUntil(
  child: ChildProcess,
  onLine: (line: string) => boolean,
  timeoutMs = 60_000,
): Promise<string[]> {
  const lines: string[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms; stderr: ${stderr}`)),
      timeoutMs,
    );
    const reader = createInterface({ input: child.stdout! });
    reader.on('line', (line) => {
      lines.push(line);
      if (onLine(line)) {
        clearTimeout(timer);
        reader.close();
        resolve(lines);
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(
        new Error(`child exited (${code ?? signal}) before the expected line; stderr: ${stderr}`),
      );
    });
  });
}

export function waitForExit(
  child: ChildProcess,
): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
}
