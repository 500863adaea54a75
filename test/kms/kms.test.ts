import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { isBulwarkError, type ErrorCode } from '../../src/errors.js';
import { Kms, rootKdfPath, rootKeyPath, SEALED_OVERHEAD } from '../../src/kms/index.js';
import { tempDir } from '../helpers/temp.js';

const OPTIONS = { dataKeyMaxUses: 2 ** 24 };
const CONTEXT = { table: 'things', primaryKey: '["t1"]', column: 'attributes' };

function throwsCode(work: () => unknown, code: ErrorCode, messagePart?: RegExp): void {
  assert.throws(work, (error: unknown) => {
    assert.ok(isBulwarkError(error), String(error));
    assert.equal(error.code, code, error.message);
    if (messagePart) assert.match(error.message, messagePart);
    return true;
  });
}

async function rejectsCode(work: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(
    work,
    (error: unknown) =>
      isBulwarkError(error, code) || assert.fail(`expected ${code}, got ${String(error)}`),
  );
}

test('the root key file is 32 random bytes, owner-only, and created once', (t) => {
  const dir = tempDir(t);
  const { kms, created } = Kms.openOrCreate(dir, {}, OPTIONS);
  kms.close();
  assert.equal(created, true);
  const key = readFileSync(rootKeyPath(dir));
  assert.equal(key.length, 32);
  assert.equal(readFileSync(rootKeyPath(dir)).equals(key), true);
  const again = Kms.openOrCreate(dir, {}, OPTIONS);
  again.kms.close();
  assert.equal(again.created, false);
  assert.ok(readFileSync(rootKeyPath(dir)).equals(key), 'a second open keeps the root key');
});

test('a root key file readable by group or others is refused with the chmod to run', (t) => {
  const dir = tempDir(t);
  Kms.openOrCreate(dir, {}, OPTIONS).kms.close();
  chmodSync(rootKeyPath(dir), 0o644);
  throwsCode(() => Kms.open(dir, {}, OPTIONS), 'RootKeyFileInsecure', /chmod 600/);
});

test('a wrong root key, a missing one, or a wrong passphrase is refused, never replaced', (t) => {
  const dir = tempDir(t);
  Kms.openOrCreate(dir, {}, OPTIONS).kms.close();
  const original = readFileSync(rootKeyPath(dir));
  writeFileSync(rootKeyPath(dir), Buffer.alloc(32, 7), { mode: 0o600 });
  throwsCode(() => Kms.open(dir, {}, OPTIONS), 'RootKeyInvalid', /wrong root key/);
  writeFileSync(rootKeyPath(dir), original.subarray(0, 16), { mode: 0o600 });
  throwsCode(() => Kms.open(dir, {}, OPTIONS), 'RootKeyInvalid', /exactly 32 bytes/);

  const passphraseDir = tempDir(t);
  const env = { BULWARK_ROOT_PASSPHRASE: 'correct horse battery staple' };
  Kms.openOrCreate(passphraseDir, env, OPTIONS).kms.close();
  assert.equal(existsSync(rootKeyPath(passphraseDir)), false, 'no key file in passphrase mode');
  assert.match(readFileSync(rootKdfPath(passphraseDir), 'utf8'), /"kdf": "scrypt"/);
  Kms.open(passphraseDir, env, OPTIONS).close();
  throwsCode(
    () => Kms.open(passphraseDir, { BULWARK_ROOT_PASSPHRASE: 'incorrect horse battery' }, OPTIONS),
    'RootKeyInvalid',
    /passphrase/,
  );
  throwsCode(
    () => Kms.open(passphraseDir, {}, OPTIONS),
    'RootKeyMissing',
    /BULWARK_ROOT_PASSPHRASE/,
  );
  throwsCode(
    () => Kms.openOrCreate(tempDir(t), { BULWARK_ROOT_PASSPHRASE: 'short' }, OPTIONS),
    'RootKeyInvalid',
    /at least 12/,
  );
});

test('sealed values carry 43 bytes of overhead, fresh nonces, and open only in their own context', async (t) => {
  const { kms } = Kms.openOrCreate(tempDir(t), {}, OPTIONS);
  t.after(() => kms.close());
  const plaintext = Buffer.from('{"serial":"A-1"}');
  const first = await kms.seal(plaintext, CONTEXT);
  const second = await kms.seal(plaintext, CONTEXT);
  assert.equal(first.length, plaintext.length + SEALED_OVERHEAD);
  assert.equal(SEALED_OVERHEAD, 43);
  assert.notDeepEqual(first, second, 'same plaintext seals differently (random nonce)');
  assert.deepEqual(await kms.open(first, CONTEXT), plaintext);
  await rejectsCode(kms.open(first, { ...CONTEXT, primaryKey: '["t2"]' }), 'SealedContextMismatch');
  await rejectsCode(kms.open(first, { ...CONTEXT, column: 'other' }), 'SealedContextMismatch');
  const swappedVersion = Buffer.from(first);
  swappedVersion.writeUInt16BE(2, 5);
  await rejectsCode(kms.open(swappedVersion, CONTEXT), 'SealedValueTampered');
  await rejectsCode(
    kms.open(Buffer.from('plain text, never sealed, long enough to parse'), CONTEXT),
    'SealedFormatUnsupported',
  );
});

