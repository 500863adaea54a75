import { randomBytes, scryptSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BulwarkError } from '../errors.js';
import { unwrapKey, wrapKey } from './aead.js';

export const ROOT_KEY_BYTES = 32;
export const PASSPHRASE_ENV = 'BULWARK_ROOT_PASSPHRASE';
const CHECK_PLAINTEXT = Buffer.from('bulwark root key check v1');
const CHECK_AAD = Buffer.from('bulwark/root-check');

/** scrypt cost for passphrase-derived root keys (OWASP: N=2^17, r=8, p=1). */
const SCRYPT = { N: 2 ** 17, r: 8, p: 1, maxmem: 256 * 1024 * 1024 };

interface KdfFile {
  kdf: 'scrypt';
  salt: string;
  N: number;
  r: number;
  p: number;
}

export function keysDir(dataDir: string): string {
  return join(dataDir, 'keys');
}

export function rootKeyPath(dataDir: string): string {
  return join(keysDir(dataDir), 'root.key');
}

export function rootKdfPath(dataDir: string): string {
  return join(keysDir(dataDir), 'root.kdf.json');
}

/** A value sealed under the root key at init, so a wrong key is caught before any database opens. */
export function rootCheckPath(dataDir: string): string {
  return join(keysDir(dataDir), 'root.check');
}

/** Whether a root key (file or passphrase salt) was ever set up for this data dir. */
export function rootKeyConfigured(dataDir: string): boolean {
  return existsSync(rootKeyPath(dataDir)) || existsSync(rootKdfPath(dataDir));
}

function refuseLooseMode(path: string): void {
  const mode = statSync(path).mode & 0o777;
  if (mode & 0o077) {
    throw new BulwarkError(
      'RootKeyFileInsecure',
      `${path} is readable or writable by group or others (mode ${mode.toString(8).padStart(4, '0')}); run: chmod 600 ${path}`,
      { path },
    );
  }
}

function deriveFromPassphrase(passphrase: string, kdf: KdfFile): Buffer {
  return scryptSync(passphrase.normalize('NFC'), Buffer.from(kdf.salt, 'base64'), ROOT_KEY_BYTES, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: SCRYPT.maxmem,
  });
}

/**
 * Creates the root key for a new data dir: from the operator's passphrase when
 * BULWARK_ROOT_PASSPHRASE is set (only the salt is stored), otherwise 256 random bits in a file
 * only the owner can read.
 */
export function createRootKey(dataDir: string, env: NodeJS.ProcessEnv): Buffer {
  mkdirSync(keysDir(dataDir), { recursive: true, mode: 0o700 });
  const passphrase = env[PASSPHRASE_ENV];
  if (passphrase !== undefined) {
    if (passphrase.length < 12) {
      throw new BulwarkError(
        'RootKeyInvalid',
        `${PASSPHRASE_ENV} is too short: use at least 12 characters`,
      );
    }
    const kdf: KdfFile = {
      kdf: 'scrypt',
      salt: randomBytes(16).toString('base64'),
      N: SCRYPT.N,
      r: SCRYPT.r,
      p: SCRYPT.p,
    };
    writeFileSync(rootKdfPath(dataDir), JSON.stringify(kdf, null, 2) + '\n', {
      mode: 0o600,
      flag: 'wx',
    });
    return deriveFromPassphrase(passphrase, kdf);
  }
  const key = randomBytes(ROOT_KEY_BYTES);
  writeFileSync(rootKeyPath(dataDir), key, { mode: 0o600, flag: 'wx' });
  return key;
}

/** Loads the existing root key; never creates one (a new key could not open existing data). */
export function loadRootKey(dataDir: string, env: NodeJS.ProcessEnv): Buffer {
  const kdfPath = rootKdfPath(dataDir);
  if (existsSync(kdfPath)) {
    const passphrase = env[PASSPHRASE_ENV];
    if (passphrase === undefined) {
      throw new BulwarkError(
        'RootKeyMissing',
        `this data dir's root key is derived from a passphrase: set ${PASSPHRASE_ENV}`,
      );
    }
    const kdf = JSON.parse(readFileSync(kdfPath, 'utf8')) as KdfFile;
    if (kdf.kdf !== 'scrypt') {
      throw new BulwarkError(
        'RootKeyInvalid',
        `${kdfPath}: unknown kdf ${JSON.stringify(kdf.kdf)}`,
      );
    }
    return deriveFromPassphrase(passphrase, kdf);
  }
  const path = rootKeyPath(dataDir);
  if (!existsSync(path)) {
    throw new BulwarkError(
      'RootKeyMissing',
      `root key file ${path} is missing; restore it from your key backup (a new key cannot open existing data)`,
      { path },
    );
  }
  refuseLooseMode(path);
  const key = readFileSync(path);
  if (key.length !== ROOT_KEY_BYTES) {
    throw new BulwarkError(
      'RootKeyInvalid',
      `${path} must hold exactly ${ROOT_KEY_BYTES} bytes; it holds ${key.length}`,
      { path },
    );
  }
  return key;
}

export function writeRootCheck(dataDir: string, rootKey: Buffer): void {
  writeFileSync(rootCheckPath(dataDir), wrapKey(rootKey, CHECK_PLAINTEXT, CHECK_AAD), {
    mode: 0o600,
    flag: 'wx',
  });
}

/** Refuses a root key that is not the one this data dir was initialised with; reads only. */
export function verifyRootKey(dataDir: string, rootKey: Buffer): void {
  const path = rootCheckPath(dataDir);
  if (!existsSync(path)) {
    throw new BulwarkError(
      'RootKeyMissing',
      `${path} is missing; restore the keys directory from your key backup`,
      { path },
    );
  }
  const opened = unwrapKey(rootKey, readFileSync(path), CHECK_AAD);
  if (!opened || !opened.equals(CHECK_PLAINTEXT)) {
    throw new BulwarkError(
      'RootKeyInvalid',
      `the root key does not open this data dir's keys (${keysDir(dataDir)}): wrong root key file or passphrase`,
      { path },
    );
  }
}
