import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../helpers/child.js';
import {
  CLI,
  cleanEnv,
  EPHEMERAL_PORTS,
  holdDatabaseWriteLock,
  httpsGet,
  runCli,
  startServer,
  stopServer,
} from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

/** Commands the walk below must find, so that one vanishing from the help is noticed. */
const EXPECTED_COMMANDS = [
  'init',
  'serve',
  ...[
    'create-key',
    'describe-key',
    'list-keys',
    'enable-key',
    'disable-key',
    'rotate-key',
    'schedule-key-deletion',
    'cancel-key-deletion',
    'set-default-key',
    'erase-scope',
    'rewrap',
  ].map((name) => `kms ${name}`),
  ...[
    'create-user',
    'list-users',
    'delete-user',
    'create-group',
    'list-groups',
    'delete-group',
    'add-user-to-group',
    'remove-user-from-group',
    'put-user-policy',
    'put-group-policy',
    'delete-user-policy',
    'delete-group-policy',
    'list-user-policies',
    'create-policy',
    'list-policies',
    'delete-policy',
    'attach-user-policy',
    'detach-user-policy',
    'attach-group-policy',
    'detach-group-policy',
    'list-attached-user-policies',
    'create-access-key',
    'list-access-keys',
    'update-access-key',
    'delete-access-key',
    'recover-administrator',
  ].map((name) => `iam ${name}`),
];

/** The subcommands a `--help` lists (the `help` command aside). */
function subcommandsIn(help: string): string[] {
  const section = help.split('\nCommands:\n')[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][\w-]*)/gm)]
    .map((match) => match[1] as string)
    .filter((name) => name !== 'help');
}

/** `bulwark COMMAND --help` in a process of its own; asynchronous, so that a few run at once. */
function helpOf(command: string[]): Promise<{ status: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...command, '--help'],
      { cwd: ROOT, env: cleanEnv(), encoding: 'utf8', timeout: 60_000 },
      (error, stdout) =>
        resolve({
          status: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          stdout,
        }),
    );
  });
}

/** `run` on every item, at most `limit` at a time; the results in the items' order. */
async function mapLimited<T, R>(items: T[], limit: number, run: (item: T) => Promise<R>) {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < items.length; index = next++)
      results[index] = await run(items[index] as T);
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

test('every command answers --help with its usage and exit 0; an unknown command exits 2', async () => {
  // Walked from `bulwark --help`, level by level, so that a new command is covered the day it
  // is added.
  const seen: string[] = [];
  let level: string[][] = [[]];
  while (level.length > 0) {
    const helps = await mapLimited(level, 4, helpOf);
    level = level.flatMap((command, index) => {
      const { status, stdout } = helps[index] as { status: number | null; stdout: string };
      assert.equal(status, 0, `bulwark ${command.join(' ')} --help`);
      assert.match(stdout, new RegExp(`Usage: bulwark ${command.join(' ')}`.trim()));
      seen.push(command.join(' '));
      return subcommandsIn(stdout).map((name) => [...command, name]);
    });
  }
  for (const expected of EXPECTED_COMMANDS)
    assert.ok(seen.includes(expected), `bulwark ${expected} is not in the help`);
  const unknown = runCli(['frobnicate']);
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command 'frobnicate'/);
});

test('a command finding the data dir database locked by another process says so and exits 1', (t) => {
  const dataDir = tempDir(t);
  assert.equal(runCli(['init', '--data-dir', dataDir]).status, 0);
  // Another process's write that outlasts SQLite's busy wait.
  const release = holdDatabaseWriteLock(dataDir);
  const locked = runCli(['audit', 'lookup', '--data-dir', dataDir]);
  release();
  assert.equal(locked.status, 1, locked.stderr);
  assert.match(locked.stderr, /locked by another process.*Retry once/s);
  assert.doesNotMatch(locked.stderr, /internal error|at .*\.js:\d+/);
  assert.equal(locked.stdout, '');
  // Once the lock is gone the same command works.
  assert.equal(runCli(['audit', 'lookup', '--data-dir', dataDir]).status, 0);
});

test('init is idempotent', (t) => {
  const dataDir = join(tempDir(t), 'data');
  const first = runCli(['init', '--data-dir', dataDir]);
  assert.equal(first.status, 0, first.stderr);
  assert.equal(JSON.parse(first.stdout).created, true);
  const rootKey = readFileSync(join(dataDir, 'keys', 'root.key'));
  const second = runCli(['init', '--data-dir', dataDir]);
  assert.equal(JSON.parse(second.stdout).created, false);
  assert.ok(readFileSync(join(dataDir, 'keys', 'root.key')).equals(rootKey));
});

