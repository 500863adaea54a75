import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import {
  digestHashOf,
  publicKeyFingerprint,
  signDigest,
  type Digest,
} from '../../src/audit/chain.js';
import { DIGESTS_TABLE } from '../../src/audit/migrations.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { sqlitePath } from '../../src/store/index.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { openDir, rewriteEvents, verify, writeTrail } from './helpers.js';

/**
 * Tamper evidence, end to end: a trail of 60 events under 4 digests is altered in each way an
 * attacker might, in the raw database and in an export, and `bulwark audit verify` must exit 1
 * naming the altered event or digest.
 */

const EVENTS = 60;
const PER_DIGEST = 20;

async function trail(t: Parameters<typeof tempDir>[0]) {
  const dir = tempDir(t, 'bulwark-audit-');
  const dataDir = join(dir, 'data');
  await writeTrail(dataDir, EVENTS, PER_DIGEST);
  const publicKey = join(dir, 'audit-public.pem');
  const printed = runCli(['audit', 'public-key', '--data-dir', dataDir]);
  assert.equal(printed.status, 0, printed.stderr);
  writeFileSync(publicKey, printed.stdout);
  return { dir, dataDir, publicKey };
}

function sqlite(dataDir: string): Database.Database {
  return new Database(sqlitePath(dataDir));
}

function brokenAt(result: ReturnType<typeof verify>, text: string): void {
  assert.equal(result.status, 1, `verify should fail:\n${result.stdout}\n${result.stderr}`);
  assert.ok(
    result.invalid.some((line) => line.includes(text)),
    `expected a line with ${JSON.stringify(text)} in:\n${result.stdout}`,
  );
}

test('an untouched trail verifies, from the store and from its export, with the public key', async (t) => {
  const { dir, dataDir, publicKey } = await trail(t);
  const stored = verify(['--data-dir', dataDir, '--public-key', publicKey]);
  assert.equal(stored.status, 0, stored.stdout + stored.stderr);
  assert.match(stored.stdout, /Stream main: 5\/5 digests valid; 60\/60 events valid/);
  assert.match(stored.stdout, /Audit trail intact\./);
  const file = join(dir, 'trail.jsonl');
  const exported = runCli([
    'audit',
    'export',
    '--data-dir',
    dataDir,
    '--format',
    'jsonl',
    '--output',
    file,
  ]);
  assert.equal(exported.status, 0, exported.stderr);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  assert.equal(
    lines.length,
    1 + 61 + 5,
    'a header, 60 events, 5 digests (startup, 3 interval, shutdown) and the export itself',
  );
  const first = lines
    .map((line) => JSON.parse(line) as AuditRecord & { chainHash: string; digest?: unknown })
    .find((value) => !value.digest && value.seq === 1) as AuditRecord & { chainHash: string };
  assert.equal(first.eventVersion, '1.11');
  assert.equal(first.seq, 1);
  assert.match(first.chainHash, /^[0-9a-f]{64}$/);
  const fromExport = verify(['--export', file, '--public-key', publicKey]);
  assert.equal(fromExport.status, 0, fromExport.stdout + fromExport.stderr);
  assert.match(fromExport.stdout, /61\/61 events valid \(1 not yet signed\)/);
});

test('raw store: modifying an event and re-chaining everything after it is named', async (t) => {
  const { dataDir, publicKey } = await trail(t);
  await rewriteEvents(dataDir, (records) =>
    records.map((record) =>
      record.seq === 30 ? { ...record, sourceIPAddress: '10.9.9.9' } : record,
    ),
  );
  const result = verify(['--data-dir', dataDir, '--public-key', publicKey]);
  brokenAt(result, 'Event main/30 INVALID: modified');
  assert.equal(result.invalid.length, 1, result.stdout);
});

test('raw store: an altered lookup column and a flipped sealed byte are named', async (t) => {
  const { dataDir, publicKey } = await trail(t);
  const db = sqlite(dataDir);
  db.prepare(`UPDATE audit_events SET event_name = 'DeleteThing' WHERE seq = 12`).run();
  const row = db.prepare('SELECT record FROM audit_events WHERE seq = 7').get() as {
    record: Buffer;
  };
  const flipped = Buffer.from(row.record);
  const at = flipped.length - 5;
  flipped[at] = (flipped[at] as number) ^ 0x01;
  db.prepare('UPDATE audit_events SET record = ? WHERE seq = 7').run(flipped);
  db.close();
  const result = verify(['--data-dir', dataDir, '--public-key', publicKey]);
  brokenAt(result, 'Event main/12 INVALID: its lookup columns were altered: event_name');
  brokenAt(result, 'Event main/7 INVALID: its sealed record cannot be opened');
});

