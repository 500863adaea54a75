import type { SealedStore } from './sealed-store.js';

export interface RewrapProgress {
  /** Values re-sealed so far in this run. */
  done: number;
  /** Values that were on an old key version when the run started. */
  total: number;
  table: string;
}

export interface RewrapReport {
  rewrapped: number;
  /** Values a concurrent writer replaced before the job reached them (already on the newest version). */
  replacedMeanwhile: number;
  remaining: number;
}

/**
 * Moves every sealed value off old key versions onto the newest version of its own key, and
 * values not under a scope's own key onto the default key when that has changed. Each
 * value is replaced only if it is still the one that was read, so writers can run alongside;
 * a crashed run leaves every value either old or new, and running again finishes the job.
 */
export async function rewrapAll(
  store: SealedStore,
  options: { batchSize?: number; onProgress?: (progress: RewrapProgress) => void } = {},
): Promise<RewrapReport> {
  const batchSize = options.batchSize ?? 500;
  const total = await countOnOldVersions(store, batchSize);
  let rewrapped = 0;
  let replacedMeanwhile = 0;
  for (const def of store.tableDefs()) {
    if (def.sealed.length === 0) continue;
    for await (const batch of batches(store, def.name, batchSize)) {
      for (const row of batch) {
        for (const [column, sealed] of Object.entries(row.sealed)) {
          if (!store.needsRewrap(sealed)) continue;
          if (await store.rewrapValue(def.name, row.key, column, sealed)) rewrapped += 1;
          else replacedMeanwhile += 1;
        }
      }
      options.onProgress?.({ done: rewrapped + replacedMeanwhile, total, table: def.name });
    }
  }
  return { rewrapped, replacedMeanwhile, remaining: await countOnOldVersions(store, batchSize) };
}

/** Sealed values that rewrap would move (Sealer.needsRewrap). */
export async function countOnOldVersions(store: SealedStore, batchSize = 500): Promise<number> {
  let count = 0;
  for (const def of store.tableDefs()) {
    if (def.sealed.length === 0) continue;
    for await (const batch of batches(store, def.name, batchSize)) {
      for (const row of batch)
        for (const sealed of Object.values(row.sealed)) if (store.needsRewrap(sealed)) count += 1;
    }
  }
  return count;
}

async function* batches(store: SealedStore, table: string, batchSize: number) {
  let after: Record<string, unknown> | undefined;
  for (;;) {
    const batch = await store.scanSealed(table, after, batchSize);
    if (batch.length > 0) yield batch;
    if (batch.length < batchSize) return;
    after = (batch[batch.length - 1] as { key: Record<string, unknown> }).key;
  }
}
