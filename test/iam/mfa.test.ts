// Virtual MFA devices (RFC 6238 TOTP) on a real store: the RFC's test vectors through Bulwark's
// own verifier, enabling with two consecutive codes, resync, replay blocking (also under
// concurrency, on SQLite and PostgreSQL), brute-force lockout, and seeds sealed at rest.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { generateSync, ScureBase32Plugin } from 'otplib';
import { migrations } from '../../src/app/migrations.js';
import { isBulwarkError } from '../../src/errors.js';
import type { LockoutPolicy } from '../../src/iam/lockout.js';
import { TOTP_STEP_SECONDS, VirtualMfaDevices } from '../../src/iam/mfa.js';
import { IamUsers } from '../../src/iam/users.js';
import { createLogger } from '../../src/logs/logger.js';
import { newLocation, openHarnessAt, type Harness } from '../helpers/store-harness.js';

/** `iam.lockout`'s defaults. */
const LOCKOUT: LockoutPolicy = {
  failuresBeforeDelay: 5,
  firstDelayMs: 1000,
  maxDelayMs: 60_000,
  failuresBeforeLock: 20,
  lockDurationMs: 15 * 60_000,
};
/** RFC 6238 Appendix B's SHA-1 seed. */
const RFC_SEED = Buffer.from('12345678901234567890', 'ascii');
const STEP_MS = TOTP_STEP_SECONDS * 1000;
const base32 = new ScureBase32Plugin();

interface Setup {
  harness: Harness;
  devices: VirtualMfaDevices;
  clock: { ms: number };
}

async function setup(
  t: TestContext,
  options: { kind?: 'sqlite' | 'postgres'; seed?: Buffer } = {},
): Promise<Setup | undefined> {
  const location = await newLocation(t, options.kind ?? 'sqlite');
  if (!location) return undefined;
  const harness = await openHarnessAt(location, migrations);
  t.after(() => harness.close());
  const users = new IamUsers(harness.store);
  await users.createUser('alice');
  await users.createUser('bob');
  const clock = { ms: Date.UTC(2026, 0, 1) };
  const devices = new VirtualMfaDevices({
    store: harness.store,
    accountId: '123456789012',
    users,
    lockout: LOCKOUT,
    logger: createLogger('DISABLED'),
    now: () => clock.ms,
    ...(options.seed ? { newSeed: () => Buffer.from(options.seed as Buffer) } : {}),
  });
  return { harness, devices, clock };
}

/** The code an authenticator app shows, computed by otplib's own defaults from the Base32 seed. */
function appCode(base32Seed: string, step: number): string {
  return generateSync({ secret: base32Seed, strategy: 'hotp', counter: step });
}

const stepAt = (ms: number) => Math.floor(ms / STEP_MS);

/** A 6-digit code that is none of the device's codes for `steps`. */
function wrongCode(base32Seed: string, steps: number[]): string {
  const right = new Set(steps.map((step) => appCode(base32Seed, step)));
  for (let n = 0; ; n++) {
    const candidate = String(n).padStart(6, '0');
    if (!right.has(candidate)) return candidate;
  }
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(promise, (error) => isBulwarkError(error) && error.code === code);
}

/** A device created and enabled for `userName` at the clock's current step. */
async function enabledDevice(
  setup: Setup,
  name: string,
  userName = 'alice',
): Promise<{ serialNumber: string; seed: string }> {
  const device = await setup.devices.createVirtualMfaDevice(name);
  const step = stepAt(setup.clock.ms);
  await setup.devices.enableMfaDevice(
    userName,
    device.serialNumber,
    appCode(device.base32StringSeed, step - 1),
    appCode(device.base32StringSeed, step),
  );
  return { serialNumber: device.serialNumber, seed: device.base32StringSeed };
}

