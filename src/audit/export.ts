import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { UNREADABLE, type Row, type StoreReader, type UnreadableColumn } from '../store/index.js';
import type { Digest } from './chain.js';
import { DIGESTS_TABLE, EVENTS_TABLE, HEADS_TABLE } from './migrations.js';
import type { AuditRecord } from './record.js';
import { publicSigningKeys, type PublicSigningKey } from './signing-keys.js';
import { digestOverlaps, type StoredDigest, type StoredEvent } from './verify.js';

/**
 * Reading the trail, from the store or from an export, in the order the verifier wants: each
 * stream's digests, then its events by seq. The export format is JSON lines: a header with the
 * public keys, then per stream each digest's events (one CloudTrail record a line, with its
 * `chainHash`) followed by the digest itself, then the events no digest signs yet.
 */

const PAGE = 1000;

export const EXPORT_FORMAT_VERSION = 1;

export interface ExportHeader {
  formatVersion: number;
  exportedAt: string;
  publicKeys: PublicSigningKey[];
}

export interface ExportDigestLine {
  digest: Digest;
  digestHashValue: string;
  signature: string;
}

/** A digest as the store holds it; a row whose JSON does not parse is reported by the caller. */
function storedDigestOf(row: Row): StoredDigest | { unparseable: number } {
  try {
    return {
      digest: JSON.parse(row.digest as string) as Digest,
      digestHash: row.digest_hash as string,
      signature: row.signature as string,
    };
  } catch {
    return { unparseable: row.digest_seq as number };
  }
}

export interface StoreTrail {
  streams: string[];
  digests: Map<string, StoredDigest[]>;
  /** Digest rows whose JSON does not parse, by stream. */
  unparseable: { stream: string; digestSeq: number }[];
}

export async function readStoredDigests(store: StoreReader): Promise<StoreTrail> {
  const heads = await store.list(HEADS_TABLE);
  const rows = await store.list(DIGESTS_TABLE);
  const streams = [...new Set([...heads, ...rows].map((row) => row.stream as string))].sort();
  const digests = new Map<string, StoredDigest[]>(streams.map((stream) => [stream, []]));
  const unparseable: StoreTrail['unparseable'] = [];
  for (const row of rows) {
    const stored = storedDigestOf(row);
    if ('unparseable' in stored)
      unparseable.push({ stream: row.stream as string, digestSeq: stored.unparseable });
    else digests.get(row.stream as string)?.push(stored);
  }
  return { streams, digests, unparseable };
}

/** One stream's events from `fromSeq` up, by seq, a page at a time; unreadable records marked. */
export async function* storedEvents(
  store: StoreReader,
  stream: string,
  fromSeq: number,
  toSeq?: number,
): AsyncGenerator<StoredEvent> {
  let after: Row | undefined;
  for (;;) {
    const rows = await store.list(EVENTS_TABLE, {
      where: { stream },
      range: { column: 'seq', from: fromSeq, ...(toSeq !== undefined ? { to: toSeq } : {}) },
      limit: PAGE,
      onUnreadable: 'mark',
      ...(after ? { after } : {}),
    });
    for (const row of rows) {
      const unreadable = (row as Record<symbol, Record<string, UnreadableColumn>>)[UNREADABLE];
      const { record, ...columns } = row;
      yield {
        seq: row.seq as number,
        chainHash: row.chain_hash as string,
        ...(unreadable
          ? { unreadable: unreadable.record?.message ?? 'unreadable' }
          : { record: record as AuditRecord }),
        columns,
      };
    }
    if (rows.length < PAGE) return;
    const last = rows[rows.length - 1] as Row;
    after = { stream, seq: last.seq };
  }
}

export interface ExportOptions {
  /** Epoch ms: only digests overlapping [from, to] and the events they sign. */
  from?: number;
  to?: number;
  now: number;
  onProgress?: (events: number) => void;
}

