import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { BulwarkError, isBulwarkError } from '../../errors.js';
import type { Logger } from '../../logs/logger.js';
import type { DetectorSet } from '../detector-set.js';
import { ItemScanner } from './item-scanner.js';
import {
  findingNotFound,
  scanNotFound,
  type FindingDelta,
  type FindingFilter,
  type ScanRecord,
  type ScanRecords,
} from './records.js';
import {
  MAX_OCCURRENCES,
  SOURCE_KINDS,
  type Finding,
  type Scan,
  type ScannedItem,
  type ScanSource,
  type ScanTrigger,
  type SourceKind,
} from './types.js';

/**
 * A runner's lease on a scan lapses this long after its last checkpoint (a live runner
 * checkpoints at least every CHECKPOINT_INTERVAL_MS). A runner on this host whose process has
 * gone (a crash, kill -9) loses it at once.
 */
export const LEASE_MS = 60_000;

export interface ScanServiceOptions {
  records: ScanRecords;
  sources: Record<SourceKind, ScanSource>;
  detectors: DetectorSet;
  /** Items read per page, each page one checkpoint (`guard.scan.pageSize`). */
  pageSize: number;
  logger?: Logger;
  clock?: () => number;
}

export interface RunOptions {
  /** Aborting stops the scan after the page in hand, leaving it RUNNING for a later resume. */
  signal?: AbortSignal;
  /** Called after each checkpoint with the scan as written. */
  onProgress?: (scan: Scan) => void;
}

/** Ids sort by start time: `scan-20261128T141333Z-1a2b3c4d`. */
function scanIdAt(ms: number, suffix: string): string {
  return `scan-${new Date(ms).toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '')}-${suffix}`;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Another runner's lease (not `self`'s) no longer holds: it lapsed, or its process on this host
 * is gone (a process with its id that is not it, this one included, means it is gone).
 */
function leaseVoid(scan: Scan, now: number, self: string): boolean {
  const lease = scan.lease;
  if (!lease) return true;
  if (now - lease.heartbeatAt > LEASE_MS) return true;
  const match = /^(\d+)@(.*)\/[0-9a-f]+$/.exec(lease.owner);
  if (match === null || match[2] !== hostname()) return false;
  const pid = Number(match[1]);
  return pid === process.pid ? lease.owner !== self : !processAlive(pid);
}

/**
 * Pages are checkpointed together, at most this long apart (and at each source's end): each
 * checkpoint is a commit, an fsync on SQLite, a round trip on PostgreSQL. A crash loses at most
 * this much work, and no finding: findings are written with the checkpoint that covers them.
 */
const CHECKPOINT_INTERVAL_MS = 500;
/** Findings held for the next checkpoint beyond which it is made at once (bounds memory). */
const MAX_PENDING_FINDINGS = 1000;

/** Thrown inside a run when another process changed the scan first. */
class ScanTakenOver extends Error {}

/** A scan's failure as recorded: an error code, never a message that could quote data. */
function failureReasonOf(error: unknown): string {
  return isBulwarkError(error) ? error.code : 'InternalFailure';
}

/**
 * Discovery scans: runs the detectors over every kind of stored device data, a page at a time;
 * the findings of the pages since the last checkpoint and the new checkpoint (each source's
 * cursor) are committed in one transaction, so a scan interrupted anywhere (kill -9 included)
 * resumes after its last checkpoint: no item is counted twice into a finding, none skipped. One
 * lease per scan keeps two runners (a server and a `bulwark scan`, or two nodes) from running
 * the same scan.
 */
export class ScanService {
  /** This process's runner name: `{pid}@{host}/{random}`. */
  readonly owner = `${process.pid}@${hostname()}/${randomBytes(4).toString('hex')}`;
  private readonly records: ScanRecords;
  private readonly sources: Record<SourceKind, ScanSource>;
  private readonly detectors: DetectorSet;
  private readonly items: ItemScanner;
  private readonly pageSize: number;
  private readonly logger: Logger | undefined;
  private readonly clock: () => number;

  constructor(options: ScanServiceOptions) {
    this.records = options.records;
    this.sources = options.sources;
    this.detectors = options.detectors;
    this.items = new ItemScanner(options.detectors);
    this.pageSize = options.pageSize;
    this.logger = options.logger?.child({ component: 'guard-scan' });
    this.clock = options.clock ?? Date.now;
  }

  /**
   * Records a new RUNNING scan of `sources` (default: all), not yet claimed by any runner.
   * With `scanId` given (a scheduled scan), undefined when a scan of that id exists already.
   */
  async create(
    trigger: ScanTrigger,
    sources: readonly SourceKind[] = SOURCE_KINDS,
    scanId?: string,
  ): Promise<Scan | undefined> {
    const now = this.clock();
    const scan: Scan = {
      scanId: scanId ?? scanIdAt(now, randomBytes(4).toString('hex')),
      status: 'RUNNING',
      trigger,
      sources: SOURCE_KINDS.filter((kind) => sources.includes(kind)),
      cursors: {},
      done: [],
      items: 0,
      bytes: 0,
      findings: 0,
      startedAt: now,
      updatedAt: now,
    };
    return (await this.records.create(scan)) ? scan : undefined;
  }

