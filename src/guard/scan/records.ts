import { BulwarkError, isBulwarkError } from '../../errors.js';
import type { Migration, Row, Store, StoreReader, StoreWriter } from '../../store/index.js';
import type { DetectorCategory, Severity } from '../detector.js';
import {
  MAX_OCCURRENCES,
  type Finding,
  type Occurrence,
  type Scan,
  type ScanStatus,
  type ScanTrigger,
  type SourceKind,
} from './types.js';

export const SCANS_TABLE = 'guard_scans';
export const FINDINGS_TABLE = 'guard_findings';

/**
 * The guard's own tables. A scan is one row in a numbered slot, as a shadow is: every change
 * (claiming it, a page's checkpoint, its end) inserts the next slot and removes the one it read,
 * in one transaction, so of two processes that read the same slot only one can write the next:
 * two runners never both advance a scan, on SQLite or on a PostgreSQL shared by several nodes.
 * A page's findings are written in the transaction of its checkpoint. Cursors (which name
 * things, topics and clients) and occurrences are sealed; what lookups filter on is plaintext.
 */
export const guardScanMigrations: Migration[] = [
  {
    id: 'guard-0001-scans',
    steps: [
      {
        createTable: {
          name: SCANS_TABLE,
          columns: {
            scan_id: { type: 'text' },
            slot: { type: 'integer' },
            status: { type: 'text' },
            trigger: { type: 'text' },
            started_at: { type: 'integer' },
            finished_at: { type: 'integer', nullable: true },
            updated_at: { type: 'integer' },
            lease_owner: { type: 'text', nullable: true },
            lease_heartbeat_at: { type: 'integer', nullable: true },
            items: { type: 'integer' },
            bytes: { type: 'integer' },
            findings: { type: 'integer' },
          },
          primaryKey: ['scan_id', 'slot'],
          sealed: ['progress'],
          indexes: [['status'], ['trigger', 'started_at']],
        },
      },
      {
        createTable: {
          name: FINDINGS_TABLE,
          columns: {
            finding_id: { type: 'text' },
            scan_id: { type: 'text' },
            detector: { type: 'text' },
            category: { type: 'text' },
            severity: { type: 'text' },
            resource_arn: { type: 'text' },
            resource_type: { type: 'text' },
            shadow_name: { type: 'text', nullable: true },
            count: { type: 'integer' },
            created_at: { type: 'integer' },
            archived: { type: 'boolean' },
          },
          primaryKey: ['finding_id'],
          sealed: ['occurrences'],
          indexes: [['scan_id'], ['detector'], ['severity'], ['archived'], ['resource_arn']],
        },
      },
    ],
  },
];

/** A scan as read, with the slot the next change must replace. */
export interface ScanRecord extends Scan {
  slot: number;
}

/** The sealed part of a scan's row. */
interface Progress {
  sources: SourceKind[];
  cursors: Partial<Record<SourceKind, string>>;
  done: SourceKind[];
  failureReason?: string;
}

/** What one page adds to a finding (made when the first page finds it, added to after). */
export type FindingDelta = Omit<Finding, 'createdAt' | 'archived'>;

/** Which findings to list: equality on each filter given. */
export interface FindingFilter {
  scanId?: string;
  detector?: string;
  severity?: Severity;
  archived?: boolean;
}

function scanOf(row: Row): ScanRecord {
  const progress = row.progress as Progress;
  const owner = row.lease_owner as string | null;
  return {
    scanId: row.scan_id as string,
    slot: row.slot as number,
    status: row.status as ScanStatus,
    trigger: row.trigger as ScanTrigger,
    sources: progress.sources,
    cursors: progress.cursors,
    done: progress.done,
    items: row.items as number,
    bytes: row.bytes as number,
    findings: row.findings as number,
    startedAt: row.started_at as number,
    ...(row.finished_at !== null ? { finishedAt: row.finished_at as number } : {}),
    updatedAt: row.updated_at as number,
    ...(owner !== null ? { lease: { owner, heartbeatAt: row.lease_heartbeat_at as number } } : {}),
    ...(progress.failureReason !== undefined ? { failureReason: progress.failureReason } : {}),
  };
}

function rowOf(scan: Scan, slot: number): Row {
  const progress: Progress = {
    sources: scan.sources,
    cursors: scan.cursors,
    done: scan.done,
    ...(scan.failureReason !== undefined ? { failureReason: scan.failureReason } : {}),
  };
  return {
    scan_id: scan.scanId,
    slot,
    status: scan.status,
    trigger: scan.trigger,
    started_at: scan.startedAt,
    finished_at: scan.finishedAt ?? null,
    updated_at: scan.updatedAt,
    lease_owner: scan.lease?.owner ?? null,
    lease_heartbeat_at: scan.lease?.heartbeatAt ?? null,
    items: scan.items,
    bytes: scan.bytes,
    findings: scan.findings,
    progress,
  };
}

function findingOf(row: Row): Finding {
  const shadowName = row.shadow_name as string | null;
  return {
    findingId: row.finding_id as string,
    scanId: row.scan_id as string,
    detector: row.detector as string,
    category: row.category as DetectorCategory,
    severity: row.severity as Severity,
    resourceArn: row.resource_arn as string,
    resourceType: row.resource_type as string,
    ...(shadowName !== null ? { shadowName } : {}),
    count: row.count as number,
    // A finding whose key was erased keeps its plaintext facts; its occurrences are gone.
    occurrences: (row.occurrences as Occurrence[] | null | undefined) ?? [],
    createdAt: row.created_at as number,
    archived: row.archived as boolean,
  };
}