test('kms commands manage customer keys while serve runs on the same data dir', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
  const kms = (...args: string[]) => {
    const result = runCli(['kms', ...args, '--data-dir', dataDir]);
    return { ...result, json: result.status === 0 ? JSON.parse(result.stdout) : undefined };
  };
  const created = kms('create-key', '--description', 'fleet telemetry');
  assert.equal(created.status, 0, created.stderr);
  const keyId = created.json.KeyMetadata.KeyId as string;
  assert.match(keyId, /^[0-9a-f-]{36}$/);
  assert.equal(created.json.KeyMetadata.KeyManager, 'CUSTOMER');
  assert.equal(kms('rotate-key', '--key-id', keyId).json.KeyMetadata.CurrentVersion, 2);
  assert.equal(kms('disable-key', '--key-id', keyId).json.KeyMetadata.KeyState, 'Disabled');
  const tooShort = kms('schedule-key-deletion', '--key-id', keyId, '--pending-window-in-days', '3');
  assert.equal(tooShort.status, 2);
  assert.match(tooShort.stderr, /PendingWindowInDays must be a whole number from 7 to 30; got 3/);
  const scheduled = kms(
    'schedule-key-deletion',
    '--key-id',
    keyId,
    '--pending-window-in-days',
    '7',
  );
  assert.equal(scheduled.json.KeyMetadata.KeyState, 'PendingDeletion');
  assert.ok(Date.parse(scheduled.json.KeyMetadata.DeletionDate) > Date.now() + 6 * 86_400_000);
  assert.equal(kms('cancel-key-deletion', '--key-id', keyId).json.KeyMetadata.KeyState, 'Disabled');
  const listed = kms('list-keys').json.Keys as { KeyId: string; KeyState: string }[];
  assert.deepEqual(
    listed.map((key) => [key.KeyId, key.KeyState]),
    [
      ['bulwark/service', 'Enabled'],
      // The administrator's AdministratorAccess policy, under a key of its own (init).
      ['scope/iam-principal/admin', 'Enabled'],
      // The audit trail's digest-signing key (serve) and its stream's key (the first event).
      ['scope/audit/digest-signing', 'Enabled'],
      [keyId, 'Disabled'],
      ['scope/audit/main', 'Enabled'],
    ],
  );
  const missing = kms('describe-key', '--key-id', 'no-such-key');
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /key no-such-key does not exist/);
  const noScope = kms('erase-scope', '--scope', 'thing/never-seen');
  assert.equal(noScope.status, 1);
  assert.match(noScope.stderr, /has no key of its own/);
  const ca = readFileSync(join(dataDir, 'pki', 'server-ca.pem'), 'utf8');
  assert.equal((await httpsGet(server.ready.api, '/health', ca)).status, 200);
  assert.equal(await stopServer(server), 0);
});

test('kms rewrap moves stored values to the newest key version, showing progress, and the server still opens them', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  assert.equal(runCli(['init', '--data-dir', dataDir]).status, 0);
  assert.equal(
    runCli(['kms', 'rotate-key', '--key-id', 'bulwark/service', '--data-dir', dataDir]).status,
    0,
  );
  const rewrap = runCli(['kms', 'rewrap', '--data-dir', dataDir]);
  assert.equal(rewrap.status, 0, rewrap.stderr);
  // Init sealed the server CA and certificate (4 values), the administrator's access key, the
  // dev-listener policy and its version, and the device CA (certificate and key); the
  // administrator's IAM policy is under a key of its own, which was not rotated.
  assert.deepEqual(JSON.parse(rewrap.stdout), { rewrapped: 9, replacedMeanwhile: 0, remaining: 0 });
  assert.match(
    rewrap.stderr,
    /rewrap: 4 of 9 values \(pki_server_identity\)\nrewrap: 5 of 9 values \(iam_access_keys\)\nrewrap: 5 of 9 values \(iam_inline_policies\)\nrewrap: 6 of 9 values \(policy_policies\)\nrewrap: 7 of 9 values \(policy_versions\)\nrewrap: 9 of 9 values \(pki_device_ca\)/,
  );
  const again = runCli(['kms', 'rewrap', '--data-dir', dataDir]);
  assert.deepEqual(JSON.parse(again.stdout), { rewrapped: 0, replacedMeanwhile: 0, remaining: 0 });
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
  const ca = readFileSync(join(dataDir, 'pki', 'server-ca.pem'), 'utf8');
  assert.equal((await httpsGet(server.ready.api, '/health', ca)).status, 200);
  await stopServer(server);
});
