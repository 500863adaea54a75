import { isBulwarkError } from '../errors.js';
import type { Registry } from '../registry/index.js';

/**
 * The thing groups a client's thing is in, for THING_GROUP log levels: for each group the thing
 * belongs to, that group and its ancestors, nearest first. Read from the registry (read-only) and
 * cached per thing for a while, since a client's level is worked out at every CONNECT and again
 * whenever the logging settings change.
 */
export interface ThingGroupSource {
  /** [] when no thing has this name. */
  groupChainsOf(thingName: string): Promise<string[][]>;
}

/** The registry's thing groups: ListThingGroupsForThing's groups, each with its rootToParent chain. */
export function registryThingGroups(registry: Pick<Registry, 'thingGroups'>): ThingGroupSource {
  return {
    async groupChainsOf(thingName) {
      let groups;
      try {
        // A thing is in 10 groups at most (AWS's limit, which the registry enforces).
        groups = await registry.thingGroups.groupsOfThing(thingName, { limit: 250 });
      } catch (error) {
        if (isBulwarkError(error, 'ResourceNotFound')) return [];
        throw error;
      }
      const chains: string[][] = [];
      for (const { groupName } of groups.items) {
        try {
          const description = await registry.thingGroups.describe(groupName);
          const rootToParent = description.thingGroupMetadata.rootToParentThingGroups;
          chains.push([groupName, ...rootToParent.map((group) => group.groupName).reverse()]);
        } catch (error) {
          // Deleted since it was listed: the thing is no longer in it.
          if (!isBulwarkError(error, 'ResourceNotFound')) throw error;
        }
      }
      return chains;
    },
  };
}

interface Cached {
  chains: string[][];
  loadedAt: number;
}

/** How long a thing's groups are trusted before they are read again. */
export const GROUPS_TTL_MS = 60_000;
const MAX_CACHED_THINGS = 10_000;

/**
 * The cache in front of a ThingGroupSource: one read per thing at a time, entries kept
 * `ttlMs` (then served while they are read again), at most MAX_CACHED_THINGS things (the
 * least recently loaded go first). A failed read caches "no groups" for the TTL.
 */
export class ThingGroupCache {
  private readonly entries = new Map<string, Cached>();
  private readonly loading = new Map<string, Promise<string[][]>>();

  constructor(
    private readonly source: ThingGroupSource,
    /** Called when a thing's groups turned out different from what was cached. */
    private readonly onChanged: () => void,
    private readonly onError: (error: unknown, thingName: string) => void,
    private readonly ttlMs = GROUPS_TTL_MS,
  ) {}

  /** What is known now, reading it again in the background once stale; undefined if never read. */
  peek(thingName: string, now: number): string[][] | undefined {
    const entry = this.entries.get(thingName);
    if (!entry || now - entry.loadedAt >= this.ttlMs) void this.load(thingName, true);
    return entry?.chains;
  }

  /** Fresh enough groups, read first if need be. Never rejects. */
  async get(thingName: string, now: number): Promise<string[][]> {
    const entry = this.entries.get(thingName);
    if (entry && now - entry.loadedAt < this.ttlMs) return entry.chains;
    return this.load(thingName, false);
  }

  /**
   * Reads a thing's groups. Clients already logging are told (onChanged) when the groups differ
   * from the cached ones, or, for a first read in the background (`announceFirst`), at all; a
   * caller awaiting the first read needs no telling.
   */
  private load(thingName: string, announceFirst: boolean): Promise<string[][]> {
    const pending = this.loading.get(thingName);
    if (pending) return pending;
    const loading = this.source
      .groupChainsOf(thingName)
      .catch((error: unknown) => {
        this.onError(error, thingName);
        return [] as string[][];
      })
      .then((chains) => {
        const before = this.entries.get(thingName);
        const changed = before
          ? JSON.stringify(before.chains) !== JSON.stringify(chains)
          : announceFirst;
        this.entries.delete(thingName);
        this.entries.set(thingName, { chains, loadedAt: Date.now() });
        if (this.entries.size > MAX_CACHED_THINGS)
          this.entries.delete(this.entries.keys().next().value as string);
        this.loading.delete(thingName);
        if (changed) this.onChanged();
        return chains;
      });
    this.loading.set(thingName, loading);
    return loading;
  }

  clear(): void {
    this.entries.clear();
  }
}
