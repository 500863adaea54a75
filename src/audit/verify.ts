import type { KeyObject } from 'node:crypto';
import {
  chainHashesOf,
  chainHashOf,
  digestHashOf,
  digestLocation,
  digestSignatureValid,
  type Digest,
} from './chain.js';
import type { AuditRecord } from './record.js';
import { lastChainHashOf, lookupColumnsOf } from './trail.js';

/**
 * The offline verifier's rules, independent of where the trail is read from (the store, or an
 * export file): a source hands each stream's digests, then its events in order, and the
 * verifier reports every break it finds, naming the event or digest.
 */

export interface StoredDigest {
  digest: Digest;
  /** The hash stored beside the digest (the store's column, or the export's field). */
  digestHash: string;
  signature: string;
}

export interface StoredEvent {
  /** Where the event sits: the store's key, or the record's own seq in an export. */
  seq: number;
  /** The chain hash stored beside the record. */
  chainHash: string;
  /** Absent when the sealed record could not be opened. */
  record?: AuditRecord;
  unreadable?: string;
  /** The store's lookup columns, checked against the record. */
  columns?: Record<string, unknown>;
}

export type FindingKind =
  | 'event-modified'
  | 'event-deleted'
  | 'event-inserted'
  | 'event-reordered'
  | 'event-unreadable'
  | 'event-uncovered'
  | 'digest-modified'
  | 'digest-replaced'
  | 'digest-deleted'
  | 'digest-reordered'
  | 'digest-signature'
  | 'digest-unknown-key'
  | 'head-missing'
  | 'expected-digest-missing'
  | 'pruned-start';

export interface Finding {
  /** `invalid` breaks the trail (exit 1); `note` is informational. */
  severity: 'invalid' | 'note';
  kind: FindingKind;
  stream: string;
  seq?: number;
  digestSeq?: number;
  message: string;
}

export interface StreamSummary {
  stream: string;
  digests: number;
  digestsValid: number;
  events: number;
  eventsValid: number;
  /** Events newer than the newest digest, not yet signed. */
  eventsUncovered: number;
  newestDigest?: { digestSeq: number; digestEndTime: string; digestHashValue: string };
}

export interface VerifyOptions {
  /** The public keys trusted, by fingerprint. */
  publicKeys: Map<string, KeyObject>;
  /** Epoch ms: only digests overlapping [from, to], and the events they cover, are checked. */
  from?: number;
  to?: number;
  /** Digest hashes the operator kept elsewhere; each must be found in the trail. */
  expectDigests: string[];
  /** The time the trail is judged at (now; an export's time for an export). */
  now: number;
}

export interface VerifyReport {
  findings: Finding[];
  streams: StreamSummary[];
  intact: boolean;
}

/** Slack for a digest that is due but not written yet (a busy store, a slow clock). */
const DUE_SLACK_MS = 60_000;

/** Whether a digest's span overlaps [from, to] (either bound optional). */
export function digestOverlaps(digest: Digest, options: { from?: number; to?: number }): boolean {
  if (options.to !== undefined && Date.parse(digest.digestStartTime) > options.to) return false;
  if (options.from !== undefined && Date.parse(digest.digestEndTime) < options.from) return false;
  return true;
}

/** Checks one stream: its digests first (`begin`), then each event in order, then `finish`. */
export class StreamVerifier {
  readonly summary: StreamSummary;
  private readonly findings: Finding[];
  private readonly options: VerifyOptions;
  private readonly stream: string;
  private readonly digests: StoredDigest[];
  /** seq → [chain hash signed for it, the digest that signed it]. */
  private readonly signedHashes = new Map<number, [string, number]>();
  /** The seq range events are checked in, from the digests in range. */
  private firstSeq = 1;
  private lastSignedSeq = 0;
  private checkTail = true;
  private expectedSeq = 1;
  private previousHash: string | undefined;
  private highestSeen = 0;
  /** The chain hash the first checked event follows, as signed. */
  private anchorHash: string | undefined;
  private renumbering: { offset: number; first: number; last: number } | undefined;

  constructor(
    stream: string,
    digests: StoredDigest[],
    options: VerifyOptions,
    findings: Finding[],
  ) {
    this.stream = stream;
    this.digests = digests;
    this.options = options;
    this.findings = findings;
    this.summary = {
      stream,
      digests: 0,
      digestsValid: 0,
      events: 0,
      eventsValid: 0,
      eventsUncovered: 0,
    };
  }

