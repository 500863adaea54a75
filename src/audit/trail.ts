import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { BulwarkError, isBulwarkError } from '../errors.js';
import type { DetectorSet } from '../guard/detector-set.js';
import type { Logger } from '../logs/logger.js';
import { storeBusyError, type Row, type Store, type StoreWriter } from '../store/index.js';
import {
  canonicalJson,
  chainHashOf,
  chainHashesOf,
  DIGEST_VERSION,
  digestHashOf,
  GENESIS_HASH,
  packChainHashes,
  signDigest,
  SIGNATURE_ALGORITHM,
  type Digest,
  type DigestReason,
} from './chain.js';
import { DIGESTS_TABLE, EVENTS_TABLE, HEADS_TABLE } from './migrations.js';
import {
  EVENT_VERSION,
  eventTimeOf,
  hideSecrets,
  redactRecord,
  type AuditEvent,
  type AuditRecord,
  type AuditSink,
} from './record.js';
import { SigningKeys } from './signing-keys.js';

/** Events committed together at most; what queues meanwhile waits for the next commit. */
const MAX_BATCH = 500;
/** Two writers on one stream collide on the events' key; the loser reads the new head and retries. */
const MAX_ATTEMPTS = 20;
const PRUNE_INTERVAL_MS = 60 * 60 * 1000;

export interface AuditTrailOptions {
  store: Store;
  /** The log stream written (`audit.stream`). */
  stream: string;
  account: { region: string; accountId: string };
  logger: Logger;
  /**
   * Write a signed digest this often, and at open and close. Absent: this writer writes no
   * digests (a CLI command's few events are covered by the server's next digest).
   */
  digestIntervalMs?: number;
  /** The digest writer also prunes what is older than this, at open and hourly. */
  retentionMs?: number;
  /** Appended with each digest's sequence, end time and hash: a copy kept outside the store. */
  witnessFile?: string;
  /**
   * `guard.redaction`: what it matches in an event becomes `[REDACTED:<detector>]` before the
   * event is chained and stored (identifiers excepted: see redactRecord).
   */
  redaction?: DetectorSet;
  now?: () => number;
}

interface Pending {
  event: AuditEvent;
  time: number;
  resolve(): void;
  reject(error: Error): void;
}

/** The chain hash an event after `digest` follows. */
export function lastChainHashOf(digest: Digest): string {
  const hashes = chainHashesOf(digest.eventChainHashes);
  return hashes[hashes.length - 1] ?? digest.previousChainHash;
}

/** A record as the store holds it: JSON's view (no undefined fields), secrets hidden, redacted. */
function recordOf(
  event: AuditEvent,
  time: number,
  account: AuditTrailOptions['account'],
  stream: string,
  seq: number,
  redaction: DetectorSet | undefined,
): AuditRecord {
  const record: AuditRecord = {
    eventVersion: EVENT_VERSION,
    ...event,
    userIdentity: { ...event.userIdentity },
    eventTime: eventTimeOf(time),
    awsRegion: account.region,
    requestParameters: (hideSecrets(event.requestParameters ?? null) ?? null) as Row | null,
    responseElements: (hideSecrets(event.responseElements ?? null) ?? null) as Row | null,
    ...(event.additionalEventData
      ? { additionalEventData: hideSecrets(event.additionalEventData) as Row }
      : {}),
    eventID: randomUUID(),
    managementEvent: (event.eventCategory ?? 'Management') === 'Management',
    eventCategory: event.eventCategory ?? 'Management',
    recipientAccountId: account.accountId,
    stream,
    seq,
  };
  const stored = JSON.parse(JSON.stringify(record)) as AuditRecord;
  return redaction ? redactRecord(stored, redaction) : stored;
}

/** The plaintext columns lookups filter on, as a record determines them (verify checks them). */
export function lookupColumnsOf(record: AuditRecord): Row {
  const resource = record.resources?.[0];
  return {
    event_id: record.eventID,
    event_name: record.eventName,
    event_source: record.eventSource,
    read_only: record.readOnly,
    username: record.userIdentity.userName ?? null,
    access_key_id: record.userIdentity.accessKeyId ?? null,
    resource_name: resource?.ARN ?? null,
    resource_type: resource?.type ?? null,
  };
}

/** An event's row: its place in the chain, its time, its lookup columns and the sealed record. */
export function eventRow(record: AuditRecord, time: number, chainHash: string): Row {
  return {
    stream: record.stream,
    seq: record.seq,
    chain_hash: chainHash,
    event_time: time,
    ...lookupColumnsOf(record),
    record,
  };
}

async function retryingCollisions<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (!(isBulwarkError(error) && error.code === 'StoreConstraint') || attempt >= MAX_ATTEMPTS)
        throw error;
    }
  }
}

/**
 * The writer of one audit stream. Each event is chained to its predecessor and committed before
 * `record` resolves; events arriving while a commit runs go together in the next one. A failed
 * commit rejects its callers, so an API call whose event was not written is answered with an
 * error, and `writable` stays false until a later commit succeeds.
 */
