import { BulwarkError } from '../errors.js';

/**
 * The certificate lists page with `pageSize` and an opaque `marker` (→ `nextMarker`), ordered
 * by creation date (ascending or not) with the id breaking ties, as AWS IoT orders them.
 */

export const MAX_PAGE_SIZE = 250;

export interface Marked {
  id: string;
  createdAt: number;
}

export interface MarkerPage<T> {
  items: T[];
  nextMarker?: string;
}

export interface MarkerRequest {
  pageSize: number;
  marker?: string;
  ascending: boolean;
}

function encodeMarker(list: string, item: Marked): string {
  return Buffer.from(JSON.stringify({ l: list, c: item.createdAt, i: item.id }), 'utf8').toString(
    'base64url',
  );
}

function decodeMarker(list: string, marker: string): Marked {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8'));
  } catch {
    throw new BulwarkError('InvalidRequest', 'The marker is not valid');
  }
  const { l, c, i } = (decoded ?? {}) as { l?: unknown; c?: unknown; i?: unknown };
  if (l !== list || typeof c !== 'number' || typeof i !== 'string')
    throw new BulwarkError('InvalidRequest', 'The marker is not valid');
  return { createdAt: c, id: i };
}

function compare(a: Marked, b: Marked): number {
  return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

/** One page of `items` for the list named `list`. */
export function markerPage<T extends Marked>(
  list: string,
  items: T[],
  request: MarkerRequest,
): MarkerPage<T> {
  const direction = request.ascending ? 1 : -1;
  const sorted = [...items].sort((a, b) => direction * compare(a, b));
  const after = request.marker === undefined ? undefined : decodeMarker(list, request.marker);
  const rest = after ? sorted.filter((item) => direction * compare(item, after) > 0) : sorted;
  const page = rest.slice(0, request.pageSize);
  return rest.length > request.pageSize
    ? { items: page, nextMarker: encodeMarker(list, page[page.length - 1] as T) }
    : { items: page };
}
