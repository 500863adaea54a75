import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDataDir } from '../../src/app/data-dir.js';
import { AuditTrail, lookupEvents } from '../../src/audit/index.js';
import type { Digest } from '../../src/audit/chain.js';
import { loadConfig } from '../../src/config/index.js';
import { EPHEMERAL_PORTS, runCli, startServer, stopServer } from '../helpers/cli.js';
import { dropSchema, needPostgres, POSTGRES_URL, uniqueSchema } from '../helpers/services.js';
import { tempDir } from '../helpers/temp.js';
import { ACCOUNT, apiEvent, openDir, silent, verify, writeTrail } from './helpers.js';

const DAY_MS = 86_400_000;

test('an untouched trail of 100,000 events verifies offline, from the store and from its export', async (t) => {
  const dir = tempDir(t, 'bulwark-audit-');
  const dataDir = join(dir, 'data');
  await writeTrail(dataDir, 100_000, 10_000);
  const stored = verify(['--data-dir', dataDir]);
  assert.equal(stored.status, 0, stored.stdout + stored.stderr);
  assert.match(stored.stdout, /12\/12 digests valid; 100000\/100000 events valid/);
  const file = join(dir, 'trail.jsonl');
  const exported = runCli(['audit', 'export', '--data-dir', dataDir, '--output', file]);
  assert.equal(exported.status, 0, exported.stderr);
  assert.match(exported.stderr, /exported 100001 events/);
  const fromExport = verify(['--export', file]);
  assert.equal(fromExport.status, 0, fromExport.stdout + fromExport.stderr);
  // The export records itself, before it starts: one event newer than the newest digest.
  assert.match(fromExport.stdout, /100001\/100001 events valid \(1 not yet signed\)/);
});

test('a server signs a startup digest, audits, and signs a shutdown digest when it stops', async (t) => {
  const dir = tempDir(t, 'bulwark-audit-');
  const dataDir = join(dir, 'data');
  const witness = join(dir, 'witness.jsonl');
  const server = await startServer(
    t,
    ['--data-dir', dataDir, '--host', '127.0.0.1', ...EPHEMERAL_PORTS],
    {
      env: { BULWARK_AUDIT_WITNESS_FILE: witness },
    },
  );
  assert.equal(await stopServer(server), 0, server.stderr());
  const witnessed = readFileSync(witness, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { digestSeq: number; digestHashValue: string });
  assert.deepEqual(
    witnessed.map((line) => line.digestSeq),
    [1, 2],
    'the startup and the shutdown digests',
  );
  const newest = witnessed[witnessed.length - 1]?.digestHashValue as string;
  const result = verify(['--data-dir', dataDir, '--expect-digest', newest]);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  const file = join(dir, 'trail.jsonl');
  assert.equal(runCli(['audit', 'export', '--data-dir', dataDir, '--output', file]).status, 0);
  const digests = readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { digest?: Digest })
    .flatMap((line) => (line.digest ? [line.digest] : []));
  assert.deepEqual(
    digests.map((digest) => digest.reason),
    ['startup', 'shutdown'],
  );
  assert.equal(digests[0]?.digestIntervalSeconds, 300);
});

