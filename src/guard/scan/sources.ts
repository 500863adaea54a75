import type { IotArns } from '../../api/iot-arns.js';
import { RetainedMessages } from '../../broker/retained.js';
import { SessionStore } from '../../broker/session-store.js';
import { Registry } from '../../registry/index.js';
import { ShadowStore, type ShadowPosition } from '../../shadow/shadow-store.js';
import type { Store } from '../../store/index.js';
import type { ScanPage, ScannedItem, ScanSource, SourceKind } from './types.js';

/**
 * The stored device data a scan reads, each kind through its own capability's read-only page
 * iterator (the guard never reads another capability's tables).
 */

/** One page as a capability gives it: its items, and where the next page starts (none: the end). */
interface CapabilityPage<Position> {
  items: ScannedItem[];
  next?: Position;
}

/**
 * A source over a capability's pages, its position kept as a JSON cursor. A position is only
 * ever decoded from a cursor this source encoded (the scan's own sealed checkpoint).
 */
function pagedSource<Position>(
  kind: SourceKind,
  page: (after: Position | undefined, limit: number) => Promise<CapabilityPage<Position>>,
): ScanSource {
  return {
    kind,
    async *pages(after: string | undefined, pageSize: number): AsyncIterable<ScanPage> {
      let position = after === undefined ? undefined : (JSON.parse(after) as Position);
      for (;;) {
        const read = await page(position, pageSize);
        if (read.next === undefined) {
          yield { items: read.items, cursor: after ?? '', last: true };
          return;
        }
        position = read.next;
        after = JSON.stringify(position);
        yield { items: read.items, cursor: after };
      }
    },
  };
}

/** What the sources read through: the store, and the account's ARNs. */
export interface StoredDataOptions {
  store: Store;
  arns: IotArns;
  /** The server's registry; a command without one makes its own (read-only use). */
  registry?: Registry;
}

/** Every kind of stored device data, by kind. */
export function storedDataSources(options: StoredDataOptions): Record<SourceKind, ScanSource> {
  const { store, arns } = options;
  const shadows = new ShadowStore(store);
  const sessions = new SessionStore(store);
  const things = (
    options.registry ?? new Registry({ store, region: arns.region, accountId: arns.accountId })
  ).things;
  return {
    shadows: pagedSource<ShadowPosition>('shadows', async (after, limit) => {
      const page = await shadows.statePage(after, limit);
      return {
        items: page.shadows.map((shadow) => ({
          resourceArn: arns.thing(shadow.thingName),
          resourceType: 'shadow',
          ...(shadow.shadowName !== undefined ? { shadowName: shadow.shadowName } : {}),
          content: { state: shadow.state },
        })),
        ...(page.next ? { next: page.next } : {}),
      };
    }),
    retained: pagedSource<string>('retained', async (after, limit) => {
      const page = await RetainedMessages.storedPage(store, after, limit);
      return {
        items: page.messages.map((message) => ({
          resourceArn: arns.topic(message.topic),
          resourceType: 'retainedMessage',
          content: message.payload,
        })),
        ...(page.next !== undefined ? { next: page.next } : {}),
      };
    }),
    attributes: pagedSource<string>('attributes', async (after, limit) => {
      const page = await things.attributePage(after, limit);
      return {
        items: page.things.map((thing) => ({
          resourceArn: arns.thing(thing.thingName),
          resourceType: 'thingAttributes',
          content: { attributes: thing.attributes },
        })),
        ...(page.next !== undefined ? { next: page.next } : {}),
      };
    }),
    queued: pagedSource<{ clientId: string; seq: number }>('queued', async (after, limit) => {
      const page = await sessions.messagePage(after, limit);
      return {
        items: page.messages.map((message) => ({
          resourceArn: arns.client(message.clientId),
          resourceType: 'queuedMessage',
          recordIndex: message.seq,
          content: message.payload,
        })),
        ...(page.next ? { next: page.next } : {}),
      };
    }),
  };
}