  /** The id a scheduled scan due at `dueMs` has, the same on every node. */
  scheduledScanId(dueMs: number): string {
    return scanIdAt(dueMs, 'scheduled');
  }

  async describe(scanId: string): Promise<Scan> {
    const scan = await this.records.read(scanId);
    if (!scan) throw scanNotFound(scanId);
    return publicScan(scan);
  }

  async list(after: string | undefined, limit: number): Promise<Scan[]> {
    return (await this.records.list(after, limit)).map(publicScan);
  }

  /** The newest scan started by `trigger`. */
  async latest(trigger: ScanTrigger): Promise<Scan | undefined> {
    const scan = await this.records.latest(trigger);
    return scan && publicScan(scan);
  }

  /** RUNNING scans no live runner holds: a crashed or stopped runner's, to resume. */
  async orphaned(): Promise<Scan[]> {
    const now = this.clock();
    return (await this.records.withStatus('RUNNING'))
      .filter((scan) => leaseVoid(scan, now, this.owner))
      .map(publicScan);
  }

  async finding(findingId: string): Promise<Finding> {
    const finding = await this.records.finding(findingId);
    if (!finding) throw findingNotFound(findingId);
    return finding;
  }

  findings(filter: FindingFilter, after: string | undefined, limit: number): Promise<Finding[]> {
    return this.records.findings(filter, after, limit);
  }

  setArchived(findingId: string, archived: boolean): Promise<Finding> {
    return this.records.setArchived(findingId, archived);
  }

  /** Stops a RUNNING scan for good; its runner stops at its next checkpoint. */
  async cancel(scanId: string): Promise<Scan> {
    for (;;) {
      const scan = await this.records.read(scanId);
      if (!scan) throw scanNotFound(scanId);
      if (scan.status !== 'RUNNING')
        throw new BulwarkError(
          'InvalidRequest',
          `Scan ${scanId} is ${scan.status}: only a RUNNING scan can be cancelled`,
        );
      const now = this.clock();
      const written = await this.records.advance(scan, {
        ...unleased(scan),
        status: 'CANCELLED',
        finishedAt: now,
        updatedAt: now,
      });
      if (written) return publicScan(written);
    }
  }