function findingRow(finding: Finding): Row {
  return {
    finding_id: finding.findingId,
    scan_id: finding.scanId,
    detector: finding.detector,
    category: finding.category,
    severity: finding.severity,
    resource_arn: finding.resourceArn,
    resource_type: finding.resourceType,
    shadow_name: finding.shadowName ?? null,
    count: finding.count,
    created_at: finding.createdAt,
    archived: finding.archived,
    occurrences: finding.occurrences,
  };
}

function isSlotTaken(error: unknown): boolean {
  return isBulwarkError(error) && error.code === 'StoreConstraint';
}

export function scanNotFound(scanId: string): BulwarkError {
  return new BulwarkError('ResourceNotFound', `Scan ${scanId} does not exist`);
}

export function findingNotFound(findingId: string): BulwarkError {
  return new BulwarkError('ResourceNotFound', `Finding ${findingId} does not exist`);
}

/** Scans and findings in the store. */
export class ScanRecords {
  constructor(private readonly store: Store) {}

  /** Records a new scan; false if one with its id exists (a scheduled scan another node began). */
  async create(scan: Scan): Promise<boolean> {
    try {
      await this.store.insert(SCANS_TABLE, rowOf(scan, 1));
      return true;
    } catch (error) {
      if (isSlotTaken(error)) return false;
      throw error;
    }
  }

  async read(scanId: string, reader: StoreReader = this.store): Promise<ScanRecord | undefined> {
    const [row] = await reader.list(SCANS_TABLE, {
      where: { scan_id: scanId },
      newestFirst: true,
      limit: 1,
    });
    return row && scanOf(row);
  }

  /**
   * Replaces the scan's slot `current` with `next`, adding `findings` in the same transaction.
   * Returns the scan as written, or undefined when another process changed the scan first (then
   * nothing was written).
   */
  async advance(
    current: ScanRecord,
    next: Scan,
    findings: readonly FindingDelta[] = [],
  ): Promise<ScanRecord | undefined> {
    try {
      return await this.store.transaction(async (tx) => {
        const made = await addFindings(tx, findings, next.updatedAt);
        const written = { ...next, findings: next.findings + made };
        await tx.insert(SCANS_TABLE, rowOf(written, current.slot + 1));
        await tx.delete(SCANS_TABLE, { scan_id: current.scanId, slot: current.slot });
        return { ...written, slot: current.slot + 1 };
      });
    } catch (error) {
      if (isSlotTaken(error)) return undefined;
      throw error;
    }
  }

  /** Scans, newest first, after the scan id `after`. */
  async list(after: string | undefined, limit: number): Promise<ScanRecord[]> {
    const rows = await this.store.list(SCANS_TABLE, {
      // Newest first: rows before (after, every slot).
      ...(after !== undefined ? { after: { scan_id: after, slot: -1 } } : {}),
      newestFirst: true,
      limit,
    });
    return rows.map(scanOf);
  }

  async withStatus(status: ScanStatus): Promise<ScanRecord[]> {
    return (await this.store.list(SCANS_TABLE, { where: { status } })).map(scanOf);
  }

  /** The most recently started scan of a trigger. */
  async latest(trigger: ScanTrigger): Promise<ScanRecord | undefined> {
    const [row] = await this.store.list(SCANS_TABLE, {
      where: { trigger },
      newestFirst: true,
      limit: 1,
    });
    return row && scanOf(row);
  }

  async finding(findingId: string): Promise<Finding | undefined> {
    const row = await this.store.get(FINDINGS_TABLE, { finding_id: findingId });
    return row && findingOf(row);
  }

  /** Findings matching `filter`, in finding id order, after `after`. */
  async findings(filter: FindingFilter, after: string | undefined, limit: number) {
    const where: Row = {};
    if (filter.scanId !== undefined) where.scan_id = filter.scanId;
    if (filter.detector !== undefined) where.detector = filter.detector;
    if (filter.severity !== undefined) where.severity = filter.severity;
    if (filter.archived !== undefined) where.archived = filter.archived;
    const rows = await this.store.list(FINDINGS_TABLE, {
      where,
      ...(after !== undefined ? { after: { finding_id: after } } : {}),
      limit,
      onUnreadable: 'mark',
    });
    return rows.map(findingOf);
  }

  /** Archives or unarchives a finding; returns it as it now is. */
  async setArchived(findingId: string, archived: boolean): Promise<Finding> {
    return this.store.transaction(async (tx) => {
      const row = await tx.get(FINDINGS_TABLE, { finding_id: findingId });
      if (!row) throw findingNotFound(findingId);
      const finding = { ...findingOf(row), archived };
      if (row.archived !== archived) await tx.put(FINDINGS_TABLE, findingRow(finding));
      return finding;
    });
  }
}

/** Adds each delta to its finding (made if new); returns how many findings were made. */
async function addFindings(
  tx: StoreWriter,
  deltas: readonly FindingDelta[],
  now: number,
): Promise<number> {
  let made = 0;
  for (const delta of deltas) {
    const row = await tx.get(FINDINGS_TABLE, { finding_id: delta.findingId });
    if (!row) {
      await tx.insert(FINDINGS_TABLE, findingRow({ ...delta, createdAt: now, archived: false }));
      made += 1;
      continue;
    }
    const finding = findingOf(row);
    await tx.put(
      FINDINGS_TABLE,
      findingRow({
        ...finding,
        count: finding.count + delta.count,
        occurrences: [...finding.occurrences, ...delta.occurrences].slice(0, MAX_OCCURRENCES),
      }),
    );
  }
  return made;
}
