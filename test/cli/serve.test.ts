import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  EPHEMERAL_PORTS,
  httpsGet,
  runCli,
  snapshot,
  startServer,
  stopServer,
} from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

test('serve prints the ready line, answers /health over TLS 1.2+ with the server CA, and stops cleanly on SIGTERM', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
  assert.ok(server.ready.api > 0);
  const ca = readFileSync(join(dataDir, 'pki', 'server-ca.pem'), 'utf8');
  assert.match(ca, /^-----BEGIN CERTIFICATE-----/);
  const health = await httpsGet(server.ready.api, '/health', ca);
  assert.equal(health.status, 200);
  assert.deepEqual(JSON.parse(health.body), { status: 'ok', store: 'sqlite' });
  assert.match(health.protocol, /^TLSv1\.[23]$/);
  await assert.rejects(
    httpsGet(server.ready.api, '/health', ca, { maxVersion: 'TLSv1.1' }),
    'TLS 1.1 is refused',
  );
  await assert.rejects(
    httpsGet(server.ready.api, '/health', undefined),
    /unable to verify the first certificate/,
    'a client that trusts only public CAs refuses the server',
  );
  assert.equal(await stopServer(server), 0);
  assert.match(server.stderr(), /"msg":"stopped"/);
  assert.doesNotMatch(server.stderr(), /PRIVATE KEY/);
});

test('a second start reuses the data dir: same root key, same server CA, data still readable', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const first = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
  await stopServer(first);
  const rootKey = readFileSync(join(dataDir, 'keys', 'root.key'));
  const ca = readFileSync(join(dataDir, 'pki', 'server-ca.pem'), 'utf8');
  const second = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS]);
  assert.ok(readFileSync(join(dataDir, 'keys', 'root.key')).equals(rootKey));
  assert.equal(readFileSync(join(dataDir, 'pki', 'server-ca.pem'), 'utf8'), ca);
  assert.equal(
    (await httpsGet(second.ready.api, '/health', ca)).status,
    200,
    'the server key sealed at first start opens again',
  );
  assert.equal(await stopServer(second), 0);
});

test('npm start brings Bulwark up on a new data dir, and a second npm start reuses it', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const npmStart = ['npm', 'start', '--silent', '--'];
  const first = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
    command: npmStart,
  });
  const ca = readFileSync(join(dataDir, 'pki', 'server-ca.pem'), 'utf8');
  assert.equal((await httpsGet(first.ready.api, '/health', ca)).status, 200);
  await stopServer(first);
  const rootKey = readFileSync(join(dataDir, 'keys', 'root.key'));
  const second = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
    command: npmStart,
  });
  assert.equal((await httpsGet(second.ready.api, '/health', ca)).status, 200);
  assert.ok(readFileSync(join(dataDir, 'keys', 'root.key')).equals(rootKey));
  await stopServer(second);
});

test('without --data-dir, serve keeps its data in ./data of the working directory', async (t) => {
  const cwd = tempDir(t);
  const server = await startServer(t, [...EPHEMERAL_PORTS], { cwd });
  assert.ok(existsSync(join(cwd, 'data', 'keys', 'root.key')));
  assert.ok(existsSync(join(cwd, 'data', 'db', 'bulwark.db')));
  await stopServer(server);
});

test('a wrong root key stops start-up with exit 2 and a clear error, and nothing is written', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  assert.equal(runCli(['init', '--data-dir', dataDir]).status, 0);
  writeFileSync(join(dataDir, 'keys', 'root.key'), Buffer.alloc(32, 1), { mode: 0o600 });
  const before = snapshot(dataDir);
  const result = runCli(['serve', '--data-dir', dataDir, '--api-port', '0']);
  assert.equal(result.status, 2);
  assert.match(result.stderr, /wrong root key file or passphrase/);
  assert.equal(result.stdout, '');
  assert.deepEqual(snapshot(dataDir), before);
});

test('a passphrase-derived root key: the right passphrase starts, a wrong or missing one exits 2 and writes nothing', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const env = { BULWARK_ROOT_PASSPHRASE: 'a long operator passphrase' };
  const init = runCli(['init', '--data-dir', dataDir], { env });
  assert.equal(init.status, 0, init.stderr);
  assert.equal(existsSync(join(dataDir, 'keys', 'root.key')), false);
  const before = snapshot(dataDir);
  const wrong = runCli(['serve', '--data-dir', dataDir, '--api-port', '0'], {
    env: { BULWARK_ROOT_PASSPHRASE: 'not the passphrase at all' },
  });
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /wrong root key file or passphrase/);
  const missing = runCli(['serve', '--data-dir', dataDir, '--api-port', '0']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /set BULWARK_ROOT_PASSPHRASE/);
  assert.deepEqual(snapshot(dataDir), before);
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], { env });
  assert.equal(await stopServer(server), 0, server.stderr());
});

test('an invalid setting stops start-up with exit 2 and one message naming key, value and what is allowed', (t) => {
  const dataDir = join(tempDir(t), 'data');
  const result = runCli(['serve', '--data-dir', dataDir], { env: { BULWARK_API_PORT: 'eighty' } });
  assert.equal(result.status, 2);
  assert.equal(
    result.stderr.trim(),
    'bulwark: invalid configuration: apiPort = "eighty" (from BULWARK_API_PORT): expected number',
  );
  assert.equal(existsSync(dataDir), false, 'nothing was created');
  const flag = runCli(['serve', '--data-dir', dataDir, '--mqtt-port', '-1']);
  assert.equal(flag.status, 2);
  assert.match(flag.stderr, /mqttPort = -1 \(from a command-line flag\): expected at least 0/);
});