  /**
   * Runs (or resumes) a RUNNING scan to its end, as its one runner; returns it as it ended, or as
   * it stood when this runner stopped (aborted, cancelled, or taken over by another runner).
   * Refused when another live runner holds it.
   */
  async run(scanId: string, options: RunOptions = {}): Promise<Scan> {
    let scan = await this.claim(scanId);
    try {
      // Pages scanned since the last checkpoint: where they reached, and what they found.
      const reached = { cursors: { ...scan.cursors }, done: [...scan.done], items: 0, bytes: 0 };
      const found = new Map<string, FindingDelta>();
      let checkpointedAt = this.clock();
      for (const kind of scan.sources) {
        if (scan.done.includes(kind)) continue;
        for await (const page of this.sources[kind].pages(scan.cursors[kind], this.pageSize)) {
          reached.bytes += this.scanItems(scan.scanId, page.items, found);
          reached.items += page.items.length;
          if (page.last) {
            delete reached.cursors[kind];
            reached.done.push(kind);
          } else reached.cursors[kind] = page.cursor;
          const now = this.clock();
          const stopping = options.signal?.aborted === true;
          if (
            page.last ||
            stopping ||
            found.size >= MAX_PENDING_FINDINGS ||
            now - checkpointedAt >= CHECKPOINT_INTERVAL_MS
          ) {
            scan = await this.checkpoint(
              scan,
              {
                ...scan,
                cursors: { ...reached.cursors },
                done: [...reached.done],
                items: scan.items + reached.items,
                bytes: scan.bytes + reached.bytes,
                updatedAt: now,
                lease: { owner: this.owner, heartbeatAt: now },
              },
              [...found.values()],
            );
            reached.items = 0;
            reached.bytes = 0;
            found.clear();
            checkpointedAt = now;
            options.onProgress?.(publicScan(scan));
          }
          if (stopping) return publicScan(await this.release(scan));
          // Other work (API calls, MQTT) runs between pages.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
      const now = this.clock();
      scan = await this.checkpoint(scan, {
        ...unleased(scan),
        status: 'COMPLETED',
        finishedAt: now,
        updatedAt: now,
      });
      this.logger?.info(
        { scanId, items: scan.items, bytes: scan.bytes, findings: scan.findings },
        'scan completed',
      );
      return publicScan(scan);
    } catch (error) {
      if (error instanceof ScanTakenOver) {
        const current = (await this.records.read(scanId)) ?? scan;
        this.logger?.info({ scanId, status: current.status }, 'scan stopped: changed by another');
        return publicScan(current);
      }
      return publicScan(await this.fail(scan, error));
    }
  }

  /** Takes the scan's lease, if no live runner holds it. */
  private async claim(scanId: string): Promise<ScanRecord> {
    for (;;) {
      const scan = await this.records.read(scanId);
      if (!scan) throw scanNotFound(scanId);
      if (scan.status !== 'RUNNING')
        throw new BulwarkError('InvalidRequest', `Scan ${scanId} is ${scan.status}`);
      const now = this.clock();
      if (scan.lease && scan.lease.owner !== this.owner && !leaseVoid(scan, now, this.owner))
        throw new BulwarkError(
          'Conflict',
          `Scan ${scanId} is being run by ${scan.lease.owner}; its lease lapses ${LEASE_MS / 1000} s after its last checkpoint`,
        );
      const written = await this.records.advance(scan, {
        ...scan,
        updatedAt: now,
        lease: { owner: this.owner, heartbeatAt: now },
      });
      if (written) return written;
    }
  }

  private async checkpoint(
    current: ScanRecord,
    next: Scan,
    findings?: FindingDelta[],
  ): Promise<ScanRecord> {
    const written = await this.records.advance(current, next, findings);
    if (!written) throw new ScanTakenOver();
    return written;
  }

  /** Gives the lease up (still RUNNING), so the next runner resumes at once. */
  private async release(scan: ScanRecord): Promise<ScanRecord> {
    return (
      (await this.records.advance(scan, { ...unleased(scan), updatedAt: this.clock() })) ?? scan
    );
  }

  private async fail(scan: ScanRecord, error: unknown): Promise<ScanRecord> {
    const failureReason = failureReasonOf(error);
    this.logger?.error({ err: error, scanId: scan.scanId }, 'scan failed');
    const now = this.clock();
    const written = await this.records
      .advance(scan, {
        ...unleased(scan),
        status: 'FAILED',
        failureReason,
        finishedAt: now,
        updatedAt: now,
      })
      .catch((recordError: unknown) => {
        this.logger?.error(
          { err: recordError, scanId: scan.scanId },
          'a failed scan could not be recorded as FAILED',
        );
        return undefined;
      });
    return written ?? { ...scan, status: 'FAILED', failureReason };
  }

  /**
   * Runs the detectors over a page, adding its findings to `findings` by id (one per scan,
   * resource and detector); returns the page's size.
   */
  private scanItems(
    scanId: string,
    items: readonly ScannedItem[],
    findings: Map<string, FindingDelta>,
  ): number {
    let bytes = 0;
    for (const item of items) {
      const result = this.items.scan(item);
      bytes += result.bytes;
      if (result.detections.size === 0) continue;
      const resourceArn = this.withoutSensitiveNames(item.resourceArn);
      const shadowName =
        item.shadowName === undefined ? undefined : this.detectors.redact(item.shadowName);
      for (const detection of result.detections.values()) {
        const findingId = createHash('sha256')
          .update(
            [scanId, item.resourceType, resourceArn, shadowName ?? '', detection.detector.id].join(
              '\u0000',
            ),
          )
          .digest('hex')
          .slice(0, 32);
        const known = findings.get(findingId);
        if (known) {
          known.count += detection.count;
          known.occurrences = [...known.occurrences, ...detection.occurrences].slice(
            0,
            MAX_OCCURRENCES,
          );
          continue;
        }
        findings.set(findingId, {
          findingId,
          scanId,
          detector: detection.detector.id,
          category: detection.detector.category,
          severity: detection.detector.severity,
          resourceArn,
          resourceType: item.resourceType,
          ...(shadowName !== undefined ? { shadowName } : {}),
          count: detection.count,
          occurrences: detection.occurrences,
        });
      }
    }
    return bytes;
  }

  /**
   * A finding names its resource, and a resource's name (a topic, a client id) may itself hold
   * sensitive data: that part is written `[REDACTED:<detector>]` in the finding.
   */
  private withoutSensitiveNames(arn: string): string {
    const slash = arn.indexOf('/');
    return slash < 0 ? arn : arn.slice(0, slash + 1) + this.detectors.redact(arn.slice(slash + 1));
  }
}

/** A scan as callers see it: without the slot it is stored in. */
function publicScan(scan: Scan & { slot?: number }): Scan {
  const copy = { ...scan };
  delete copy.slot;
  return copy;
}

/** The scan with no runner holding it. */
function unleased(scan: Scan): Scan {
  const copy = { ...scan };
  delete copy.lease;
  return copy;
}
