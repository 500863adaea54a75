import { createPublicKey, type KeyObject } from 'node:crypto';
import type { StoreReader } from '../store/index.js';
import { publicKeyFingerprint } from './chain.js';
import { exportEvents, readExportDigests, readStoredDigests, storedEvents } from './export.js';
import { publicSigningKeys } from './signing-keys.js';
import {
  missingExpectedDigests,
  StreamVerifier,
  type Finding,
  type StoredDigest,
  type VerifyOptions,
  type VerifyReport,
} from './verify.js';

export interface VerifyRequest {
  /** PEM public keys the operator trusts; none: the keys held beside the trail are used. */
  publicKeyPems: string[];
  from?: number;
  to?: number;
  expectDigests: string[];
  now: number;
  onProgress?: (events: number) => void;
}

export type TrailVerification = VerifyReport & {
  /** Whether the keys came from the operator or from the trail itself (which proves less). */
  keysFrom: 'operator' | 'trail';
};

function keyMap(pems: string[]): Map<string, KeyObject> {
  return new Map(pems.map((pem) => [publicKeyFingerprint(pem), createPublicKey(pem)]));
}

function optionsOf(request: VerifyRequest, keys: Map<string, KeyObject>): VerifyOptions {
  return {
    publicKeys: keys,
    expectDigests: request.expectDigests,
    now: request.now,
    ...(request.from !== undefined ? { from: request.from } : {}),
    ...(request.to !== undefined ? { to: request.to } : {}),
  };
}

function sortedBySeq(digests: Map<string, StoredDigest[]>): void {
  for (const list of digests.values()) list.sort((a, b) => a.digest.digestSeq - b.digest.digestSeq);
}

function reportOf(
  findings: Finding[],
  verifiers: StreamVerifier[],
  keysFrom: TrailVerification['keysFrom'],
): TrailVerification {
  return {
    findings,
    streams: verifiers.map((verifier) => verifier.summary),
    intact: !findings.some((finding) => finding.severity === 'invalid'),
    keysFrom,
  };
}

/** Verifies the trail in a store (the data dir's database), stream by stream. */
export async function verifyStoredTrail(
  store: StoreReader,
  request: VerifyRequest,
): Promise<TrailVerification> {
  const keysFrom = request.publicKeyPems.length ? 'operator' : 'trail';
  const pems = request.publicKeyPems.length
    ? request.publicKeyPems
    : (await publicSigningKeys(store)).map((key) => key.publicKeyPem);
  const options = optionsOf(request, keyMap(pems));
  const trail = await readStoredDigests(store);
  const findings: Finding[] = trail.unparseable.map(({ stream, digestSeq }) => ({
    severity: 'invalid',
    kind: 'digest-modified',
    stream,
    digestSeq,
    message: `Digest ${stream}/${digestSeq} INVALID: invalid format (not JSON)`,
  }));
  sortedBySeq(trail.digests);
  findings.push(...missingExpectedDigests(request.expectDigests, trail.digests));
  const verifiers: StreamVerifier[] = [];
  let checked = 0;
  for (const stream of trail.streams) {
    const verifier = new StreamVerifier(stream, trail.digests.get(stream) ?? [], options, findings);
    verifiers.push(verifier);
    verifier.begin();
    for await (const event of storedEvents(store, stream, 1)) {
      verifier.check(event);
      checked += 1;
      if (checked % 10_000 === 0) request.onProgress?.(checked);
    }
    verifier.finish();
  }
  return reportOf(findings, verifiers, keysFrom);
}

/** Verifies an export file with nothing but the file and, ideally, the operator's public keys. */
export async function verifyExportFile(
  file: string,
  request: VerifyRequest,
): Promise<TrailVerification> {
  const exported = await readExportDigests(file);
  const findings: Finding[] = exported.malformed.map((line) => ({
    severity: 'invalid',
    kind: 'event-modified',
    stream: '*',
    message: `Line ${line} INVALID: invalid format (not a JSON object)`,
  }));
  if (!exported.header)
    findings.push({
      severity: 'invalid',
      kind: 'digest-modified',
      stream: '*',
      message:
        'Export INVALID: no header line (not a Bulwark audit export, or its first line was removed)',
    });
  const keysFrom = request.publicKeyPems.length ? 'operator' : 'trail';
  const pems = request.publicKeyPems.length
    ? request.publicKeyPems
    : (exported.header?.publicKeys ?? []).map((key) => key.publicKeyPem);
  const exportedAt = exported.header ? Date.parse(exported.header.exportedAt) : NaN;
  const options = optionsOf(
    { ...request, now: Number.isNaN(exportedAt) ? request.now : exportedAt },
    keyMap(pems),
  );
  findings.push(...missingExpectedDigests(request.expectDigests, exported.digests));
  // Digests stay in file order: a reordered digest is a finding, not something to sort away.
  const verifiers = new Map<string, StreamVerifier>();
  for (const [stream, digests] of exported.digests) {
    const verifier = new StreamVerifier(stream, digests, options, findings);
    verifier.begin();
    verifiers.set(stream, verifier);
  }
  let checked = 0;
  for await (const item of exportEvents(file)) {
    if ('malformed' in item) {
      findings.push({
        severity: 'invalid',
        kind: 'event-modified',
        stream: '*',
        message: `Line ${item.malformed} INVALID: an event without stream and seq`,
      });
      continue;
    }
    let verifier = verifiers.get(item.stream);
    if (!verifier) {
      verifier = new StreamVerifier(item.stream, [], options, findings);
      verifier.begin();
      verifiers.set(item.stream, verifier);
    }
    verifier.check(item.event);
    checked += 1;
    if (checked % 10_000 === 0) request.onProgress?.(checked);
  }
  for (const verifier of verifiers.values()) verifier.finish();
  return reportOf(findings, [...verifiers.values()], keysFrom);
}
