import { isBulwarkError } from '../errors.js';
import {
  readPage,
  UNREADABLE,
  type Migration,
  type Row,
  type Store,
  type StoreWriter,
} from '../store/index.js';
import type { ShadowDocument, Sections } from './document.js';
import type { ShadowId } from './names.js';

export const SHADOWS_TABLE = 'shadows';

/**
 * One row per shadow: its latest write, in a numbered slot. Each write inserts the next slot and
 * removes the one it replaced, in one transaction, so two writers that read the same slot cannot
 * both succeed (the second insert violates the primary key): no update is lost, no version
 * skipped, across processes sharing one PostgreSQL. A deleted shadow leaves a tombstone slot that
 * remembers its version, which a shadow re-created within 48 h continues (§5.2).
 */
export const shadowMigrations: Migration[] = [
  {
    id: 'shadow-0001-shadows',
    steps: [
      {
        createTable: {
          name: SHADOWS_TABLE,
          columns: {
            thing_name: { type: 'text' },
            // '' for the classic shadow, which sorts before every named one.
            shadow_name: { type: 'text' },
            slot: { type: 'integer' },
            version: { type: 'integer' },
            deleted_at: { type: 'integer', nullable: true },
            updated_at: { type: 'integer' },
          },
          primaryKey: ['thing_name', 'shadow_name', 'slot'],
          // State and metadata are sealed under the thing's own key, with its attributes:
          // erasing `thing/{name}` erases its shadows too.
          sealed: ['document'],
          scope: { column: 'thing_name', prefix: 'thing' },
        },
      },
    ],
  },
];

/** A shadow's latest slot as stored: live, deleted (a tombstone), or unreadable (its key erased). */
export interface StoredShadow {
  slot: number;
  version: number;
  deletedAt?: number;
  /** Undefined for a tombstone and for a shadow whose key was erased. */
  document?: ShadowDocument;
}

/** A live shadow's state, as a walk over every stored shadow reads it. */
export interface ShadowState {
  thingName: string;
  /** Absent for the classic shadow. */
  shadowName?: string;
  state: Sections;
}

/** Where a walk over every stored shadow stands: past this shadow, whatever its slot. */
export interface ShadowPosition {
  thingName: string;
  /** '' for the classic shadow. */
  shadowName: string;
}

/** What the next write of a shadow puts in place of the slot it read. */
export type ShadowWrite =
  { kind: 'document'; document: ShadowDocument } | { kind: 'tombstone'; version: number };

function keyOf(id: ShadowId): { thing_name: string; shadow_name: string } {
  return { thing_name: id.thingName, shadow_name: id.shadowName ?? '' };
}

interface PendingWrite {
  id: ShadowId;
  read: StoredShadow | undefined;
  row: Row;
  resolve(written: boolean): void;
  reject(error: unknown): void;
}

function rowOf(
  id: ShadowId,
  read: StoredShadow | undefined,
  write: ShadowWrite,
  nowMs: number,
): Row {
  const slot = { ...keyOf(id), slot: (read?.slot ?? 0) + 1, updated_at: nowMs };
  return write.kind === 'document'
    ? {
        ...slot,
        version: write.document.version,
        deleted_at: null,
        document: { state: write.document.state, metadata: write.document.metadata },
      }
    : { ...slot, version: write.version, deleted_at: nowMs, document: null };
}

/** Takes the next slot and frees the one it replaces. */
async function writeSlot(tx: StoreWriter, pending: PendingWrite): Promise<void> {
  await tx.insert(SHADOWS_TABLE, pending.row);
  if (pending.read)
    await tx.delete(SHADOWS_TABLE, { ...keyOf(pending.id), slot: pending.read.slot });
}

function isStoreConstraint(error: unknown): boolean {
  return isBulwarkError(error) && error.code === 'StoreConstraint';
}

/** A lost race on the slot is `false`; anything else fails the write. */
function settle(pending: PendingWrite, error: unknown): void {
  if (isStoreConstraint(error)) pending.resolve(false);
  else pending.reject(error);
}

/** The store's tables for shadows, read and written by slot. */
export class ShadowStore {
  private pending: PendingWrite[] = [];

