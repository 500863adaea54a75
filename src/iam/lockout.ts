import { BulwarkError } from '../errors.js';
import type { StoreWriter } from '../store/index.js';
import {
  IAM_CREDENTIAL_FAILURES_TABLE,
  IAM_CREDENTIAL_LOCKS_TABLE,
} from './credential-migrations.js';

/**
 * Brute-force protection for passwords and MFA codes (`iam.lockout`). Each credential counts its
 * consecutive failures; a success clears them. From `failuresBeforeDelay` failures on, the next
 * attempt must wait `firstDelayMs`, doubling with each further failure up to `maxDelayMs`; at
 * `failuresBeforeLock` failures the credential is locked for `lockDurationMs`. The count does not
 * reset when a lock ends: the first failure after it locks again, so an attacker gets one guess
 * per lock period. Attempts refused while waiting are not checked and not counted.
 */
export interface LockoutPolicy {
  failuresBeforeDelay: number;
  firstDelayMs: number;
  maxDelayMs: number;
  failuresBeforeLock: number;
  lockDurationMs: number;
}

/** One credential's consecutive failures, and until when its attempts are refused (ms). */
export interface FailureRecord {
  failures: number;
  blockedUntil: number;
}

export const NO_FAILURES: FailureRecord = { failures: 0, blockedUntil: 0 };

/** The record after one more failure at `now`. */
export function afterFailure(
  policy: LockoutPolicy,
  record: FailureRecord,
  now: number,
): FailureRecord {
  const failures = record.failures + 1;
  if (failures >= policy.failuresBeforeLock)
    return { failures, blockedUntil: now + policy.lockDurationMs };
  if (failures >= policy.failuresBeforeDelay) {
    const doublings = Math.min(failures - policy.failuresBeforeDelay, 30);
    const delay = Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** doublings);
    return { failures, blockedUntil: now + delay };
  }
  return { failures, blockedUntil: 0 };
}

/** Whether this failure is the one that (re)locked the credential, for the operator's log. */
export function isLock(policy: LockoutPolicy, record: FailureRecord): boolean {
  return record.failures >= policy.failuresBeforeLock;
}

/** AWS's throttling error, telling the client when to come back and nothing else. */
export function tooManyAttempts(blockedUntil: number, now: number): BulwarkError {
  const retryAfterSeconds = Math.max(1, Math.ceil((blockedUntil - now) / 1000));
  return new BulwarkError(
    'Throttling',
    `Too many failed attempts; try again in ${retryAfterSeconds} s.`,
    { retryAfterSeconds },
  );
}

/**
 * The failure records of stored credentials, read and written inside the caller's transaction.
 * What the transaction writes must rest on what it read after `lock` (or `lockForAttempt`).
 */
export class CredentialFailures {
  constructor(private readonly policy: LockoutPolicy) {}

  /** Makes other transactions on `subject` wait until this one ends (see IAM_CREDENTIAL_LOCKS_TABLE). */
  async lock(tx: StoreWriter, subject: string, now: number): Promise<void> {
    await tx.put(IAM_CREDENTIAL_LOCKS_TABLE, { subject, acquired_at: now });
  }

  /**
   * The credential's record for an attempt at `now`, read under its lock; but a credential
   * blocked already is told by a read alone, so that refused attempts write nothing.
   */
  async lockForAttempt(tx: StoreWriter, subject: string, now: number): Promise<FailureRecord> {
    const before = await this.read(tx, subject);
    if (before.blockedUntil > now) return before;
    await this.lock(tx, subject, now);
    return this.read(tx, subject);
  }

  async read(tx: StoreWriter, subject: string): Promise<FailureRecord> {
    const row = await tx.get(IAM_CREDENTIAL_FAILURES_TABLE, { subject });
    return row
      ? { failures: row.failures as number, blockedUntil: row.blocked_until as number }
      : NO_FAILURES;
  }

  async recordFailure(
    tx: StoreWriter,
    subject: string,
    record: FailureRecord,
    now: number,
  ): Promise<FailureRecord> {
    const next = afterFailure(this.policy, record, now);
    await tx.put(IAM_CREDENTIAL_FAILURES_TABLE, {
      subject,
      failures: next.failures,
      blocked_until: next.blockedUntil,
    });
    return next;
  }

  async clear(tx: StoreWriter, subject: string): Promise<void> {
    await tx.delete(IAM_CREDENTIAL_FAILURES_TABLE, { subject });
  }

  /** Drops every trace of a credential that is deleted. */
  async forget(tx: StoreWriter, subject: string): Promise<void> {
    await tx.delete(IAM_CREDENTIAL_FAILURES_TABLE, { subject });
    await tx.delete(IAM_CREDENTIAL_LOCKS_TABLE, { subject });
  }
}

/** Entries kept by the in-memory limiters; beyond it the oldest is dropped. */
const MAX_TRACKED = 10_000;

/** A Map that forgets its oldest entry when full, so no client can grow it without bound. */
function boundedSet<K, V>(map: Map<K, V>, key: K, value: V): void {
  map.delete(key);
  if (map.size >= MAX_TRACKED) map.delete(map.keys().next().value as K);
  map.set(key, value);
}

/**
 * Failure records for names with no stored credential (an unknown user, a user without a
 * password), kept in memory so that they are throttled exactly like real ones and lockout does
 * not tell which user names exist.
 */
export class UnknownCredentialFailures {
  private readonly records = new Map<string, FailureRecord>();

  constructor(private readonly policy: LockoutPolicy) {}

  blockedUntil(subject: string, now: number): number | undefined {
    const until = this.records.get(subject)?.blockedUntil ?? 0;
    return until > now ? until : undefined;
  }

  recordFailure(subject: string, now: number): void {
    boundedSet(
      this.records,
      subject,
      afterFailure(this.policy, this.records.get(subject) ?? NO_FAILURES, now),
    );
  }
}

export interface SourceLimit {
  /** Failed sign-ins one source address may make per window; then it waits for the next. */
  failuresPerWindow: number;
  windowMs: number;
}

/**
 * Failed sign-ins per source address over fixed windows, in memory (per process): this stops
 * one address trying many user names, which per-user lockout cannot see. An attempt is counted
 * when it starts and refunded if it succeeds, so concurrent attempts cannot slip past the limit.
 */
export class SourceFailures {
  private readonly windows = new Map<string, { start: number; failures: number }>();

  constructor(private readonly limit: SourceLimit) {}

  /** Counts an attempt from `source`; throws Throttling when its window has no room left. */
  reserve(source: string, now: number): void {
    let window = this.windows.get(source);
    if (!window || now >= window.start + this.limit.windowMs) window = { start: now, failures: 0 };
    if (window.failures >= this.limit.failuresPerWindow)
      throw tooManyAttempts(window.start + this.limit.windowMs, now);
    boundedSet(this.windows, source, { start: window.start, failures: window.failures + 1 });
  }

  /** Takes back a reserved attempt that did not fail. */
  refund(source: string): void {
    const window = this.windows.get(source);
    if (window && window.failures > 0) window.failures -= 1;
  }
}
