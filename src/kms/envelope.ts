import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
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

export function encodeContext(context: SealContext): Buffer {
  const parts = [context.table, context.primaryKey, context.column].map((part) =>
    Buffer.from(part, 'utf8'),
  );
  const out = Buffer.alloc(parts.reduce((sum, part) => sum + 4 + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    offset = out.writeUInt32BE(part.length, offset);
    offset += part.copy(out, offset);
  }
  return out;
}

function fingerprintOf(context: Buffer): Buffer {
  return createHash('sha256').update(context).digest().subarray(0, 4);
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
  const encodedContext = encodeContext(context);
  const out = Buffer.allocUnsafe(HEADER_BYTES + plaintext.length + TAG_BYTES);
  out[0] = SEALED_FORMAT_V1;
  out.writeUInt32BE(ids.keyNumber, 1);
  out.writeUInt16BE(ids.keyVersion, 5);
  out.writeUInt32BE(ids.dataKeyNumber, 7);
  const nonce = randomBytes(NONCE_BYTES);
  nonce.copy(out, 11);
  fingerprintOf(encodedContext).copy(out, 23);
  const cipher = createCipheriv('aes-256-gcm', dataKey, nonce);
  cipher.setAAD(Buffer.concat([out.subarray(0, HEADER_BYTES), encodedContext]));
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
  const encodedContext = encodeContext(context);
  if (!fingerprintOf(encodedContext).equals(header.fingerprint)) {
    throw new BulwarkError(
      'SealedContextMismatch',
      `sealed value in ${context.table}.${context.column} was sealed for another record or column; refusing to open it`,
      { table: context.table, column: context.column },
    );
  }
  const decipher = createDecipheriv('aes-256-gcm', dataKey, header.nonce);
  decipher.setAAD(Buffer.concat([sealed.subarray(0, HEADER_BYTES), encodedContext]));
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