  private report(finding: Omit<Finding, 'stream'>): void {
    this.findings.push({ stream: this.stream, ...finding });
  }

  /** Checks every digest: order, links, hashes, signatures; and learns what events they sign. */
  begin(): void {
    let previous: StoredDigest | undefined;
    const selected: StoredDigest[] = [];
    for (const stored of this.digests) {
      const { digest } = stored;
      const location = digestLocation(this.stream, digest.digestSeq);
      let valid = true;
      const invalid = (kind: FindingKind, message: string) => {
        valid = false;
        this.report({ severity: 'invalid', kind, digestSeq: digest.digestSeq, message });
      };
      const computedHash = digestHashOf(digest);
      if (computedHash !== stored.digestHash)
        invalid(
          'digest-modified',
          `Digest ${location} INVALID: modified (its content does not match its hash)`,
        );
      if (previous === undefined) {
        if (digest.previousDigestSeq !== null)
          this.report({
            severity: 'note',
            kind: 'pruned-start',
            digestSeq: digest.digestSeq,
            message: `Stream ${this.stream} starts at digest ${digest.digestSeq}, event ${digest.firstEventSeq}: earlier digests and events were pruned (retention) or removed`,
          });
      } else {
        const expected = previous.digest.digestSeq + 1;
        if (digest.digestSeq < expected)
          invalid(
            'digest-reordered',
            `Digest ${location} INVALID: out of order (after digest ${previous.digest.digestSeq})`,
          );
        else if (digest.digestSeq > expected)
          invalid(
            'digest-deleted',
            `Digest ${digestLocation(this.stream, expected)}${digest.digestSeq - 1 > expected ? ` to ${digest.digestSeq - 1}` : ''} INVALID: missing (deleted); the chain resumes at digest ${digest.digestSeq}`,
          );
        else if (
          digest.previousDigestHashValue !== digestHashOf(previous.digest) ||
          digest.previousDigestSignature !== previous.signature
        )
          invalid(
            'digest-replaced',
            `Digest ${location} INVALID: does not follow digest ${previous.digest.digestSeq} (one of the two was replaced)`,
          );
        else if (
          digest.firstEventSeq !== previous.digest.lastEventSeq + 1 ||
          digest.previousChainHash !== lastChainHashOf(previous.digest)
        )
          invalid(
            'digest-replaced',
            `Digest ${location} INVALID: its events do not continue digest ${previous.digest.digestSeq}'s`,
          );
      }
      const key = this.options.publicKeys.get(digest.digestPublicKeyFingerprint);
      if (!key)
        invalid(
          'digest-unknown-key',
          `Digest ${location} INVALID: signed by key ${digest.digestPublicKeyFingerprint}, which is not a trusted public key`,
        );
      else if (!digestSignatureValid(digest, stored.signature, key))
        invalid('digest-signature', `Digest ${location} INVALID: signature verification failed`);
      const hashes = chainHashesOf(digest.eventChainHashes);
      if (hashes.length !== Math.max(0, digest.lastEventSeq - digest.firstEventSeq + 1))
        invalid(
          'digest-modified',
          `Digest ${location} INVALID: lists ${hashes.length} event hashes for events ${digest.firstEventSeq} to ${digest.lastEventSeq}`,
        );
      if (digestOverlaps(digest, this.options)) {
        this.summary.digests += 1;
        if (valid) this.summary.digestsValid += 1;
        selected.push(stored);
        hashes.forEach((hash, index) =>
          this.signedHashes.set(digest.firstEventSeq + index, [hash, digest.digestSeq]),
        );
      }
      previous = stored;
    }
    const newest = previous?.digest;
    if (newest)
      this.summary.newestDigest = {
        digestSeq: newest.digestSeq,
        digestEndTime: newest.digestEndTime,
        digestHashValue: digestHashOf(newest),
      };
    this.checkHead(newest);
    const first = selected[0]?.digest;
    const last = selected[selected.length - 1]?.digest;
    this.firstSeq = first ? first.firstEventSeq : (newest?.lastEventSeq ?? 0) + 1;
    this.lastSignedSeq = last ? last.lastEventSeq : this.firstSeq - 1;
    this.previousHash = first?.previousChainHash ?? (newest ? lastChainHashOf(newest) : undefined);
    this.anchorHash = this.previousHash;
    this.expectedSeq = this.firstSeq;
    // Events newer than every digest are checked only when the range reaches the present.
    this.checkTail =
      last === newest && (this.options.to === undefined || this.options.to >= this.options.now);
  }

