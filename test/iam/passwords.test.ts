// Console passwords: the password policy, scrypt hashes in their self-describing form and their
// upgrade, reuse prevention, lockout under concurrent guesses, the per-source limit, and brute
// force against a real server's `POST /console/sign-in`, with nothing secret in logs or on disk.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { generateSync, ScureBase32Plugin } from 'otplib';
import { openDataDir } from '../../src/app/data-dir.js';
import { migrations } from '../../src/app/migrations.js';
import { configSchema } from '../../src/config/index.js';
import { isBulwarkError } from '../../src/errors.js';
import { ConsoleSignIn } from '../../src/iam/console-sign-in.js';
import { IAM_LOGIN_PROFILES_TABLE } from '../../src/iam/credential-migrations.js';
import { createCredentialServices } from '../../src/iam/credentials.js';
import type { LockoutPolicy } from '../../src/iam/lockout.js';
import { VirtualMfaDevices } from '../../src/iam/mfa.js';
import { DEFAULT_SCRYPT, type ScryptParameters } from '../../src/iam/password-hash.js';
import type { PasswordPolicy } from '../../src/iam/password-policy.js';
import { LoginProfiles } from '../../src/iam/passwords.js';
import { IamUsers } from '../../src/iam/users.js';
import { createLogger } from '../../src/logs/logger.js';
import { serverCa } from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS, runCli, startServer, stopServer } from '../helpers/cli.js';
import { newLocation, openHarnessAt, type Harness } from '../helpers/store-harness.js';
import { tempDir } from '../helpers/temp.js';

const LOCKOUT: LockoutPolicy = {
  failuresBeforeDelay: 5,
  firstDelayMs: 1000,
  maxDelayMs: 60_000,
  failuresBeforeLock: 20,
  lockDurationMs: 15 * 60_000,
};
const POLICY: PasswordPolicy = {
  minimumPasswordLength: 14,
  requireSymbols: false,
  requireNumbers: false,
  requireUppercaseCharacters: false,
  requireLowercaseCharacters: false,
  passwordReusePrevention: 3,
  maxPasswordAge: null,
};
/** Cheap hashes (16 MiB) where the cost is not what is tested. */
const FAST_SCRYPT: ScryptParameters = { ln: 14, r: 8, p: 1 };
const logger = createLogger('DISABLED');
const HASH_FORMAT = /^\$scrypt\$ln=(\d+),r=8,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$/;

interface Setup {
  harness: Harness;
  users: IamUsers;
  clock: { ms: number };
  profiles(options?: {
    policy?: Partial<PasswordPolicy>;
    hashing?: ScryptParameters;
  }): LoginProfiles;
}

async function setup(t: TestContext): Promise<Setup> {
  const location = (await newLocation(t, 'sqlite'))!;
  const harness = await openHarnessAt(location, migrations);
  t.after(() => harness.close());
  const users = new IamUsers(harness.store);
  await users.createUser('alice');
  const clock = { ms: Date.UTC(2026, 0, 1) };
  return {
    harness,
    users,
    clock,
    profiles: (options = {}) =>
      new LoginProfiles({
        store: harness.store,
        users,
        policy: { ...POLICY, ...options.policy },
        hashing: options.hashing ?? FAST_SCRYPT,
        lockout: LOCKOUT,
        logger,
        now: () => clock.ms,
      }),
  };
}