// RFC 6238's table gives 8-digit codes; a 6-digit code is the same value mod 10^6, i.e. its
// last six digits.
test('RFC 6238 test vectors (SHA-1) pass through the verifier at their times', async (t) => {
  const s = await setup(t, { seed: RFC_SEED });
  if (!s) return;
  const { devices, clock } = s;

  // T = 59 s (step 1): 94287082, as the second of two consecutive codes that enable a device.
  const first = await devices.createVirtualMfaDevice('rfc-59');
  assert.equal(first.base32StringSeed, 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  clock.ms = 59_000;
  await rejectsWith(
    devices.enableMfaDevice(
      'bob',
      first.serialNumber,
      appCode(first.base32StringSeed, 0),
      '287083',
    ),
    'InvalidAuthenticationCode',
  );
  await devices.enableMfaDevice(
    'bob',
    first.serialNumber,
    appCode(first.base32StringSeed, 0),
    '287082',
  );

  // T = 1111111109 and 1111111111 are consecutive steps: 07081804 then 14050471.
  const device = await devices.createVirtualMfaDevice('rfc');
  clock.ms = 1_111_111_111_000;
  await devices.enableMfaDevice('alice', device.serialNumber, '081804', '050471');
  for (const [seconds, code] of [
    [1_234_567_890, '005924'],
    [2_000_000_000, '279037'],
    [20_000_000_000, '353130'],
  ] as const) {
    clock.ms = seconds * 1000;
    assert.equal(await devices.verify('alice', device.serialNumber, code), 'ok', `T = ${seconds}`);
  }
  clock.ms = 20_000_000_000 * 1000 + STEP_MS;
  assert.equal(await devices.verify('alice', device.serialNumber, '353131'), 'invalid');
});

test('EnableMFADevice takes two consecutive current codes, in order, once', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { devices, clock } = s;
  const device = await devices.createVirtualMfaDevice('alice-phone');
  assert.equal(device.serialNumber, 'arn:aws:iam::123456789012:mfa/alice-phone');
  assert.match(device.base32StringSeed, /^[A-Z2-7]{64}$/);
  const seed = device.base32StringSeed;
  const step = stepAt(clock.ms);
  const refused = [
    [appCode(seed, step), appCode(seed, step - 1)], // reversed
    [appCode(seed, step - 2), appCode(seed, step)], // not consecutive
    [appCode(seed, step - 21), appCode(seed, step - 20)], // ten minutes old
  ];
  for (const [code1, code2] of refused)
    await rejectsWith(
      devices.enableMfaDevice('alice', device.serialNumber, code1 as string, code2 as string),
      'InvalidAuthenticationCode',
    );
  await rejectsWith(
    devices.enableMfaDevice(
      'nobody',
      device.serialNumber,
      appCode(seed, step - 1),
      appCode(seed, step),
    ),
    'NoSuchEntity',
  );
  await devices.enableMfaDevice(
    'alice',
    device.serialNumber,
    appCode(seed, step - 1),
    appCode(seed, step),
  );
  clock.ms += STEP_MS;
  await rejectsWith(
    devices.enableMfaDevice(
      'bob',
      device.serialNumber,
      appCode(seed, step),
      appCode(seed, step + 1),
    ),
    'ResourceAlreadyExists',
  );
  const listed = await devices.listMfaDevices('alice', { maxItems: 100 });
  assert.deepEqual(
    listed.items.map((item) => [item.userName, item.serialNumber]),
    [['alice', device.serialNumber]],
  );
  const virtual = await devices.listVirtualMfaDevices('Assigned', { maxItems: 100 });
  assert.equal(virtual.items[0]?.user?.userName, 'alice');
  assert.equal(
    (await devices.listVirtualMfaDevices('Unassigned', { maxItems: 100 })).items.length,
    0,
  );
});