test('raw store: a deleted event is named, with or without renumbering the rest', async (t) => {
  const { dataDir, publicKey } = await trail(t);
  const db = sqlite(dataDir);
  db.prepare('DELETE FROM audit_events WHERE seq = 20').run();
  db.close();
  brokenAt(
    verify(['--data-dir', dataDir, '--public-key', publicKey]),
    'Event main/20 INVALID: missing (deleted)',
  );

  const second = await trail(t);
  await rewriteEvents(second.dataDir, (records) =>
    records
      .filter((record) => record.seq !== 25)
      .map((record) => (record.seq > 25 ? { ...record, seq: record.seq - 1 } : record)),
  );
  const result = verify(['--data-dir', second.dataDir, '--public-key', second.publicKey]);
  brokenAt(result, 'Event main/25 INVALID: deleted');
  brokenAt(result, 'INVALID: renumbered');
});

test('raw store: an inserted event is named', async (t) => {
  const { dataDir, publicKey } = await trail(t);
  await rewriteEvents(dataDir, (records) => {
    const forged = {
      ...(records[39] as AuditRecord),
      eventName: 'DeleteCertificate',
      eventID: 'forged',
    };
    return [
      ...records.slice(0, 39),
      forged,
      ...records.slice(39).map((record) => ({ ...record, seq: record.seq + 1 })),
    ];
  });
  const result = verify(['--data-dir', dataDir, '--public-key', publicKey]);
  brokenAt(result, 'Event main/40 INVALID: inserted');
});

test('raw store: two events swapped are named', async (t) => {
  const { dataDir, publicKey } = await trail(t);
  await rewriteEvents(dataDir, (records) => {
    const swapped = [...records];
    swapped[14] = { ...(records[15] as AuditRecord) };
    swapped[15] = { ...(records[14] as AuditRecord) };
    // Each keeps its own seq in its record; the rows take each other's place.
    return swapped.map((record, index) => ({ ...record, seq: index + 1, eventID: record.eventID }));
  });
  const result = verify(['--data-dir', dataDir, '--public-key', publicKey]);
  brokenAt(result, 'Event main/15 INVALID');
  brokenAt(result, 'Event main/16 INVALID');
});

test('raw store: a truncated tail is caught by the digest hash kept elsewhere, and by the overdue head', async (t) => {
  const { dataDir, publicKey } = await trail(t);
  const before = verify(['--data-dir', dataDir, '--public-key', publicKey]);
  const kept = /hash ([0-9a-f]{64})/.exec(before.stdout)?.[1];
  assert.ok(kept, before.stdout);
  const db = sqlite(dataDir);
  db.prepare('DELETE FROM audit_digests WHERE digest_seq >= 4').run();
  db.prepare('DELETE FROM audit_events WHERE seq > 40').run();
  db.prepare(
    "UPDATE audit_heads SET seq = 40, chain_hash = (SELECT chain_hash FROM audit_events WHERE seq = 40) WHERE stream = 'main'",
  ).run();
  db.close();
  const result = verify([
    '--data-dir',
    dataDir,
    '--public-key',
    publicKey,
    '--expect-digest',
    kept,
  ]);
  brokenAt(result, `Expected digest ${kept} INVALID: not found`);

  // A server with a 1 s interval that stopped: its newest digests removed, the rest is overdue.
  const dir = tempDir(t, 'bulwark-audit-');
  const quick = join(dir, 'data');
  await writeTrail(quick, 10, 5, 1000);
  const quickDb = sqlite(quick);
  const newest = quickDb.prepare('SELECT MAX(digest_seq) AS n FROM audit_digests').get() as {
    n: number;
  };
  quickDb.prepare('DELETE FROM audit_digests WHERE digest_seq = ?').run(newest.n);
  quickDb.close();
  await new Promise((resolve) => setTimeout(resolve, 3500));
  brokenAt(verify(['--data-dir', quick]), 'INVALID: chain head missing');
});