test('retention prunes whole digests, records that it did, and the rest still verifies', async (t) => {
  const dir = tempDir(t, 'bulwark-audit-');
  const dataDir = join(dir, 'data');
  const open = await openDir(dataDir, true);
  let now = Date.now() - 400 * DAY_MS;
  try {
    const trail = await AuditTrail.open({
      store: open.store,
      stream: 'main',
      account: ACCOUNT,
      logger: silent,
      digestIntervalMs: 3_600_000,
      now: () => now,
    });
    await Promise.all(Array.from({ length: 10 }, (_, n) => trail.record(apiEvent(n + 1))));
    await trail.writeDigest('interval');
    now = Date.now();
    await Promise.all(Array.from({ length: 10 }, (_, n) => trail.record(apiEvent(n + 11))));
    await trail.writeDigest('interval');
    assert.deepEqual(await trail.prune(365 * DAY_MS), { events: 10, digests: 2 });
    await trail.close();
    const [pruned] = (
      await lookupEvents(open.store, {
        attributes: [{ key: 'EventName', value: 'PruneAuditTrail' }],
        maxResults: 5,
      })
    ).records;
    assert.equal(pruned?.additionalEventData?.eventsDeleted, 10);
    assert.equal(pruned?.additionalEventData?.throughDigestSeq, 2);
  } finally {
    await open.close();
  }
  const result = verify(['--data-dir', dataDir, '--verbose']);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(
    result.stdout,
    /starts at digest 3, event 11: earlier digests and events were pruned/,
  );
  assert.match(result.stdout, /11\/11 events valid/, 'ten events and the pruning itself');
});

test('a rotated signing key: both keys verify the chain; the new one alone does not', async (t) => {
  const dir = tempDir(t, 'bulwark-audit-');
  const dataDir = join(dir, 'data');
  await writeTrail(dataDir, 10, 5);
  const oldKey = join(dir, 'old.pem');
  writeFileSync(oldKey, runCli(['audit', 'public-key', '--data-dir', dataDir]).stdout);
  const rotated = runCli(['audit', 'rotate-signing-key', '--data-dir', dataDir]);
  assert.equal(rotated.status, 0, rotated.stderr);
  const { fingerprint, publicKeyPem } = JSON.parse(rotated.stdout) as {
    fingerprint: string;
    publicKeyPem: string;
  };
  await writeTrail(dataDir, 10, 5);
  const newKey = join(dir, 'new.pem');
  writeFileSync(newKey, publicKeyPem);
  const both = verify(['--data-dir', dataDir, '--public-key', oldKey, '--public-key', newKey]);
  assert.equal(both.status, 0, both.stdout + both.stderr);
  assert.match(both.stdout, /21\/21 events valid/, 'twenty events and the rotation');
  const listed = JSON.parse(
    runCli(['audit', 'public-key', '--data-dir', dataDir, '--json']).stdout,
  ) as {
    PublicKeyList: { fingerprint: string; retiredAt: number | null }[];
  };
  assert.deepEqual(
    listed.PublicKeyList.map((key) => key.retiredAt === null),
    [false, true],
  );
  assert.equal(listed.PublicKeyList[1]?.fingerprint, fingerprint);
  const newOnly = verify(['--data-dir', dataDir, '--public-key', newKey]);
  assert.equal(newOnly.status, 1);
  assert.match(newOnly.stdout, /Digest bulwark-audit\/main\/digest\/1 INVALID: signed by key/);
});

test('PostgreSQL: two writers on one stream keep it gapless and chained', async (t) => {
  if (!(await needPostgres(t))) return;
  const dir = tempDir(t, 'bulwark-audit-');
  const schema = uniqueSchema('audit');
  t.after(() => dropSchema(schema));
  const configFile = join(dir, 'bulwark.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      dataDir: join(dir, 'data'),
      store: { engine: 'postgres', postgres: { url: POSTGRES_URL, schema } },
    }),
  );
  const config = loadConfig({ file: configFile, env: {} });
  const first = await openDataDir(config, {}, { create: true });
  const second = await openDataDir(config, {}, { create: false });
  try {
    const writers = await Promise.all(
      [first, second].map((open) =>
        AuditTrail.open({
          store: open.store,
          stream: 'main',
          account: ACCOUNT,
          logger: silent,
          digestIntervalMs: 3_600_000,
        }),
      ),
    );
    await Promise.all(
      Array.from({ length: 400 }, (_, n) => (writers[n % 2] as AuditTrail).record(apiEvent(n + 1))),
    );
    for (const writer of writers) await writer.close();
  } finally {
    await second.close();
    await first.close();
  }
  const result = verify(['--config', configFile]);
  assert.equal(result.status, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /400\/400 events valid/);
});
