import { createCipheriv, createDecipheriv, hash, randomFillSync } from 'node:crypto';
import { BulwarkError } from '../errors.js';
import { NONCE_BYTES, TAG_BYTES } from './aead.js';

/**
 * The sealed-value format (version 1), 43 bytes of overhead:
 *
 *   offset size
 *   0      1   format (0x01)
 *   1      4   key number (u32, the key store's compact id of the key)
 *   5      2   key version (u16)
 *   7      4   data key number (u32)
 *   11     12  nonce (random)
 *   23     4   context fingerprint: SHA-256(context)[0..4], so a copied value is reported as a
 *              context mismatch rather than as tampering; it reveals nothing the row does not
 *   27     n   ciphertext
 *   27+n   16  GCM tag
 *
 * The AAD is the header (bytes 0–26) followed by the encoded context, so the key id, key
 * version and the record's identity (table, primary key, column) are all authenticated.
 */
export const SEALED_FORMAT_V1 = 0x01;
export const HEADER_BYTES = 27;
export const SEALED_OVERHEAD = HEADER_BYTES + TAG_BYTES;

/** The identity of the place a value is stored in; a sealed value opens only in the same place. */
export interface SealContext {
  table: string;
  /** The row's primary key, canonically encoded (see store). */
  primaryKey: string;
  column: string;
}

export interface SealedHeader {
  format: number;
  keyNumber: number;
  keyVersion: number;
  dataKeyNumber: number;
  nonce: Buffer;
  fingerprint: Buffer;
}

/**
 * The AAD in one allocation: the header, then each context part as a 4-byte length and its
 * UTF-8 bytes. The fingerprint bytes of the header are filled in by the caller.
 */
function additionalData(header: Buffer, context: SealContext): Buffer {
  const parts = [context.table, context.primaryKey, context.column];
  const size = parts.reduce((sum, part) => sum + 4 + Buffer.byteLength(part, 'utf8'), HEADER_BYTES);
  const aad = Buffer.allocUnsafe(size);
  header.copy(aad, 0, 0, HEADER_BYTES);
  let offset = HEADER_BYTES;
  for (const part of parts) {
    const length = aad.write(part, offset + 4, 'utf8');
    aad.writeUInt32BE(length, offset);
    offset += 4 + length;
  }
  return aad;
}

function fingerprintOf(context: Buffer): Buffer {
  return hash('sha256', context, 'buffer').subarray(0, 4);
}

// Nonces are drawn from the CSPRNG in 4 KiB refills: one randomBytes call per seal costs more
// than the AES-GCM of a small value. Each nonce is still 96 fresh random bits, used once.
const noncePool = Buffer.alloc(4096);
let noncePoolOffset = noncePool.length;

function nextNonce(): Buffer {
  if (noncePoolOffset + NONCE_BYTES > noncePool.length) {
    randomFillSync(noncePool);
    noncePoolOffset = 0;
  }
  const nonce = noncePool.subarray(noncePoolOffset, noncePoolOffset + NONCE_BYTES);
  noncePoolOffset += NONCE_BYTES;
  return nonce;
}

export function isSealed(value: Buffer): boolean {
  return value.length >= SEALED_OVERHEAD && value[0] === SEALED_FORMAT_V1;
}

export function readHeader(sealed: Buffer): SealedHeader {
  if (sealed.length < SEALED_OVERHEAD || sealed[0] !== SEALED_FORMAT_V1) {
    throw new BulwarkError(
      'SealedFormatUnsupported',
      `stored value is not in a sealed format this version understands (first byte ${sealed[0] ?? 'missing'}, ${sealed.length} bytes)`,
    );
  }
  return {
    format: sealed[0],
    keyNumber: sealed.readUInt32BE(1),
    keyVersion: sealed.readUInt16BE(5),
    dataKeyNumber: sealed.readUInt32BE(7),
    nonce: sealed.subarray(11, 23),
    fingerprint: sealed.subarray(23, 27),
  };
}

export function sealWithDataKey(
  dataKey: Buffer,
  ids: { keyNumber: number; keyVersion: number; dataKeyNumber: number },
  plaintext: Buffer,
  context: SealContext,
): Buffer {
  const out = Buffer.allocUnsafe(HEADER_BYTES + plaintext.length + TAG_BYTES);
  out[0] = SEALED_FORMAT_V1;
  out.writeUInt32BE(ids.keyNumber, 1);
  out.writeUInt16BE(ids.keyVersion, 5);
  out.writeUInt32BE(ids.dataKeyNumber, 7);
  const nonce = nextNonce();
  nonce.copy(out, 11);
  const aad = additionalData(out, context);
  const fingerprint = fingerprintOf(aad.subarray(HEADER_BYTES));
  fingerprint.copy(out, 23);
  fingerprint.copy(aad, 23);
  const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
  cipher.setAAD(aad);
  const written = cipher.update(plaintext).copy(out, HEADER_BYTES);
  cipher.final();
  cipher.getAuthTag().copy(out, HEADER_BYTES + written);
  return out;
}

export function openWithDataKey(
  dataKey: Buffer,
  sealed: Buffer,
  header: SealedHeader,
  context: SealContext,
): Buffer {
  const aad = additionalData(sealed, context);
  if (!fingerprintOf(aad.subarray(HEADER_BYTES)).equals(header.fingerprint)) {
    throw new BulwarkError(
      'SealedContextMismatch',
      `sealed value in ${context.table}.${context.column} was sealed for another record or column; refusing to open it`,
      { table: context.table, column: context.column },
    );
  }
  const decipher = createDecipheriv('aes-256-gcm', dataKey, header.nonce);
  decipher.setAAD(aad);
  decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(sealed.subarray(HEADER_BYTES, sealed.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new BulwarkError(
      'SealedValueTampered',
      `sealed value in ${context.table}.${context.column} failed authentication: it was altered after it was written`,
      { table: context.table, column: context.column },
    );
  }
}
