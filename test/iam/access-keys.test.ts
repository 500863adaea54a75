// The administrator created at init, access keys from the CLI (the command contract), their
// secrets sealed at rest, and keys that count at once while `serve` runs.
import { DescribeEndpointCommand } from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { adminCredentials, iotClient } from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS, runCli, startServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

const CONTRACT = /^\{"AccessKeyId":"AKIA[A-Z2-7]{16}","SecretAccessKey":"[A-Za-z0-9+/]{40}"\}\n$/;

/** Every byte of the SQLite database, WAL included. */
function databaseBytes(dataDir: string): Buffer {
  const base = join(dataDir, 'db', 'bulwark.db');
  return Buffer.concat(
    [base, `${base}-wal`].filter((path) => existsSync(path)).map((path) => readFileSync(path)),
  );
}

test('iam commands answer --help', () => {
  for (const command of [
    ['iam'],
    ...['create-access-key', 'list-access-keys', 'delete-access-key'].map((name) => ['iam', name]),
  ]) {
    const result = runCli([...command, '--help']);
    assert.equal(result.status, 0, command.join(' '));
    assert.match(result.stdout, new RegExp(`Usage: bulwark ${command.join(' ')}`));
  }
});

test('init creates the administrator once and writes its key to a 0600 file; stdout has only the path', (t) => {
  const dataDir = join(tempDir(t), 'data');
  const first = runCli(['init', '--data-dir', dataDir]);
  assert.equal(first.status, 0, first.stderr);
  const file = join(dataDir, 'admin-credentials.json');
  assert.equal(JSON.parse(first.stdout).adminCredentials, file);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const written = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(written.UserName, 'admin');
  assert.match(written.AccessKeyId, /^AKIA[A-Z2-7]{16}$/);
  assert.match(written.SecretAccessKey, /^[A-Za-z0-9+/]{40}$/);
  assert.ok(
    !first.stdout.includes(written.SecretAccessKey) &&
      !first.stderr.includes(written.SecretAccessKey),
  );

  const second = runCli(['init', '--data-dir', dataDir]);
  assert.equal(second.status, 0, second.stderr);
  assert.equal(
    JSON.parse(second.stdout).adminCredentials,
    undefined,
    'the administrator is made once',
  );
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), written);
  const listed = runCli(['iam', 'list-access-keys', '--user', 'admin', '--data-dir', dataDir]);
  assert.equal(listed.status, 0, listed.stderr);
  assert.deepEqual(
    JSON.parse(listed.stdout).AccessKeyMetadata.map(
      (key: { AccessKeyId: string; Status: string }) => [key.AccessKeyId, key.Status],
    ),
    [[written.AccessKeyId, 'Active']],
  );
});

test('create-access-key --json prints exactly the contract; two keys at most; an unknown user exits 1', (t) => {
  const dataDir = join(tempDir(t), 'data');
  assert.equal(runCli(['init', '--data-dir', dataDir]).status, 0);
  const created = runCli([
    'iam',
    'create-access-key',
    '--data-dir',
    dataDir,
    '--user',
    'admin',
    '--json',
  ]);
  assert.equal(created.status, 0, created.stderr);
  assert.match(created.stdout, CONTRACT);
  assert.equal(created.stderr, '');

  const third = runCli([
    'iam',
    'create-access-key',
    '--data-dir',
    dataDir,
    '--user',
    'admin',
    '--json',
  ]);
  assert.equal(third.status, 1);
  assert.equal(third.stdout, '');
  assert.match(third.stderr, /^bulwark: Cannot exceed quota for AccessKeysPerUser: 2\n$/);

  const unknown = runCli([
    'iam',
    'create-access-key',
    '--data-dir',
    dataDir,
    '--user',
    'nobody',
    '--json',
  ]);
  assert.equal(unknown.status, 1);
  assert.equal(unknown.stdout, '');
  assert.match(unknown.stderr, /^bulwark: The user with name nobody cannot be found\.\n$/);
  const missingFlag = runCli(['iam', 'create-access-key', '--data-dir', dataDir]);
  assert.equal(missingFlag.status, 2);
  assert.match(missingFlag.stderr, /--user/);
});

test('access key secrets are sealed at rest: the raw database bytes hold the key ids, never the secrets', (t) => {
  const dataDir = join(tempDir(t), 'data');
  assert.equal(runCli(['init', '--data-dir', dataDir]).status, 0);
  const created = runCli([
    'iam',
    'create-access-key',
    '--data-dir',
    dataDir,
    '--user',
    'admin',
    '--json',
  ]);
  const key = JSON.parse(created.stdout) as { AccessKeyId: string; SecretAccessKey: string };
  const bytes = databaseBytes(dataDir);
  for (const { accessKeyId, secretAccessKey } of [
    { accessKeyId: key.AccessKeyId, secretAccessKey: key.SecretAccessKey },
    adminCredentials(dataDir),
  ]) {
    assert.ok(
      bytes.includes(Buffer.from(accessKeyId)),
      'the plaintext key id is there: the read is real',
    );
    assert.equal(
      bytes.indexOf(Buffer.from(secretAccessKey)),
      -1,
      'a secret found in the raw database',
    );
  }
});

test('serve on a new data dir creates the administrator and logs where its key is, never the key', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
  const file = join(dataDir, 'admin-credentials.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const { secretAccessKey } = adminCredentials(dataDir);
  await eventually(
    () => server.stderr().includes(`"adminCredentials":${JSON.stringify(file)}`),
    'the log names the credentials file',
  );
  assert.ok(!server.stderr().includes(secretAccessKey), 'the secret is in the logs');
  const client = iotClient({ port: server.ready.api, dataDir });
  assert.equal((await client.send(new DescribeEndpointCommand({}))).endpointAddress, 'localhost');
});

test('a key created or deleted by the CLI counts from the next request while serve runs', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
  const target = { port: server.ready.api, dataDir };
  const created = runCli([
    'iam',
    'create-access-key',
    '--data-dir',
    dataDir,
    '--user',
    'admin',
    '--json',
  ]);
  assert.equal(created.status, 0, created.stderr);
  const key = JSON.parse(created.stdout) as { AccessKeyId: string; SecretAccessKey: string };
  const client = iotClient(target, {
    accessKeyId: key.AccessKeyId,
    secretAccessKey: key.SecretAccessKey,
  });
  assert.equal((await client.send(new DescribeEndpointCommand({}))).endpointAddress, 'localhost');

  const deleted = runCli([
    'iam',
    'delete-access-key',
    '--data-dir',
    dataDir,
    '--user',
    'admin',
    '--access-key-id',
    key.AccessKeyId,
  ]);
  assert.equal(deleted.status, 0, deleted.stderr);
  await assert.rejects(client.send(new DescribeEndpointCommand({})), (error: Error) => {
    assert.equal(error.name, 'UnrecognizedClientException');
    return true;
  });
  const again = runCli([
    'iam',
    'delete-access-key',
    '--data-dir',
    dataDir,
    '--user',
    'admin',
    '--access-key-id',
    key.AccessKeyId,
  ]);
  assert.equal(again.status, 1);
  assert.match(again.stderr, /The Access Key with id AKIA[A-Z2-7]{16} cannot be found\./);
});