function eventLine(event: StoredEvent, stream: string): string {
  if (!event.record)
    return JSON.stringify({
      stream,
      seq: event.seq,
      chainHash: event.chainHash,
      unreadable: event.unreadable,
    });
  return JSON.stringify({ ...event.record, chainHash: event.chainHash });
}

/** Writes the trail as JSON lines through `write`; returns how many events were written. */
export async function exportTrail(
  store: StoreReader,
  write: (line: string) => Promise<void>,
  options: ExportOptions,
): Promise<number> {
  const header: ExportHeader = {
    formatVersion: EXPORT_FORMAT_VERSION,
    exportedAt: new Date(options.now).toISOString(),
    publicKeys: await publicSigningKeys(store),
  };
  await write(JSON.stringify({ bulwarkAuditExport: header }));
  const trail = await readStoredDigests(store);
  let count = 0;
  const emit = async (events: AsyncGenerator<StoredEvent>, stream: string) => {
    for await (const event of events) {
      await write(eventLine(event, stream));
      count += 1;
      if (count % 10_000 === 0) options.onProgress?.(count);
    }
  };
  for (const stream of trail.streams) {
    const digests = (trail.digests.get(stream) ?? []).sort(
      (a, b) => a.digest.digestSeq - b.digest.digestSeq,
    );
    const selected = digests.filter((stored) => digestOverlaps(stored.digest, options));
    for (const stored of selected) {
      const { digest } = stored;
      if (digest.lastEventSeq >= digest.firstEventSeq)
        await emit(storedEvents(store, stream, digest.firstEventSeq, digest.lastEventSeq), stream);
      const line: ExportDigestLine = {
        digest,
        digestHashValue: stored.digestHash,
        signature: stored.signature,
      };
      await write(JSON.stringify(line));
    }
    const newest = digests[digests.length - 1];
    if (
      newest &&
      selected[selected.length - 1] === newest &&
      (options.to === undefined || options.to >= options.now)
    )
      await emit(storedEvents(store, stream, newest.digest.lastEventSeq + 1), stream);
    else if (!newest) await emit(storedEvents(store, stream, 1), stream);
  }
  return count;
}

/** What the verifier needs from an export, read in two passes over the file. */
export interface ExportFile {
  header?: ExportHeader;
  digests: Map<string, StoredDigest[]>;
  /** Lines that are neither header, digest nor event, by line number. */
  malformed: number[];
}

function lines(file: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
}

function parseLine(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

export async function readExportDigests(file: string): Promise<ExportFile> {
  const result: ExportFile = { digests: new Map(), malformed: [] };
  let number = 0;
  for await (const text of lines(file)) {
    number += 1;
    if (text.trim() === '') continue;
    const line = parseLine(text);
    if (!line) {
      result.malformed.push(number);
      continue;
    }
    if (line.bulwarkAuditExport) {
      result.header = line.bulwarkAuditExport as ExportHeader;
    } else if (line.digest) {
      const { digest, digestHashValue, signature } = line as unknown as ExportDigestLine;
      const list = result.digests.get(digest.stream) ?? [];
      list.push({ digest, digestHash: digestHashValue, signature });
      result.digests.set(digest.stream, list);
    }
  }
  return result;
}

/** The export's events, in file order, with the stream each belongs to. */
export async function* exportEvents(
  file: string,
): AsyncGenerator<{ stream: string; event: StoredEvent } | { malformed: number }> {
  let number = 0;
  for await (const text of lines(file)) {
    number += 1;
    if (text.trim() === '') continue;
    const line = parseLine(text);
    if (!line) continue;
    if (line.bulwarkAuditExport || line.digest) continue;
    const { chainHash, unreadable, ...record } = line;
    if (typeof record.stream !== 'string' || typeof record.seq !== 'number') {
      yield { malformed: number };
      continue;
    }
    yield {
      stream: record.stream,
      event: {
        seq: record.seq,
        chainHash: String(chainHash),
        ...(typeof unreadable === 'string'
          ? { unreadable }
          : { record: record as unknown as AuditRecord }),
      },
    };
  }
}