test('raw store: a digest replaced and re-signed with another key is named', async (t) => {
  const { dataDir, publicKey } = await trail(t);
  const dir = await openDir(dataDir);
  try {
    const [row] = await dir.store.list(DIGESTS_TABLE, { where: { stream: 'main', digest_seq: 3 } });
    const original = JSON.parse(row?.digest as string) as Digest;
    const { privateKey, publicKey: attackerKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
    });
    const forged: Digest = {
      ...original,
      newestEventTime: original.oldestEventTime,
      digestPublicKeyFingerprint: publicKeyFingerprint(
        attackerKey.export({ type: 'spki', format: 'pem' }) as string,
      ),
    };
    await dir.store.put(DIGESTS_TABLE, {
      ...row,
      digest: JSON.stringify(forged),
      digest_hash: digestHashOf(forged),
      signature: signDigest(forged, privateKey),
    });
  } finally {
    await dir.close();
  }
  const result = verify(['--data-dir', dataDir, '--public-key', publicKey]);
  brokenAt(result, 'Digest bulwark-audit/main/digest/3 INVALID: signed by key');
  brokenAt(result, 'Digest bulwark-audit/main/digest/4 INVALID: does not follow digest 3');
  // Even trusting whatever keys the trail holds, the next digest's link gives it away.
  brokenAt(
    verify(['--data-dir', dataDir]),
    'Digest bulwark-audit/main/digest/4 INVALID: does not follow digest 3',
  );
});

/** An export of an untouched trail, as lines, and a way to verify an edited copy. */
async function exported(t: Parameters<typeof tempDir>[0]) {
  const { dir, dataDir, publicKey } = await trail(t);
  const file = join(dir, 'trail.jsonl');
  const result = runCli(['audit', 'export', '--data-dir', dataDir, '--output', file]);
  assert.equal(result.status, 0, result.stderr);
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  const indexOf = (seq: number) =>
    lines.findIndex((line) => {
      const value = JSON.parse(line) as { seq?: number; digest?: unknown };
      return !value.digest && value.seq === seq;
    });
  const verifyEdited = (edited: string[], extra: string[] = []) => {
    const copy = join(dir, `edited-${Math.random().toString(16).slice(2)}.jsonl`);
    writeFileSync(copy, edited.join('\n') + '\n');
    return verify(['--export', copy, '--public-key', publicKey, ...extra]);
  };
  return { lines, indexOf, verifyEdited };
}

test('export: modify, insert, delete and reorder are each named', async (t) => {
  const { lines, indexOf, verifyEdited } = await exported(t);
  const edit = (
    seq: number,
    change: (record: Record<string, unknown>) => Record<string, unknown>,
  ) => {
    const copy = [...lines];
    const index = indexOf(seq);
    copy[index] = JSON.stringify(change(JSON.parse(copy[index] as string)));
    return copy;
  };
  brokenAt(
    verifyEdited(edit(30, (record) => ({ ...record, errorCode: 'AccessDenied' }))),
    'Event main/30 INVALID: modified',
  );

  const deleted = [...lines];
  deleted.splice(indexOf(20), 1);
  brokenAt(verifyEdited(deleted), 'Event main/20 INVALID: missing (deleted)');

  const inserted = lines.map((line) => {
    const value = JSON.parse(line) as Record<string, unknown>;
    return !value.digest && typeof value.seq === 'number' && value.seq >= 40
      ? JSON.stringify({ ...value, seq: value.seq + 1 })
      : line;
  });
  inserted.splice(
    indexOf(40),
    0,
    JSON.stringify({
      ...JSON.parse(lines[indexOf(39)] as string),
      seq: 40,
      eventName: 'DeleteThing',
    }),
  );
  brokenAt(verifyEdited(inserted), 'Event main/40 INVALID: inserted');

  const reordered = [...lines];
  const at = indexOf(15);
  [reordered[at], reordered[at + 1]] = [reordered[at + 1] as string, reordered[at] as string];
  const result = verifyEdited(reordered);
  brokenAt(result, 'Event main/15 INVALID');
});

test('export: a truncated tail and a replaced digest are named', async (t) => {
  const { lines, verifyEdited } = await exported(t);
  const digestLines = lines
    .map((line, index) => ({
      index,
      value: JSON.parse(line) as { digest?: Digest; digestHashValue?: string },
    }))
    .filter(({ value }) => value.digest);
  const newest = digestLines[digestLines.length - 1];
  const truncated = lines.slice(0, digestLines[digestLines.length - 2]?.index);
  brokenAt(
    verifyEdited(truncated, ['--expect-digest', newest?.value.digestHashValue as string]),
    'INVALID: not found',
  );

  const replaced = [...lines];
  const target = digestLines[2] as (typeof digestLines)[number];
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const forged: Digest = {
    ...(target.value.digest as Digest),
    digestPublicKeyFingerprint: publicKeyFingerprint(
      publicKey.export({ type: 'spki', format: 'pem' }) as string,
    ),
  };
  replaced[target.index] = JSON.stringify({
    digest: forged,
    digestHashValue: digestHashOf(forged),
    signature: signDigest(forged, privateKey),
  });
  const result = verifyEdited(replaced);
  brokenAt(result, `Digest bulwark-audit/main/digest/${forged.digestSeq} INVALID: signed by key`);
});