  /** A newest digest that is overdue and not a shutdown digest means the newest were removed. */
  private checkHead(newest: Digest | undefined): void {
    if (!newest || newest.reason === 'shutdown' || newest.digestIntervalSeconds === 0) return;
    const intervalMs = newest.digestIntervalSeconds * 1000;
    const due =
      Date.parse(newest.digestEndTime) + 2 * intervalMs + Math.min(DUE_SLACK_MS, intervalMs);
    if (this.options.now > due)
      this.report({
        severity: 'invalid',
        kind: 'head-missing',
        digestSeq: newest.digestSeq,
        message: `Digest ${digestLocation(this.stream, newest.digestSeq)} is the newest, ended ${newest.digestEndTime}, and is not a shutdown digest: INVALID: chain head missing (newer digests removed, or the server stopped without its shutdown digest and has not started since)`,
      });
  }

  /** Whether this event is one the range asks to check. */
  wants(seq: number): boolean {
    return seq >= this.firstSeq && (seq <= this.lastSignedSeq || this.checkTail);
  }

  check(event: StoredEvent): void {
    const { seq } = event;
    if (!this.wants(seq)) return;
    const invalid = (kind: FindingKind, message: string) =>
      this.report({
        severity: 'invalid',
        kind,
        seq,
        message: `Event ${this.stream}/${seq} INVALID: ${message}`,
      });
    if (seq < this.expectedSeq) {
      invalid(
        seq <= this.highestSeen ? 'event-inserted' : 'event-reordered',
        `appears after event ${this.highestSeen} (inserted, duplicated or reordered)`,
      );
      return;
    }
    this.summary.events += 1;
    if (seq > this.expectedSeq) {
      const last = seq - 1;
      this.report({
        severity: 'invalid',
        kind: 'event-deleted',
        seq: this.expectedSeq,
        message: `Event ${this.stream}/${this.expectedSeq}${last > this.expectedSeq ? ` to ${last}` : ''} INVALID: missing (deleted)`,
      });
      const signed = this.signedHashes.get(last);
      this.previousHash = signed ? signed[0] : undefined;
    }
    this.expectedSeq = seq + 1;
    this.highestSeen = Math.max(this.highestSeen, seq);
    const signed = this.signedHashes.get(seq);
    if (!signed) this.summary.eventsUncovered += 1;
    const resync = () => {
      this.previousHash = signed ? signed[0] : event.chainHash;
    };
    const { record } = event;
    if (!record) {
      invalid(
        'event-unreadable',
        `its sealed record cannot be opened (modified, or its key is gone): ${event.unreadable ?? 'unreadable'}`,
      );
      resync();
      return;
    }
    if (record.seq !== seq || record.stream !== this.stream) {
      invalid(
        'event-reordered',
        `its record is event ${record.stream}/${record.seq} (moved or renumbered)`,
      );
      resync();
      return;
    }
    const computed =
      this.previousHash === undefined ? undefined : chainHashOf(this.previousHash, record);
    if (signed && computed !== signed[0] && this.renumbered(record, seq)) return;
    if (signed && computed !== signed[0]) {
      invalid(
        'event-modified',
        `modified (does not match the hash signed in digest ${digestLocation(this.stream, signed[1])})`,
      );
      resync();
      return;
    }
    if (!signed && computed !== undefined && computed !== event.chainHash) {
      invalid('event-modified', 'modified (does not hash to its chain hash)');
      resync();
      return;
    }
    const columnProblem = event.columns && this.columnMismatch(record, event.columns);
    if (columnProblem) {
      invalid('event-modified', `its lookup columns were altered: ${columnProblem}`);
      resync();
      return;
    }
    this.previousHash = computed ?? event.chainHash;
    this.summary.eventsValid += 1;
  }