test('a code accepted once is refused after (OtpReplay), and so is an older one', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { devices, clock } = s;
  const { serialNumber, seed } = await enabledDevice(s, 'alice-phone');
  const enabledStep = stepAt(clock.ms);
  clock.ms += STEP_MS;
  const code = appCode(seed, enabledStep + 1);
  assert.equal(await devices.checkCode('alice', serialNumber, code), 'ok');
  assert.equal(await devices.checkCode('alice', serialNumber, code), 'replay');
  assert.equal(await devices.verify('alice', serialNumber, code), 'invalid');
  // The enabling code is still inside the ±1 window, but it was used.
  assert.equal(
    await devices.checkCode('alice', serialNumber, appCode(seed, enabledStep)),
    'replay',
  );
  // The next step's code (the window's +1) is new, and accepted.
  assert.equal(
    await devices.checkCode('alice', serialNumber, appCode(seed, enabledStep + 2)),
    'ok',
  );
  // Another user's device never answers for alice.
  const bobs = await enabledDevice(s, 'bob-phone', 'bob');
  assert.equal(
    await devices.verify('alice', bobs.serialNumber, appCode(bobs.seed, stepAt(clock.ms) + 1)),
    'invalid',
  );
});

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`${kind}: concurrent uses of one code, exactly one passes`, async (t) => {
    const s = await setup(t, { kind });
    if (!s) return;
    const { devices, clock } = s;
    const { serialNumber, seed } = await enabledDevice(s, 'alice-phone');
    for (let round = 1; round <= 5; round++) {
      clock.ms += STEP_MS;
      const code = appCode(seed, stepAt(clock.ms));
      const outcomes = await Promise.all(
        Array.from({ length: 8 }, () => devices.checkCode('alice', serialNumber, code)),
      );
      assert.equal(outcomes.filter((outcome) => outcome === 'ok').length, 1, outcomes.join());
      // The others are replays, which count as failures: from the fifth on, the device waits.
      assert.ok(
        outcomes.every((outcome) => outcome !== 'invalid'),
        outcomes.join(),
      );
    }
  });
}

test('1,000 wrong codes for one user are throttled and locked, none succeeds; the right code waits for the lock to end', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { devices, clock } = s;
  const { serialNumber, seed } = await enabledDevice(s, 'alice-phone');
  const window = () => [-1, 0, 1].map((offset) => stepAt(clock.ms) + offset);
  const outcomes = { ok: 0, invalid: 0, replay: 0, locked: 0 };
  // An attacker guessing about once a minute: past every backoff delay, not past the lock.
  for (let attempt = 0; attempt < 1000; attempt++) {
    clock.ms += 61_000;
    outcomes[await devices.checkCode('alice', serialNumber, wrongCode(seed, window()))] += 1;
  }
  assert.equal(outcomes.ok, 0);
  // 20 checked before the lock, then one per 15-minute lock (about every 15th attempt).
  assert.ok(outcomes.invalid >= 20 && outcomes.invalid <= 100, JSON.stringify(outcomes));
  assert.ok(outcomes.locked >= 900, JSON.stringify(outcomes));

  // Once past its limit, the device locks again at the next failure; the right code then waits.
  clock.ms += LOCKOUT.lockDurationMs;
  assert.equal(
    await devices.checkCode('alice', serialNumber, wrongCode(seed, window())),
    'invalid',
  );
  clock.ms += STEP_MS;
  assert.equal(
    await devices.verify('alice', serialNumber, appCode(seed, stepAt(clock.ms))),
    'locked',
  );
  await rejectsWith(
    devices.resyncMfaDevice(
      'alice',
      serialNumber,
      appCode(seed, stepAt(clock.ms)),
      appCode(seed, stepAt(clock.ms) + 1),
    ),
    'Throttling',
  );
  clock.ms += LOCKOUT.lockDurationMs;
  assert.equal(await devices.verify('alice', serialNumber, appCode(seed, stepAt(clock.ms))), 'ok');
  // A success clears the count: one more mistake is just a mistake.
  clock.ms += STEP_MS;
  assert.equal(await devices.verify('alice', serialNumber, wrongCode(seed, window())), 'invalid');
  assert.equal(await devices.verify('alice', serialNumber, appCode(seed, stepAt(clock.ms))), 'ok');
});

test('backoff: after 5 failures the next attempt waits, unchecked, for a doubling delay', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { devices, clock } = s;
  const { serialNumber, seed } = await enabledDevice(s, 'alice-phone');
  const window = () => [-1, 0, 1].map((offset) => stepAt(clock.ms) + offset);
  for (let failure = 1; failure <= 5; failure++)
    assert.equal(await devices.verify('alice', serialNumber, wrongCode(seed, window())), 'invalid');
  // Even the right code is not looked at while the delay (1 s) runs.
  assert.equal(
    await devices.verify('alice', serialNumber, appCode(seed, stepAt(clock.ms) + 1)),
    'locked',
  );
  clock.ms += 1000;
  assert.equal(await devices.verify('alice', serialNumber, wrongCode(seed, window())), 'invalid');
  clock.ms += 1999;
  assert.equal(await devices.verify('alice', serialNumber, wrongCode(seed, window())), 'locked');
  clock.ms += 1;
  assert.equal(
    await devices.verify('alice', serialNumber, appCode(seed, stepAt(clock.ms) + 1)),
    'ok',
  );
});