async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
  message?: RegExp,
): Promise<void> {
  await assert.rejects(promise, (error) => {
    assert.ok(isBulwarkError(error), String(error));
    assert.equal(error.code, code, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

async function storedHash(harness: Harness, userName: string): Promise<string> {
  const row = await harness.store.get(IAM_LOGIN_PROFILES_TABLE, { user_name: userName });
  return row?.password_hash as string;
}

test('the password policy: each broken rule is named, PasswordPolicyViolation, never the password', async (t) => {
  const s = await setup(t);
  const strict = s.profiles({
    policy: {
      requireSymbols: true,
      requireNumbers: true,
      requireUppercaseCharacters: true,
      requireLowercaseCharacters: true,
    },
  });
  const cases: [string, RegExp][] = [
    ['short-Pw1', /at least 14 characters/],
    ['alllowercaseletters', /uppercase letter.*a number.*a symbol/],
    ['ALLUPPERCASE-LETTERS-1', /a lowercase letter/],
    ['NoDigitsHere-at-all', /a number \(0-9\)/],
    ['NoSymbolsHere123abc', /a symbol/],
    ['x'.repeat(129), /at most 128 characters/],
    ['Пароль-Пароль-123-abc', /Latin-1/],
  ];
  for (const [password, message] of cases) {
    await assert.rejects(strict.create('alice', password, false), (error) => {
      assert.ok(isBulwarkError(error, 'PasswordPolicyViolation'), String(error));
      assert.match(error.message, message);
      assert.ok(!error.message.includes(password), 'the message never echoes the password');
      assert.equal(error.httpStatus, 400);
      return true;
    });
  }
  const profile = await strict.create('alice', 'Correct-Horse-42-battery', true);
  assert.deepEqual(
    { userName: profile.userName, passwordResetRequired: profile.passwordResetRequired },
    { userName: 'alice', passwordResetRequired: true },
  );
  await rejectsWith(
    strict.create('alice', 'Correct-Horse-43-battery', false),
    'ResourceAlreadyExists',
  );
  await rejectsWith(strict.create('nobody', 'Correct-Horse-42-battery', false), 'NoSuchEntity');
  await rejectsWith(strict.get('bob'), 'NoSuchEntity');
});

test('hashes are $scrypt$ln=17,r=8,p=1$salt$hash strings, sealed at rest with the password nowhere', async (t) => {
  const s = await setup(t);
  const password = 'correct horse battery staple';
  await s.profiles({ hashing: DEFAULT_SCRYPT }).create('alice', password, false);
  const hash = await storedHash(s.harness, 'alice');
  assert.match(hash, HASH_FORMAT);
  assert.ok(hash.startsWith('$scrypt$ln=17,r=8,p=1$'));
  const bytes = await s.harness.rawBytes();
  assert.ok(bytes.includes(Buffer.from('alice')), 'the scan sees the table');
  assert.ok(!bytes.includes(Buffer.from(password)));
  assert.ok(!bytes.includes(Buffer.from(hash.split('$')[4] as string)), 'the hash is sealed');
});

test('raising the scrypt cost rewrites a hash at its next right sign-in, not at a wrong one', async (t) => {
  const s = await setup(t);
  const password = 'correct horse battery staple';
  await s.profiles().create('alice', password, false);
  const before = await storedHash(s.harness, 'alice');
  assert.ok(before.startsWith('$scrypt$ln=14,r=8,p=1$'));
  const raised = s.profiles({ hashing: { ...FAST_SCRYPT, ln: 15 } });
  assert.deepEqual(await raised.check('alice', 'wrong horse battery staple'), {
    outcome: 'invalid',
  });
  assert.equal(await storedHash(s.harness, 'alice'), before);
  assert.deepEqual(await raised.check('alice', password), {
    outcome: 'ok',
    passwordResetRequired: false,
  });
  const after = await storedHash(s.harness, 'alice');
  assert.ok(after.startsWith('$scrypt$ln=15,r=8,p=1$'), after);
  // The old parameters still verify (a hash is never downgraded).
  assert.equal((await s.profiles().check('alice', password)).outcome, 'ok');
  assert.equal(await storedHash(s.harness, 'alice'), after);
});

test('reuse prevention refuses the last 3 passwords, even across a deleted profile', async (t) => {
  const s = await setup(t);
  const profiles = s.profiles();
  const [p1, p2, p3, p4] = [
    'first-password-1',
    'second-password-2',
    'third-password-3',
    'fourth-password-4',
  ];
  await profiles.create('alice', p1 as string, false);
  await profiles.update('alice', { password: p2 as string });
  await profiles.update('alice', { password: p3 as string });
  for (const reused of [p1, p2, p3])
    await rejectsWith(
      profiles.update('alice', { password: reused as string }),
      'PasswordPolicyViolation',
      /differ from the last 3 passwords/,
    );
  await profiles.update('alice', { password: p4 as string });
  await profiles.update('alice', { password: p1 as string }); // p1 is now the 4th most recent
  await profiles.delete('alice');
  await rejectsWith(profiles.get('alice'), 'NoSuchEntity');
  await rejectsWith(profiles.create('alice', p4 as string, false), 'PasswordPolicyViolation');
  await profiles.create('alice', 'fifth-password-5', false);
  await profiles.update('alice', { passwordResetRequired: true });
  assert.equal((await profiles.get('alice')).passwordResetRequired, true);
  assert.equal((await profiles.check('alice', 'fifth-password-5')).outcome, 'ok');
});

test('maxPasswordAge: an old password signs in with passwordResetRequired', async (t) => {
  const s = await setup(t);
  const profiles = s.profiles({ policy: { maxPasswordAge: 90 } });
  await profiles.create('alice', 'correct horse battery', false);
  s.clock.ms += 89 * 86_400_000;
  assert.deepEqual(await profiles.check('alice', 'correct horse battery'), {
    outcome: 'ok',
    passwordResetRequired: false,
  });
  s.clock.ms += 2 * 86_400_000;
  assert.deepEqual(await profiles.check('alice', 'correct horse battery'), {
    outcome: 'ok',
    passwordResetRequired: true,
  });
});

test('50 concurrent wrong guesses: only 5 are checked, the rest wait; unknown users alike', async (t) => {
  const s = await setup(t);
  const profiles = s.profiles();
  await profiles.create('alice', 'correct horse battery', false);
  for (const userName of ['alice', 'nobody']) {
    const outcomes = await Promise.all(
      Array.from({ length: 50 }, (_, i) => profiles.check(userName, `guess number ${i}`)),
    );
    const checked = outcomes.filter((outcome) => outcome.outcome === 'invalid').length;
    assert.equal(checked, LOCKOUT.failuresBeforeDelay, userName);
    assert.ok(outcomes.every((outcome) => outcome.outcome !== 'ok'));
  }
  // Even the right password waits out the delay; after it, it passes and clears the count.
  assert.equal((await profiles.check('alice', 'correct horse battery')).outcome, 'throttled');
  s.clock.ms += LOCKOUT.firstDelayMs;
  assert.equal((await profiles.check('alice', 'correct horse battery')).outcome, 'ok');
  assert.equal((await profiles.check('alice', 'wrong')).outcome, 'invalid');
  // An administrator setting a new password lifts a lockout.
  for (let i = 0; i < 5; i++) await profiles.check('alice', 'wrong');
  assert.equal((await profiles.check('alice', 'correct horse battery')).outcome, 'throttled');
  await profiles.update('alice', { password: 'a brand new password' });
  assert.equal((await profiles.check('alice', 'a brand new password')).outcome, 'ok');
});

test('one source address trying many user names is stopped by the per-source limit', async (t) => {
  const s = await setup(t);
  const signIn = new ConsoleSignIn({
    profiles: s.profiles(),
    mfaDevices: new VirtualMfaDevices({
      store: s.harness.store,
      accountId: '123456789012',
      users: s.users,
      lockout: LOCKOUT,
      logger,
      now: () => s.clock.ms,
    }),
    requireMfa: true,
    sourceLimit: { failuresPerWindow: 10, windowMs: 60_000 },
    logger,
    now: () => s.clock.ms,
  });
  const attempt = (userName: string, sourceIp: string) =>
    signIn.signIn({ userName, password: 'spray-password-1', mfaCode: '123456', sourceIp });
  for (let i = 0; i < 10; i++) await rejectsWith(attempt(`user${i}`, '192.0.2.1'), 'Unauthorized');
  await rejectsWith(attempt('user10', '192.0.2.1'), 'Throttling');
  await rejectsWith(attempt('user10', '192.0.2.2'), 'Unauthorized');
  // Asking without a code is not a guess: the password is not even looked at.
  await rejectsWith(
    signIn.signIn({ userName: 'alice', password: 'x', sourceIp: '192.0.2.3' }),
    'Unauthorized',
    /MFA code is required/,
  );
  s.clock.ms += 60_000;
  await rejectsWith(attempt('user11', '192.0.2.1'), 'Unauthorized');
});

// ---- a real server ----

interface SignInResponse {
  status: number;
  errorType: string | undefined;
  body: Record<string, unknown>;
}

function signInClient(port: number, ca: string) {
  const agent = new Agent({ ca, keepAlive: true, maxSockets: 1 });
  return {
    post(body: unknown): Promise<SignInResponse> {
      const payload = Buffer.from(JSON.stringify(body));
      return new Promise((resolve, reject) => {
        const outgoing = request(
          {
            host: '127.0.0.1',
            servername: 'localhost',
            port,
            agent,
            method: 'POST',
            path: '/console/sign-in',
            headers: { 'content-type': 'application/json', 'content-length': payload.length },
          },
          (response) => {
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () =>
              resolve({
                status: response.statusCode ?? 0,
                errorType: response.headers['x-amzn-errortype'] as string | undefined,
                body: JSON.parse(text) as Record<string, unknown>,
              }),
            );
          },
        );
        outgoing.on('error', reject);
        outgoing.end(payload);
      });
    },
    close: () => agent.destroy(),
  };
}

const currentCode = (seed: string) =>
  generateSync({ secret: seed, strategy: 'hotp', counter: Math.floor(Date.now() / 30_000) });

function databaseBytes(dataDir: string): Buffer {
  const base = join(dataDir, 'db', 'bulwark.db');
  return Buffer.concat(
    [base, `${base}-wal`].filter((path) => existsSync(path)).map((path) => readFileSync(path)),
  );
}

test('1,000 wrong passwords over POST /console/sign-in are throttled and locked out, none succeeds; the right password and code pass once the lock ends, once', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const init = runCli(['init', '--data-dir', dataDir]);
  assert.equal(init.status, 0, init.stderr);
  // A short lock, so the test can outwait it; the hashing is the real default (ln = 17).
  const lockout = {
    failuresBeforeDelay: 3,
    firstDelayMs: 20,
    maxDelayMs: 100,
    failuresBeforeLock: 6,
    lockDurationMs: 4000,
    sourceFailuresPerWindow: 100_000,
    sourceWindowMs: 60_000,
  };
  const config = configSchema.parse({ dataDir, iam: { lockout } });
  const password = 'Tr0ub4dor&3-correct-horse';
  let seed = '';
  {
    const opened = await openDataDir(config, {}, { create: false });
    try {
      const credentials = createCredentialServices(opened.store, config, logger);
      await new IamUsers(opened.store).createUser('alice');
      await credentials.loginProfiles.create('alice', password, false);
      const device = await credentials.mfaDevices.createVirtualMfaDevice('alice-phone');
      seed = device.base32StringSeed;
      // Enabled with the previous two steps' codes, so that the current code is still unused.
      const step = Math.floor(Date.now() / 30_000);
      const code = (at: number) => generateSync({ secret: seed, strategy: 'hotp', counter: at });
      await credentials.mfaDevices.enableMfaDevice(
        'alice',
        device.serialNumber,
        code(step - 2),
        code(step - 1),
      );
    } finally {
      await opened.close();
    }
  }
  const env = Object.fromEntries(
    Object.entries(lockout).map(([name, value]) => [
      `BULWARK_IAM_LOCKOUT_${name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`,
      String(value),
    ]),
  );
  const server = await startServer(
    t,
    ['--data-dir', dataDir, '--host', '127.0.0.1', ...EPHEMERAL_PORTS],
    { env },
  );
  const client = signInClient(server.ready.api, serverCa(dataDir));
  t.after(() => client.close());

  const noCode = await client.post({ userName: 'alice', password });
  assert.equal(noCode.status, 401);
  assert.equal(noCode.errorType, 'UnauthorizedException');
  assert.equal(noCode.body.mfaRequired, true);
  const malformed = await client.post({ userName: 'alice', password: 42, mfaCode: '123456' });
  assert.equal(malformed.status, 400);

  const wrongPasswords = Array.from({ length: 1000 }, (_, i) => `wrong-password-${i}-zq`);
  const statuses = new Map<number, number>();
  const started = Date.now();
  for (const wrong of wrongPasswords) {
    const response = await client.post({ userName: 'alice', password: wrong, mfaCode: '000000' });
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
  }
  const summary = JSON.stringify(Object.fromEntries(statuses));
  assert.equal(statuses.get(200), undefined, summary);
  assert.deepEqual([...statuses.keys()].sort(), [401, 429], summary);
  assert.ok((statuses.get(429) ?? 0) >= 980, summary);
  assert.ok(Date.now() - started < 30_000, `took ${Date.now() - started} ms`);

  // Locked: one more failure relocks it at once, and then the right password and code wait too.
  await client.post({ userName: 'alice', password: 'one-more-wrong-zq', mfaCode: '000000' });
  const locked = await client.post({ userName: 'alice', password, mfaCode: currentCode(seed) });
  assert.equal(locked.status, 429);
  assert.equal(locked.errorType, 'ThrottlingException');
  const retryAfterSeconds = locked.body.retryAfterSeconds as number;
  assert.ok(retryAfterSeconds >= 1 && retryAfterSeconds <= 4, String(retryAfterSeconds));

  await new Promise((resolve) => setTimeout(resolve, retryAfterSeconds * 1000 + 200));
  const code = currentCode(seed);
  const signedIn = await client.post({ userName: 'alice', password, mfaCode: code });
  assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
  assert.deepEqual(signedIn.body, {
    userName: 'alice',
    mfaAuthenticated: true,
    passwordResetRequired: false,
  });
  const replayed = await client.post({ userName: 'alice', password, mfaCode: code });
  assert.equal(replayed.status, 401, 'a code works once');
  assert.equal(replayed.body.message, 'The user name, password or MFA code is incorrect.');

  client.close();
  await stopServer(server);
  const logs = server.stderr();
  assert.match(logs, /console sign-in refused: wrong password/, 'failures are logged');
  const bytes = databaseBytes(dataDir);
  for (const secret of [
    password,
    seed,
    wrongPasswords[0] as string,
    wrongPasswords[999] as string,
  ]) {
    assert.ok(!logs.includes(secret), 'no password or seed in the logs');
    assert.ok(!bytes.includes(Buffer.from(secret)), 'no password or seed in the database');
  }
  assert.ok(!logs.includes(`"${code}"`), 'no MFA code in the logs');
  assert.ok(!bytes.includes(Buffer.from(new ScureBase32Plugin().decode(seed))));
});
