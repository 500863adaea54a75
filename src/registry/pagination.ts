import type { Row, StoreReader } from '../store/index.js';
import { checkPageSize, decodeToken, encodeToken } from './validation.js';

/** AWS's range for maxResults on the registry's list calls. */
export const MAX_RESULTS = 250;
export const DEFAULT_MAX_RESULTS = 50;

export interface Page<T> {
  items: T[];
  /** Present when more items may follow. */
  nextToken?: string;
}

/** What a list call was asked for: where to resume and how many to return. */
export interface PageRequest {
  /** The sort key of the last item already returned. */
  after?: string;
  limit: number;
}

export function checkMaxResults(value: number | undefined): number {
  if (value === undefined) return DEFAULT_MAX_RESULTS;
  return checkPageSize(value, 'maxResults', MAX_RESULTS);
}

export function pageRequest(
  list: string,
  token: string | undefined,
  maxResults: number | undefined,
): PageRequest {
  const after = decodeToken(token, list);
  return { ...(after !== undefined ? { after } : {}), limit: checkMaxResults(maxResults) };
}

/** One page of an already sorted list of distinct keys. */
export function pageOfSorted(list: string, keys: string[], request: PageRequest): Page<string> {
  const { after } = request;
  const rest = after === undefined ? keys : keys.filter((key) => key > after);
  const items = rest.slice(0, request.limit);
  return rest.length > request.limit
    ? { items, nextToken: encodeToken(list, items[items.length - 1] as string) }
    : { items };
}

const SCAN_BATCH = 200;

/**
 * One page of a table keyed by one text column, in key order, of the rows `keep` accepts. Rows
 * are read in batches until the page is full and one more match shows that another page follows.
 * Rows whose sealed values cannot be opened (an erased key) are kept, with those values undefined.
 */
export async function scanPage(
  store: StoreReader,
  options: {
    list: string;
    table: string;
    key: string;
    where?: Row;
    request: PageRequest;
    keep?: (row: Row) => boolean;
  },
): Promise<Page<Row>> {
  const { table, key, request } = options;
  const matched: Row[] = [];
  let after = request.after;
  for (;;) {
    const rows = await store.list(table, {
      ...(options.where ? { where: options.where } : {}),
      ...(after !== undefined ? { after: { [key]: after } } : {}),
      limit: SCAN_BATCH,
      onUnreadable: 'mark',
    });
    for (const row of rows) {
      if (options.keep && !options.keep(row)) continue;
      matched.push(row);
      if (matched.length > request.limit) break;
    }
    if (matched.length > request.limit || rows.length < SCAN_BATCH) break;
    after = rows[rows.length - 1]?.[key] as string;
  }
  const items = matched.slice(0, request.limit);
  return matched.length > request.limit
    ? { items, nextToken: encodeToken(options.list, items[items.length - 1]?.[key] as string) }
    : { items };
}
