import type { PlainValue, Range, StoreReader } from '../store/index.js';
import { EVENTS_TABLE } from './migrations.js';
import type { AuditRecord } from './record.js';

/** CloudTrail LookupEvents' attribute keys, each backed by a plaintext column of the events. */
export const LOOKUP_ATTRIBUTE_COLUMNS = {
  AccessKeyId: 'access_key_id',
  EventId: 'event_id',
  EventName: 'event_name',
  EventSource: 'event_source',
  ReadOnly: 'read_only',
  ResourceName: 'resource_name',
  ResourceType: 'resource_type',
  Username: 'username',
} as const;

export type LookupAttributeKey = keyof typeof LOOKUP_ATTRIBUTE_COLUMNS;

export interface LookupQuery {
  /** CloudTrail takes one attribute per call; Bulwark also takes several, all of which must match. */
  attributes: { key: LookupAttributeKey; value: string }[];
  /** Epoch ms, inclusive. */
  startTime?: number;
  endTime?: number;
  maxResults: number;
  /** Where the previous page ended. */
  after?: { stream: string; seq: number };
}

export interface LookupPage {
  records: AuditRecord[];
  /** Where the next page starts, when there may be more. */
  next?: { stream: string; seq: number };
}

function columnValue(key: LookupAttributeKey, value: string): PlainValue {
  if (key === 'ReadOnly') return value.toLowerCase() === 'true';
  return value;
}

/** Newest first, as CloudTrail lists them. */
export async function lookupEvents(store: StoreReader, query: LookupQuery): Promise<LookupPage> {
  const where: Record<string, PlainValue> = {};
  for (const { key, value } of query.attributes)
    where[LOOKUP_ATTRIBUTE_COLUMNS[key]] = columnValue(key, value);
  const range: Range | undefined =
    query.startTime !== undefined || query.endTime !== undefined
      ? {
          column: 'event_time',
          ...(query.startTime !== undefined ? { from: query.startTime } : {}),
          ...(query.endTime !== undefined ? { to: query.endTime } : {}),
        }
      : undefined;
  const rows = await store.list(EVENTS_TABLE, {
    where,
    ...(range ? { range } : {}),
    newestFirst: true,
    limit: query.maxResults + 1,
    ...(query.after ? { after: query.after } : {}),
  });
  const page = rows.slice(0, query.maxResults);
  const last = page[page.length - 1];
  return {
    records: page.map((row) => row.record as AuditRecord),
    ...(rows.length > query.maxResults && last
      ? { next: { stream: last.stream as string, seq: last.seq as number } }
      : {}),
  };
}
