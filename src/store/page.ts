import type { Row, StoreReader } from './types.js';

/**
 * One page of a walk over a whole table in primary-key order, for readers that go through every
 * row a page at a time (discovery scans): the rows after `after`, at most `limit`, those whose
 * sealed values cannot be opened marked (UNREADABLE) rather than thrown, and `last`, the row the
 * next page starts after — absent once a page comes back short, which ends the walk.
 */
export async function readPage(
  store: StoreReader,
  table: string,
  after: Row | undefined,
  limit: number,
): Promise<{ rows: Row[]; last?: Row }> {
  const rows = await store.list(table, {
    ...(after ? { after } : {}),
    limit,
    onUnreadable: 'mark',
  });
  const last = rows.length === limit ? rows[rows.length - 1] : undefined;
  return last ? { rows, last } : { rows };
}
