import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';
import type { TestContext } from 'node:test';
import pg from 'pg';

/** Set by .ci/run: a test that needs a missing service fails instead of skipping. */
export const SERVICES_REQUIRED = process.env.BULWARK_REQUIRE_SERVICES === '1';

export const POSTGRES_URL =
  process.env.BULWARK_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let postgresProbe: Promise<string | undefined> | undefined;

/** Undefined when PostgreSQL answers, else why not. */
function postgresUnavailable(): Promise<string | undefined> {
  postgresProbe ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return undefined;
    } catch (error) {
      return (error as Error).message || String(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return postgresProbe;
}

/**
 * True when the test may go on. Without PostgreSQL the test is skipped with the reason, or fails
 * when BULWARK_REQUIRE_SERVICES=1 (CI never passes by skipping).
 */
export async function needPostgres(t: TestContext): Promise<boolean> {
  const reason = await postgresUnavailable();
  if (reason === undefined) return true;
  const message = `PostgreSQL is not reachable at ${POSTGRES_URL} (${reason}); start it or set BULWARK_TEST_POSTGRES_URL`;
  if (SERVICES_REQUIRED)
    throw new Error(`${message} — required because BULWARK_REQUIRE_SERVICES=1`);
  t.skip(message);
  return false;
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A command name found on PATH, or an absolute path that is executable. */
function onPath(command: string): boolean {
  if (isAbsolute(command)) return executable(command);
  return (process.env.PATH ?? '').split(delimiter).some((dir) => executable(join(dir, command)));
}

/**
 * True when `command` is installed. Otherwise the test is skipped with how to install it, or fails
 * when BULWARK_REQUIRE_SERVICES=1 (`.ci/run` installs it).
 */
export function needCommand(t: TestContext, command: string, install: string): boolean {
  if (onPath(command)) return true;
  const message = `${command} is not installed; install it with: ${install}`;
  if (SERVICES_REQUIRED)
    throw new Error(`${message} — required because BULWARK_REQUIRE_SERVICES=1`);
  t.skip(message);
  return false;
}

export function uniqueSchema(prefix: string): string {
  return `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
}

/** Drops a test's schema; each test owns its schema and removes it. */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