  constructor(private readonly store: Store) {}

  async latest(id: ShadowId): Promise<StoredShadow | undefined> {
    const [row] = await this.store.list(SHADOWS_TABLE, {
      where: keyOf(id),
      newestFirst: true,
      limit: 1,
      onUnreadable: 'mark',
    });
    if (!row) return undefined;
    const stored = row.document as { state: Sections; metadata: Sections } | null | undefined;
    return {
      slot: row.slot as number,
      version: row.version as number,
      ...(row.deleted_at !== null ? { deletedAt: row.deleted_at as number } : {}),
      ...(stored && !(UNREADABLE in row)
        ? { document: { ...stored, version: row.version as number } }
        : {}),
    };
  }

  /**
   * Replaces the slot `read` (undefined: none yet) with the next one. Resolves false when another
   * writer replaced it first: the caller reads again and retries.
   *
   * Group commit: the writes asked for in one turn of the event loop share one transaction, so
   * one fsync serves many shadows. If that transaction hits a slot another process took, each of
   * its writes is retried alone, to tell the one that lost from those that did not.
   */
  replace(
    id: ShadowId,
    read: StoredShadow | undefined,
    write: ShadowWrite,
    nowMs: number,
  ): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.pending.push({ id, read, row: rowOf(id, read, write, nowMs), resolve, reject });
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    try {
      await this.store.transaction(async (tx) => {
        for (const pending of batch) await writeSlot(tx, pending);
      });
      for (const pending of batch) pending.resolve(true);
    } catch (error) {
      if (batch.length === 1 || !isStoreConstraint(error)) {
        for (const pending of batch) settle(pending, error);
        return;
      }
      for (const pending of batch) {
        try {
          await this.store.transaction((tx) => writeSlot(tx, pending));
          pending.resolve(true);
        } catch (alone) {
          settle(pending, alone);
        }
      }
    }
  }

  /**
   * Up to `limit` stored shadow rows after `after`, in key order, read as one page: the live
   * ones' states (tombstones and shadows whose key was erased are passed over), and where the
   * next page starts (absent after the last row). A position lies past every slot of its shadow,
   * so a shadow rewritten meanwhile (its slot moves on) is not read twice.
   */
  async statePage(
    after: ShadowPosition | undefined,
    limit: number,
  ): Promise<{ shadows: ShadowState[]; next?: ShadowPosition }> {
    const { rows, last } = await readPage(
      this.store,
      SHADOWS_TABLE,
      after
        ? {
            thing_name: after.thingName,
            shadow_name: after.shadowName,
            slot: Number.MAX_SAFE_INTEGER,
          }
        : undefined,
      limit,
    );
    const shadows: ShadowState[] = [];
    for (const row of rows) {
      const stored = row.document as { state: Sections } | null | undefined;
      if (row.deleted_at !== null || !stored || UNREADABLE in row) continue;
      const shadowName = row.shadow_name as string;
      shadows.push({
        thingName: row.thing_name as string,
        ...(shadowName !== '' ? { shadowName } : {}),
        state: stored.state,
      });
    }
    return last
      ? {
          shadows,
          next: { thingName: last.thing_name as string, shadowName: last.shadow_name as string },
        }
      : { shadows };
  }

  /** Names of a thing's named shadows that exist, in order, after `after`; at most `limit`. */
  async namedShadows(
    thingName: string,
    after: string | undefined,
    limit: number,
  ): Promise<string[]> {
    const names: string[] = [];
    let cursor: Row = {
      thing_name: thingName,
      shadow_name: after ?? '',
      slot: Number.MAX_SAFE_INTEGER,
    };
    for (;;) {
      const rows = await this.store.list(SHADOWS_TABLE, {
        where: { thing_name: thingName },
        after: cursor,
        limit: limit + 1,
        onUnreadable: 'mark',
      });
      for (const row of rows) {
        if (row.deleted_at === null) names.push(row.shadow_name as string);
        if (names.length > limit) return names;
      }
      const last = rows[rows.length - 1];
      if (!last || rows.length < limit + 1) return names;
      cursor = { thing_name: thingName, shadow_name: last.shadow_name, slot: last.slot };
    }
  }
}
