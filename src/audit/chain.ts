import { createHash, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import canonicalize from 'canonicalize';
import type { AuditRecord } from './record.js';

/**
 * The pure rules of the trail's tamper evidence, shared by the writer and the offline verifier
 * (which may run in another process, on an export, with nothing but a public key):
 * - each event's chain hash is SHA-256(previous chain hash ‖ RFC 8785 canonical JSON of its
 *   record), the first event of a stream following 32 zero bytes;
 * - a digest lists the chain hashes of the events it covers and is signed with ECDSA P-256 over
 *   a string shaped like CloudTrail's: end time, location, digest hash, previous signature.
 */

export const GENESIS_HASH = '0'.repeat(64);
export const SIGNATURE_ALGORITHM = 'SHA256withECDSA';
export const DIGEST_VERSION = '1.0';

export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('internal: value has no canonical JSON form');
  return text;
}

export function chainHashOf(previousHash: string, record: AuditRecord): string {
  return createHash('sha256')
    .update(Buffer.from(previousHash, 'hex'))
    .update(canonicalJson(record), 'utf8')
    .digest('hex');
}

export type DigestReason = 'interval' | 'shutdown' | 'startup';

/** A signed summary of one stream's events since the previous digest. */
export interface Digest {
  digestVersion: string;
  awsAccountId: string;
  stream: string;
  /** Gapless within the stream, from 1. */
  digestSeq: number;
  digestStartTime: string;
  digestEndTime: string;
  /** Why it was written: the interval, the server stopping, or a server starting. */
  reason: DigestReason;
  /** The writer's interval: the next digest is due this many seconds after this one. */
  digestIntervalSeconds: number;
  /** The events covered: seq from firstEventSeq to lastEventSeq; none when the first exceeds the last. */
  firstEventSeq: number;
  lastEventSeq: number;
  /** The chain hash the first covered event follows. */
  previousChainHash: string;
  /** The chain hash of every covered event, in order: 32 bytes each, base64. */
  eventChainHashes: string;
  oldestEventTime: string | null;
  newestEventTime: string | null;
  previousDigestSeq: number | null;
  previousDigestHashValue: string | null;
  previousDigestSignature: string | null;
  digestPublicKeyFingerprint: string;
  digestSignatureAlgorithm: string;
}

export function digestLocation(stream: string, digestSeq: number): string {
  return `bulwark-audit/${stream}/digest/${digestSeq}`;
}

export function digestHashOf(digest: Digest): string {
  return createHash('sha256').update(canonicalJson(digest), 'utf8').digest('hex');
}

function stringToSign(digest: Digest): string {
  return [
    digest.digestEndTime,
    digestLocation(digest.stream, digest.digestSeq),
    digestHashOf(digest),
    digest.previousDigestSignature ?? 'null',
  ].join('\n');
}

export function signDigest(digest: Digest, privateKey: KeyObject): string {
  return sign('sha256', Buffer.from(stringToSign(digest), 'utf8'), privateKey).toString('hex');
}

export function digestSignatureValid(
  digest: Digest,
  signatureHex: string,
  publicKey: KeyObject,
): boolean {
  try {
    return verify(
      'sha256',
      Buffer.from(stringToSign(digest), 'utf8'),
      publicKey,
      Buffer.from(signatureHex, 'hex'),
    );
  } catch {
    return false;
  }
}

/** 32 hex characters of the SHA-256 of the key's SubjectPublicKeyInfo, as CloudTrail shows 32. */
export function publicKeyFingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('hex').slice(0, 32);
}

export function chainHashesOf(base64: string): string[] {
  const bytes = Buffer.from(base64, 'base64');
  const hashes: string[] = [];
  for (let offset = 0; offset + 32 <= bytes.length; offset += 32)
    hashes.push(bytes.subarray(offset, offset + 32).toString('hex'));
  return hashes;
}

export function packChainHashes(hashes: string[]): string {
  return Buffer.concat(hashes.map((hash) => Buffer.from(hash, 'hex'))).toString('base64');
}
