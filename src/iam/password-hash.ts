import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashes: scrypt from node:crypto, stored as a self-describing PHC-style string
 * `$scrypt$ln=17,r=8,p=1$<salt>$<hash>` (unpadded base64), so that raising the parameters later
 * still verifies old hashes and tells which ones to rewrite at the next sign-in.
 */

export interface ScryptParameters {
  /** log2 of the CPU/memory cost N. */
  ln: number;
  /** Block size. */
  r: number;
  /** Parallelisation. */
  p: number;
}

/** OWASP's floor for scrypt: N = 2^17, r = 8, p = 1 (128 MiB per hash). */
export const DEFAULT_SCRYPT: ScryptParameters = { ln: 17, r: 8, p: 1 };

const SALT_BYTES = 16;
const HASH_BYTES = 32;
const FORMAT =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$/;

function derive(password: string, salt: Buffer, parameters: ScryptParameters): Promise<Buffer> {
  const N = 2 ** parameters.ln;
  const options: ScryptOptions = {
    N,
    r: parameters.r,
    p: parameters.p,
    // OpenSSL needs 128·r·(N + 2 + p) bytes; Node's default allowance (32 MiB) is below N = 2^17.
    maxmem: 128 * parameters.r * (N + 2 + parameters.p) + 1024 * 1024,
  };
  return new Promise((resolve, reject) =>
    scrypt(password, salt, HASH_BYTES, options, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

const unpadded = (bytes: Buffer) => bytes.toString('base64').replace(/=+$/, '');

export async function hashPassword(
  password: string,
  parameters: ScryptParameters,
): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, parameters);
  const { ln, r, p } = parameters;
  return `$scrypt$ln=${ln},r=${r},p=${p}$${unpadded(salt)}$${unpadded(hash)}`;
}

interface ParsedHash {
  parameters: ScryptParameters;
  salt: Buffer;
  hash: Buffer;
}

function parse(stored: string): ParsedHash {
  const match = FORMAT.exec(stored);
  if (!match) throw new Error('internal: a stored password hash is not in the $scrypt$ format');
  const [, ln, r, p, salt, hash] = match as unknown as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  return {
    parameters: { ln: Number(ln), r: Number(r), p: Number(p) },
    salt: Buffer.from(salt, 'base64'),
    hash: Buffer.from(hash, 'base64'),
  };
}

/** Whether `password` is the one hashed in `stored`; the comparison takes constant time. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  const derived = await derive(password, parsed.salt, parsed.parameters);
  return derived.length === parsed.hash.length && timingSafeEqual(derived, parsed.hash);
}

/** Whether `stored` was made with weaker parameters than `wanted`, and should be rewritten. */
export function needsRehash(stored: string, wanted: ScryptParameters): boolean {
  const { parameters } = parse(stored);
  return parameters.ln < wanted.ln || parameters.r < wanted.r || parameters.p < wanted.p;
}

/**
 * Spends the time a real verification would, for a user with no password, so that the answer's
 * timing does not tell which user names have one.
 */
export async function verifyNothing(
  password: string,
  parameters: ScryptParameters,
): Promise<false> {
  await derive(password, randomBytes(SALT_BYTES), parameters);
  return false;
}
