import type { DetectorCategory, Severity } from '../detector.js';

/**
 * Discovery scans (Macie's sensitive-data discovery jobs, over a Bulwark's stored device data):
 * what a scan reads, and the scans and findings it leaves.
 */

/** The kinds of stored device data a scan reads, each from the capability that stores it. */
export const SOURCE_KINDS = ['shadows', 'retained', 'attributes', 'queued'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

/** One stored item: a shadow's state, a retained message, a thing's attributes, a queued message. */
export interface ScannedItem {
  /** The resource a finding names: the thing, the retained message's topic, the client. */
  resourceArn: string;
  /** `shadow`, `retainedMessage`, `thingAttributes` or `queuedMessage`. */
  resourceType: string;
  /** Parsed JSON (walked leaf by leaf), or a payload's raw bytes (parsed when they are JSON). */
  content: unknown;
  /** A named shadow's name (the classic shadow has none). */
  shadowName?: string;
  /** Which of the resource's records this is (a queued message's sequence number). */
  recordIndex?: number;
}

/** One page of a source: its items, and the cursor the next page starts after. */
export interface ScanPage {
  items: ScannedItem[];
  cursor: string;
  /** The source's final page: the scan records the source done with it, in one commit. */
  last?: boolean;
}

/**
 * Stored items of one kind, a page at a time, in a stable order: `pages(after)` resumes after the
 * cursor of a page already scanned. Each page is read when asked for, so memory stays bounded by
 * one page whatever the size of the data.
 */
export interface ScanSource {
  kind: SourceKind;
  pages(after: string | undefined, pageSize: number): AsyncIterable<ScanPage>;
}

/**
 * Where a detection lies: a JSON path (RFC 9535 normalized-path style with member shorthand,
 * `$.state.reported.owner.email`; a key that itself holds sensitive data is written `*`), or a
 * byte offset into a payload that is not JSON. Never the matched value.
 */
export type Occurrence =
  { jsonPath: string; recordIndex?: number } | { byteOffset: number; recordIndex?: number };

/** As Macie: at most this many occurrences are kept per finding; `count` has them all. */
export const MAX_OCCURRENCES = 15;

/** What one scan found of one detector in one resource. */
export interface Finding {
  findingId: string;
  scanId: string;
  detector: string;
  category: DetectorCategory;
  severity: Severity;
  resourceArn: string;
  resourceType: string;
  shadowName?: string;
  /** Every detection, however many occurrences are kept. */
  count: number;
  occurrences: Occurrence[];
  /** Epoch ms. */
  createdAt: number;
  archived: boolean;
}

export const SCAN_STATUSES = ['RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED'] as const;
export type ScanStatus = (typeof SCAN_STATUSES)[number];

/** Who started a scan: a StartScan call, the schedule (`guard.scan.intervalHours`), `bulwark scan`. */
export type ScanTrigger = 'manual' | 'scheduled' | 'cli';

/** The process running a scan, and when it last showed it was alive. */
export interface ScanLease {
  owner: string;
  /** Epoch ms. */
  heartbeatAt: number;
}

export interface Scan {
  scanId: string;
  status: ScanStatus;
  trigger: ScanTrigger;
  sources: SourceKind[];
  /** Per source not done: the cursor of its last scanned page (absent: from the start). */
  cursors: Partial<Record<SourceKind, string>>;
  /** Sources scanned to their end. */
  done: SourceKind[];
  /** Items read, their size (JSON text or payload bytes), and findings made, so far. */
  items: number;
  bytes: number;
  findings: number;
  /** Epoch ms. */
  startedAt: number;
  finishedAt?: number;
  updatedAt: number;
  lease?: ScanLease;
  /** A FAILED scan's error code (never a message that could quote data). */
  failureReason?: string;
}