test('ResyncMFADevice measures a drifting clock and expects it from then on', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { devices, clock } = s;
  const { serialNumber, seed } = await enabledDevice(s, 'alice-phone');
  clock.ms += 10 * STEP_MS;
  const drift = 6; // the phone runs three minutes fast
  const now = stepAt(clock.ms);
  assert.equal(await devices.verify('alice', serialNumber, appCode(seed, now + drift)), 'invalid');
  await rejectsWith(
    devices.resyncMfaDevice(
      'alice',
      serialNumber,
      appCode(seed, now + drift + 1),
      appCode(seed, now + drift),
    ),
    'InvalidAuthenticationCode',
  );
  await devices.resyncMfaDevice(
    'alice',
    serialNumber,
    appCode(seed, now + drift - 1),
    appCode(seed, now + drift),
  );
  clock.ms += 2 * STEP_MS;
  const later = stepAt(clock.ms);
  assert.equal(await devices.verify('alice', serialNumber, appCode(seed, later)), 'invalid');
  assert.equal(await devices.verify('alice', serialNumber, appCode(seed, later + drift)), 'ok');
  await rejectsWith(
    devices.resyncMfaDevice(
      'bob',
      serialNumber,
      appCode(seed, later + drift),
      appCode(seed, later + drift + 1),
    ),
    'NoSuchEntity',
  );
});

test('deactivate, then delete; a device still enabled cannot be deleted', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { devices, clock } = s;
  const { serialNumber, seed } = await enabledDevice(s, 'alice-phone');
  await rejectsWith(devices.deleteVirtualMfaDevice(serialNumber), 'DeleteConflict');
  await rejectsWith(devices.deactivateMfaDevice('bob', serialNumber), 'NoSuchEntity');
  await devices.deactivateMfaDevice('alice', serialNumber);
  assert.deepEqual((await devices.listMfaDevices('alice', { maxItems: 10 })).items, []);
  clock.ms += STEP_MS;
  assert.equal(
    await devices.verify('alice', serialNumber, appCode(seed, stepAt(clock.ms))),
    'invalid',
  );
  await devices.deleteVirtualMfaDevice(serialNumber);
  assert.deepEqual((await devices.listVirtualMfaDevices('Any', { maxItems: 10 })).items, []);
  await rejectsWith(devices.deleteVirtualMfaDevice(serialNumber), 'NoSuchEntity');
  await rejectsWith(devices.createVirtualMfaDevice('bad name'), 'InvalidRequest');
});

test('ListVirtualMFADevices pages with Marker', async (t) => {
  const s = await setup(t);
  if (!s) return;
  for (const name of ['d1', 'd2', 'd3']) await s.devices.createVirtualMfaDevice(name);
  const first = await s.devices.listVirtualMfaDevices('Any', { maxItems: 2 });
  assert.equal(first.items.length, 2);
  assert.ok(first.marker);
  const second = await s.devices.listVirtualMfaDevices('Any', {
    maxItems: 2,
    marker: first.marker,
  });
  assert.deepEqual(
    [...first.items, ...second.items].map((item) => item.serialNumber.split('/').pop()),
    ['d1', 'd2', 'd3'],
  );
  assert.equal(second.marker, undefined);
});

test('seeds are sealed at rest: neither the Base32 seed nor its bytes are in the database', async (t) => {
  const s = await setup(t);
  if (!s) return;
  const { serialNumber, seed } = await enabledDevice(s, 'alice-phone');
  const bytes = await s.harness.rawBytes();
  assert.ok(bytes.includes(Buffer.from(serialNumber)), 'the scan sees the table');
  assert.ok(!bytes.includes(Buffer.from(seed)));
  assert.ok(!bytes.includes(Buffer.from(base32.decode(seed))));
});