export class AuditTrail implements AuditSink {
  readonly stream: string;
  private readonly options: AuditTrailOptions;
  private readonly store: Store;
  private readonly now: () => number;
  private readonly keys: SigningKeys;
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  private failure: Error | undefined;
  private timers: NodeJS.Timeout[] = [];
  private digesting: Promise<unknown> = Promise.resolve();
  private closed = false;

  private constructor(options: AuditTrailOptions) {
    this.options = options;
    this.stream = options.stream;
    this.store = options.store;
    this.now = options.now ?? Date.now;
    this.keys = new SigningKeys(options.store);
  }

  /** Opens the stream; a digest writer signs a startup digest at once, then one per interval. */
  static async open(options: AuditTrailOptions): Promise<AuditTrail> {
    const trail = new AuditTrail(options);
    const interval = options.digestIntervalMs;
    if (interval === undefined) return trail;
    await trail.writeDigest('startup');
    trail.every(interval, () => trail.writeDigest('interval'), 'audit digest could not be written');
    const { retentionMs } = options;
    if (retentionMs !== undefined) {
      await trail.prune(retentionMs);
      trail.every(
        PRUNE_INTERVAL_MS,
        () => trail.prune(retentionMs),
        'audit trail could not be pruned',
      );
    }
    return trail;
  }