  /** The chain hash signed for `seq`, or the one the first checked event follows. */
  private signedAt(seq: number): string | undefined {
    return seq === this.firstSeq - 1 ? this.anchorHash : this.signedHashes.get(seq)?.[0];
  }

  /** Whether `record` is the event signed at `originalSeq`, renumbered. */
  private isSignedEvent(record: AuditRecord, originalSeq: number): boolean {
    const previous = this.signedAt(originalSeq - 1);
    const expected = this.signedAt(originalSeq);
    return (
      previous !== undefined &&
      expected !== undefined &&
      chainHashOf(previous, { ...record, seq: originalSeq }) === expected
    );
  }

  /**
   * An event that does not match its signed hash may be a signed event renumbered after an
   * insertion or a deletion before it: then the break is named there, and the renumbered run
   * is reported once.
   */
  private renumbered(record: AuditRecord, seq: number): boolean {
    const run = this.renumbering;
    if (run && run.last === seq - 1 && this.isSignedEvent(record, seq + run.offset)) {
      run.last = seq;
      return true;
    }
    this.closeRenumbering();
    for (const offset of [1, -1]) {
      if (!this.isSignedEvent(record, seq + offset)) continue;
      if (offset === 1) {
        this.report({
          severity: 'invalid',
          kind: 'event-deleted',
          seq,
          message: `Event ${this.stream}/${seq} INVALID: deleted (the events signed after it were renumbered down)`,
        });
      } else {
        const forged = this.findings.findLast(
          (finding) => finding.stream === this.stream && finding.seq === seq - 1,
        );
        if (forged) {
          forged.kind = 'event-inserted';
          forged.message = `Event ${this.stream}/${seq - 1} INVALID: inserted (not in the signed digest; the events after it were renumbered up)`;
        }
      }
      this.renumbering = { offset, first: seq, last: seq };
      return true;
    }
    return false;
  }

  private closeRenumbering(): void {
    const run = this.renumbering;
    if (!run) return;
    this.renumbering = undefined;
    this.report({
      severity: 'invalid',
      kind: 'event-reordered',
      seq: run.first,
      message: `Event ${this.stream}/${run.first}${run.last > run.first ? ` to ${run.last}` : ''} INVALID: renumbered (signed as ${run.first + run.offset}${run.last > run.first ? ` to ${run.last + run.offset}` : ''})`,
    });
  }

  private columnMismatch(
    record: AuditRecord,
    columns: Record<string, unknown>,
  ): string | undefined {
    for (const [column, value] of Object.entries(lookupColumnsOf(record)))
      if (columns[column] !== value)
        return `${column} is ${JSON.stringify(columns[column])}, the record says ${JSON.stringify(value)}`;
    return undefined;
  }

  /** Reports events signed by a digest that never came. */
  finish(): void {
    this.closeRenumbering();
    if (this.expectedSeq <= this.lastSignedSeq) {
      const signed = this.signedHashes.get(this.expectedSeq);
      this.report({
        severity: 'invalid',
        kind: 'event-deleted',
        seq: this.expectedSeq,
        message: `Event ${this.stream}/${this.expectedSeq}${this.lastSignedSeq > this.expectedSeq ? ` to ${this.lastSignedSeq}` : ''} INVALID: missing (deleted), though signed in digest ${digestLocation(this.stream, signed?.[1] ?? 0)}`,
      });
    }
    if (this.summary.eventsUncovered > 0)
      this.report({
        severity: 'note',
        kind: 'event-uncovered',
        message: `Stream ${this.stream}: ${this.summary.eventsUncovered} events are newer than the newest digest and not signed yet (the next digest signs them)`,
      });
  }
}

/** Expected digest hashes that no stream holds: the newest digests were removed or replaced. */
export function missingExpectedDigests(
  expected: string[],
  streams: Map<string, StoredDigest[]>,
): Finding[] {
  const held = new Set<string>();
  for (const digests of streams.values())
    for (const stored of digests) held.add(digestHashOf(stored.digest));
  return expected
    .filter((hash) => !held.has(hash))
    .map((hash) => ({
      severity: 'invalid' as const,
      kind: 'expected-digest-missing' as const,
      stream: '*',
      message: `Expected digest ${hash} INVALID: not found (the newest digests were removed, or that digest was replaced)`,
    }));
}