test('a process retires its data key after the configured number of seals', async (t) => {
  const { kms } = Kms.openOrCreate(tempDir(t), {}, { dataKeyMaxUses: 3 });
  t.after(() => kms.close());
  const dataKeyOf = (sealed: Buffer) => sealed.readUInt32BE(7);
  const sealed: Buffer[] = [];
  for (let i = 0; i < 7; i++) sealed.push(await kms.seal(Buffer.from(`v${i}`), CONTEXT));
  assert.deepEqual(
    sealed.map(dataKeyOf).map((n) => n - dataKeyOf(sealed[0] as Buffer)),
    [0, 0, 0, 1, 1, 1, 2],
  );
  for (let i = 0; i < 7; i++)
    assert.equal((await kms.open(sealed[i] as Buffer, CONTEXT)).toString(), `v${i}`);
});

test('customer-managed key lifecycle follows AWS KMS: waiting period 7–30 days, cancel leaves it disabled', async (t) => {
  const dir = tempDir(t);
  let now = Date.parse('2026-01-01T00:00:00Z');
  const { kms } = Kms.openOrCreate(dir, {}, { ...OPTIONS, now: () => now });
  t.after(() => kms.close());
  const key = await kms.createKey('billing data');
  assert.equal(key.keyState, 'Enabled');
  assert.equal(key.kind, 'customer');
  await rejectsCode(kms.scheduleKeyDeletion(key.keyId, 6), 'KeyInvalidArgument');
  await rejectsCode(kms.scheduleKeyDeletion(key.keyId, 31), 'KeyInvalidArgument');
  const scheduled = await kms.scheduleKeyDeletion(key.keyId, 7);
  assert.equal(scheduled.deletionDate?.toISOString(), '2026-01-08T00:00:00.000Z');
  await rejectsCode(kms.rotateKey(key.keyId), 'KeyInvalidState');
  await rejectsCode(kms.enableKey(key.keyId), 'KeyInvalidState');
  assert.equal((await kms.cancelKeyDeletion(key.keyId)).keyState, 'Disabled');
  assert.equal((await kms.enableKey(key.keyId)).keyState, 'Enabled');

  await kms.setDefaultKey(key.keyId);
  const sealed = await kms.seal(Buffer.from('under the customer key'), CONTEXT);
  await rejectsCode(kms.disableKey(key.keyId), 'KeyInvalidState');
  await kms.setDefaultKey('bulwark/service');
  await kms.scheduleKeyDeletion(key.keyId, 7);
  assert.deepEqual(kms.destroyDueKeys(), [], 'nothing is destroyed before the deletion date');
  now += 7 * 86_400_000;
  const [receipt] = kms.destroyDueKeys();
  assert.equal(receipt?.keyId, key.keyId);
  assert.equal((await kms.describeKey(key.keyId)).keyState, 'Destroyed');
  await rejectsCode(kms.open(sealed, CONTEXT), 'KeyErased');
});

test('the service key cannot be disabled or deleted', async (t) => {
  const { kms } = Kms.openOrCreate(tempDir(t), {}, OPTIONS);
  t.after(() => kms.close());
  await rejectsCode(kms.disableKey('bulwark/service'), 'KeyInvalidState');
  await rejectsCode(kms.scheduleKeyDeletion('bulwark/service', 30), 'KeyInvalidState');
  await rejectsCode(kms.describeKey('no-such-key'), 'KeyNotFound');
  assert.equal((await kms.rotateKey('bulwark/service')).currentVersion, 2);
});

test('a key state changed by another process takes effect from the next turn of the event loop, without a restart', async (t) => {
  // The server asks the key store for changes once per turn, as another process's commit lands between turns.
  const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
  const dir = tempDir(t);
  const { kms: server } = Kms.openOrCreate(dir, {}, OPTIONS);
  t.after(() => server.close());
  const operator = Kms.open(dir, {}, OPTIONS);
  t.after(() => operator.close());
  const key = await operator.createKey();
  await operator.setDefaultKey(key.keyId);
  await nextTurn();
  const sealed = await server.seal(Buffer.from('tenant record'), CONTEXT);
  assert.equal(
    server.describeSealed(sealed).keyId,
    key.keyId,
    'the server picked up the new default key',
  );
  await operator.setDefaultKey('bulwark/service');
  await operator.disableKey(key.keyId);
  await nextTurn();
  await rejectsCode(server.open(sealed, CONTEXT), 'KeyDisabled');
  await operator.enableKey(key.keyId);
  await nextTurn();
  assert.equal((await server.open(sealed, CONTEXT)).toString(), 'tenant record');

  const scoped = await server.seal(Buffer.from('thing data'), CONTEXT, 'thing/t1');
  operator.eraseScope('thing/t1');
  await nextTurn();
  await rejectsCode(server.open(scoped, CONTEXT), 'KeyErased');
  await rejectsCode(server.seal(Buffer.from('more'), CONTEXT, 'thing/t1'), 'KeyErased');
});

test('concurrent first seals share one new data key', async (t) => {
  const { kms } = Kms.openOrCreate(tempDir(t), {}, OPTIONS);
  t.after(() => kms.close());
  const sealed = await Promise.all(
    Array.from({ length: 50 }, (_, i) => kms.seal(Buffer.from(`v${i}`), CONTEXT)),
  );
  assert.equal(new Set(sealed.map((value) => value.readUInt32BE(7))).size, 1);
});
