import type { IotArns } from '../api/iot-arns.js';
import { BulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import type { Store, StoreWriter } from '../store/index.js';
import { POLICY_GENERATION_ROW, POLICY_LOCK_ROW, type PolicyDecisions } from './decisions.js';
import { POLICY_WRITE_LOCK_TABLE } from './migrations.js';

/** What a policy target is: a device certificate, or a thing group (and, through it, its things). */
export type PolicyTarget =
  { kind: 'cert'; certificateId: string } | { kind: 'thinggroup'; name: string };

/** The policy target an ARN names; undefined for anything else (another account, another kind). */
export function policyTargetOf(arns: IotArns, arn: string): PolicyTarget | undefined {
  const resource = arns.resourceOf(arn);
  if (resource?.type === 'cert' && /^[0-9a-f]{64}$/.test(resource.id))
    return { kind: 'cert', certificateId: resource.id };
  if (resource?.type === 'thinggroup' && /^[a-zA-Z0-9:_-]{1,128}$/.test(resource.id))
    return { kind: 'thinggroup', name: resource.id };
  return undefined;
}

/**
 * The thing registry as the policy service needs it. The app builds it on the Registry's public
 * interface (`registryDirectory`); the policy service never reads the registry's tables.
 */
export interface ThingGroupDirectory {
  /** The group's ancestors, root first; ResourceNotFound when the group does not exist. */
  ancestorsOf(groupName: string): Promise<string[]>;
  /** The groups the thing is a member of; ResourceNotFound when the thing does not exist. */
  groupsOfThing(thingName: string): Promise<string[]>;
}

/** What the policy services share: the store, ARNs, the clock and the in-memory decisions. */
export class PolicyServiceContext {
  readonly store: Store;
  readonly arns: IotArns;
  readonly decisions: PolicyDecisions;
  readonly directory: ThingGroupDirectory;
  readonly clock: () => number;
  readonly logger: Logger | undefined;

  constructor(options: {
    store: Store;
    arns: IotArns;
    decisions: PolicyDecisions;
    directory: ThingGroupDirectory;
    clock: () => number;
    logger: Logger | undefined;
  }) {
    this.store = options.store;
    this.arns = options.arns;
    this.decisions = options.decisions;
    this.directory = options.directory;
    this.clock = options.clock;
    this.logger = options.logger;
  }

  /**
   * Runs a policy write in one transaction that first takes the policy lock row (so checks and
   * writes cannot interleave with another process's), and counts it in the generation row.
   * Returns the work's result and the generation the write committed as.
   */
  async write<T>(
    work: (tx: StoreWriter) => Promise<T>,
  ): Promise<{ result: T; generation: number }> {
    return this.store.transaction(async (tx) => {
      await tx.put(POLICY_WRITE_LOCK_TABLE, { name: POLICY_LOCK_ROW, generation: 0 });
      const counter = await tx.get(POLICY_WRITE_LOCK_TABLE, { name: POLICY_GENERATION_ROW });
      const generation = ((counter?.generation as number | undefined) ?? 0) + 1;
      await tx.put(POLICY_WRITE_LOCK_TABLE, { name: POLICY_GENERATION_ROW, generation });
      return { result: await work(tx), generation };
    });
  }
}

export function policyNotFound(name: string): BulwarkError {
  return new BulwarkError('ResourceNotFound', `Policy ${name} does not exist`);
}

/** ListPolicies' and friends' paging: `marker` in, `nextMarker` out, `pageSize` 1–250. */
export const MAX_PAGE_SIZE = 250;

export interface MarkerPage<T> {
  items: T[];
  nextMarker?: string;
}

/** Markers are opaque: the list they belong to and the key to resume after. */
export function encodeMarker(list: string, after: string): string {
  return Buffer.from(JSON.stringify({ l: list, a: after }), 'utf8').toString('base64url');
}

export function decodeMarker(marker: string | undefined, list: string): string | undefined {
  if (marker === undefined) return undefined;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(marker, 'base64url').toString('utf8'));
  } catch {
    throw new BulwarkError('InvalidRequest', 'The marker is not valid');
  }
  const { l, a } = (decoded ?? {}) as { l?: unknown; a?: unknown };
  if (l !== list || typeof a !== 'string')
    throw new BulwarkError('InvalidRequest', 'The marker is not valid');
  return a;
}

/** One page of items sorted by a distinct key (descending when said so). */
export function pageOf<T>(
  list: string,
  items: readonly T[],
  keyOf: (item: T) => string,
  request: { marker?: string; pageSize: number; descending?: boolean },
): MarkerPage<T> {
  const after = decodeMarker(request.marker, list);
  // Resume past the marker's key, even if its item has gone since.
  const rest =
    after === undefined
      ? items
      : items.filter((item) => (request.descending ? keyOf(item) < after : keyOf(item) > after));
  const page = rest.slice(0, request.pageSize);
  const last = page[page.length - 1];
  return rest.length > request.pageSize && last !== undefined
    ? { items: page, nextMarker: encodeMarker(list, keyOf(last)) }
    : { items: page };
}
