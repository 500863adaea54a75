import { invalid } from '../api/validation.js';
import type { Row, StoreReader } from '../store/index.js';

/** IAM's list calls: `MaxItems` 1–1000, 100 when absent. */
export const DEFAULT_MAX_ITEMS = 100;

export interface IamPageRequest {
  /** The `Marker` of the previous page, as IAM returned it; opaque to clients. */
  marker?: string;
  maxItems: number;
}

export interface IamPage<T> {
  items: T[];
  /** Present when the list is truncated: pass it as `Marker` for the next page. */
  marker?: string;
}

function encodeMarker(list: string, after: string): string {
  return Buffer.from(JSON.stringify({ l: list, a: after }), 'utf8').toString('base64url');
}

function decodeMarker(marker: string | undefined, list: string): string | undefined {
  if (marker === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const { l, a } = (decoded ?? {}) as { l?: unknown; a?: unknown };
  if (l !== list || typeof a !== 'string')
    throw invalid('The Marker is not one this list returned; list again without it.');
  return a;
}

/**
 * One page of `table` in primary-key order: rows matching `where` whose `sortColumn` (the one
 * primary-key column `where` leaves free) follows the marker's. Markers name their list, so a
 * marker from another list is refused rather than silently restarting.
 */
export async function listPage(
  store: StoreReader,
  options: { list: string; table: string; where?: Row; sortColumn: string },
  request: IamPageRequest,
): Promise<IamPage<Row>> {
  const after = decodeMarker(request.marker, options.list);
  const rows = await store.list(options.table, {
    ...(options.where ? { where: options.where } : {}),
    ...(after !== undefined ? { after: { ...options.where, [options.sortColumn]: after } } : {}),
    limit: request.maxItems + 1,
  });
  if (rows.length <= request.maxItems) return { items: rows };
  const items = rows.slice(0, request.maxItems);
  const last = items[items.length - 1] as Row;
  return { items, marker: encodeMarker(options.list, last[options.sortColumn] as string) };
}

/** One page of items already in memory, sorted by `key` (lists IAM filters as it reads them). */
export function pageOfSorted<T>(
  list: string,
  items: T[],
  key: (item: T) => string,
  request: IamPageRequest,
): IamPage<T> {
  const after = decodeMarker(request.marker, list);
  const rest = after === undefined ? items : items.filter((item) => key(item) > after);
  const page = rest.slice(0, request.maxItems);
  return rest.length > request.maxItems
    ? { items: page, marker: encodeMarker(list, key(page[page.length - 1] as T)) }
    : { items: page };
}