  private every(ms: number, work: () => Promise<unknown>, failure: string): void {
    const timer = setInterval(() => {
      work().catch((error: unknown) => this.options.logger.error({ err: error }, failure));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  /** False after an event could not be committed (other than for a busy store), until one is. */
  get writable(): boolean {
    return this.failure === undefined;
  }

  record(event: AuditEvent): Promise<void> {
    if (this.closed)
      return Promise.reject(new BulwarkError('InternalFailure', 'the audit trail is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ event, time: this.now(), resolve, reject });
      this.flush();
    });
  }

  private flush(): void {
    if (this.flushing) return;
    // A commit starts once the requests already read in this turn of the event loop have
    // recorded their events, so that they share it (SQLite's commit blocks the loop meanwhile).
    this.flushing = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => this.drainQueue())
      .finally(() => {
        this.flushing = undefined;
        if (this.queue.length > 0) this.flush();
      });
  }

  private async drainQueue(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      try {
        await retryingCollisions(() => this.store.transaction((tx) => this.append(tx, batch)));
        this.failure = undefined;
        for (const pending of batch) pending.resolve();
      } catch (error) {
        // Another process's write outlasting the wait for it passes: the next commit waits again,
        // and a call meanwhile fails at its own write, so calls are not refused in advance.
        const busy = storeBusyError(error);
        if (!busy) this.failure = error as Error;
        this.options.logger.error(
          { err: error, events: batch.length },
          'audit events could not be written; the calls they record are refused',
        );
        const refusal =
          busy ??
          new BulwarkError(
            'InternalFailure',
            'The audit trail could not record this request, so it was refused. Try again later.',
          );
        for (const pending of batch) pending.reject(refusal);
      }
    }
  }

  private async append(tx: StoreWriter, batch: Pending[]): Promise<void> {
    const head = await tx.get(HEADS_TABLE, { stream: this.stream });
    let seq = (head?.seq as number | undefined) ?? 0;
    let previous = (head?.chain_hash as string | undefined) ?? GENESIS_HASH;
    for (const pending of batch) {
      seq += 1;
      const record = recordOf(
        pending.event,
        pending.time,
        this.options.account,
        this.stream,
        seq,
        this.options.redaction,
      );
      previous = chainHashOf(previous, record);
      await tx.insert(EVENTS_TABLE, eventRow(record, pending.time, previous));
    }
    await tx.put(HEADS_TABLE, { stream: this.stream, seq, chain_hash: previous });
  }

  /** Resolves once every event recorded so far has been committed or refused. */
  async settled(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  /**
   * Signs a digest over the stream's events since the previous digest (none is fine: digests
   * are written on time even when nothing happened, so a missing one shows).
   */
  writeDigest(reason: DigestReason): Promise<Digest> {
    const next = this.digesting.then(async () => {
      await this.settled();
      const key = await this.keys.active();
      const digest = await retryingCollisions(() =>
        this.store.transaction(async (tx) => {
          const digest = await this.nextDigest(tx, reason, key.fingerprint);
          const signature = signDigest(digest, key.privateKey);
          const digestHash = digestHashOf(digest);
          await tx.insert(DIGESTS_TABLE, {
            stream: this.stream,
            digest_seq: digest.digestSeq,
            end_time: Date.parse(digest.digestEndTime),
            digest: canonicalJson(digest),
            digest_hash: digestHash,
            signature,
          });
          return digest;
        }),
      );
      if (this.options.witnessFile)
        appendFileSync(
          this.options.witnessFile,
          `${JSON.stringify({ stream: this.stream, digestSeq: digest.digestSeq, digestEndTime: digest.digestEndTime, digestHashValue: digestHashOf(digest) })}\n`,
          { mode: 0o600 },
        );
      return digest;
    });
    this.digesting = next.catch(() => undefined);
    return next;
  }

  private async nextDigest(
    tx: StoreWriter,
    reason: DigestReason,
    fingerprint: string,
  ): Promise<Digest> {
    const [previousRow] = await tx.list(DIGESTS_TABLE, {
      where: { stream: this.stream },
      newestFirst: true,
      limit: 1,
    });
    const previous = previousRow ? (JSON.parse(previousRow.digest as string) as Digest) : undefined;
    const head = await tx.get(HEADS_TABLE, { stream: this.stream });
    const firstEventSeq = previous ? previous.lastEventSeq + 1 : 1;
    const lastEventSeq = Math.max((head?.seq as number | undefined) ?? 0, firstEventSeq - 1);
    const events =
      lastEventSeq >= firstEventSeq
        ? await tx.list(EVENTS_TABLE, {
            where: { stream: this.stream },
            range: { column: 'seq', from: firstEventSeq, to: lastEventSeq },
            plaintextOnly: true,
          })
        : [];
    const now = this.now();
    const oldest = events[0]?.event_time as number | undefined;
    const newest = events[events.length - 1]?.event_time as number | undefined;
    return {
      digestVersion: DIGEST_VERSION,
      awsAccountId: this.options.account.accountId,
      stream: this.stream,
      digestSeq: previous ? previous.digestSeq + 1 : 1,
      digestStartTime: previous ? previous.digestEndTime : eventTimeOf(oldest ?? now),
      digestEndTime: eventTimeOf(now),
      reason,
      digestIntervalSeconds: Math.round((this.options.digestIntervalMs ?? 0) / 1000),
      firstEventSeq,
      lastEventSeq,
      previousChainHash: previous ? lastChainHashOf(previous) : GENESIS_HASH,
      eventChainHashes: packChainHashes(events.map((event) => event.chain_hash as string)),
      oldestEventTime: oldest !== undefined ? eventTimeOf(oldest) : null,
      newestEventTime: newest !== undefined ? eventTimeOf(newest) : null,
      previousDigestSeq: previous ? previous.digestSeq : null,
      previousDigestHashValue: previousRow ? (previousRow.digest_hash as string) : null,
      previousDigestSignature: previousRow ? (previousRow.signature as string) : null,
      digestPublicKeyFingerprint: fingerprint,
      digestSignatureAlgorithm: SIGNATURE_ALGORITHM,
    };
  }

  /**
   * Deletes the events and digests older than the retention, whole digests at a time and never
   * the newest digest, so the chain stays verifiable from the oldest digest kept. The pruning is
   * itself an event.
   */
  async prune(retentionMs: number): Promise<{ events: number; digests: number }> {
    const cutoff = this.now() - retentionMs;
    const [newest] = await this.store.list(DIGESTS_TABLE, {
      where: { stream: this.stream },
      newestFirst: true,
      limit: 1,
      plaintextOnly: true,
    });
    const [through] = await this.store
      .list(DIGESTS_TABLE, {
        where: { stream: this.stream },
        range: { column: 'end_time', to: cutoff },
        newestFirst: true,
        limit: 2,
        plaintextOnly: true,
      })
      .then((rows) => rows.filter((row) => row.digest_seq !== newest?.digest_seq));
    if (!through) return { events: 0, digests: 0 };
    const digest = JSON.parse(through.digest as string) as Digest;
    const deleted = await this.store.transaction(async (tx) => ({
      events: await tx.deleteWhere(
        EVENTS_TABLE,
        { stream: this.stream },
        { column: 'seq', to: digest.lastEventSeq },
      ),
      digests: await tx.deleteWhere(
        DIGESTS_TABLE,
        { stream: this.stream },
        { column: 'digest_seq', to: digest.digestSeq },
      ),
    }));
    await this.record({
      userIdentity: { type: 'AWSService', invokedBy: 'bulwark' },
      eventSource: 'cloudtrail.amazonaws.com',
      eventName: 'PruneAuditTrail',
      sourceIPAddress: 'bulwark',
      userAgent: 'bulwark',
      readOnly: false,
      eventType: 'AwsServiceEvent',
      additionalEventData: {
        retentionDays: Math.round(retentionMs / 86_400_000),
        throughDigestSeq: digest.digestSeq,
        throughEventSeq: digest.lastEventSeq,
        eventsDeleted: deleted.events,
        digestsDeleted: deleted.digests,
      },
    });
    return deleted;
  }

  /** Commits what is queued, signs the shutdown digest (a digest writer), and refuses more. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await this.settled();
    if (this.options.digestIntervalMs !== undefined) await this.writeDigest('shutdown');
  }
}
