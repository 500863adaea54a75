import { isBulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import type { Store } from '../store/index.js';
import {
  acceptedResponse,
  applyUpdate,
  deletedResponse,
  deltaResponse,
  documentsResponse,
  getResponse,
  type DocumentLimits,
  type UpdateRequest,
} from './document.js';
import { internalFailure, noSuchShadow, ShadowError, versionConflict } from './errors.js';
import { topicPrefix, type ShadowId } from './names.js';
import { ShadowStore, type ShadowWrite, type StoredShadow } from './shadow-store.js';

/** A deleted shadow's version is continued by a shadow of the same name re-created within this. */
const DELETED_VERSION_KEPT_MS = 48 * 60 * 60 * 1000;
/** Writers racing on one shadow from other processes read again and retry, this many times at most. */
const MAX_WRITE_ATTEMPTS = 100;

/** A random pause before a retry, so racing processes stop colliding in lockstep. */
function backOff(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(attempt, 10)));
}

export interface ShadowServiceOptions {
  store: Store;
  limits: DocumentLimits;
  /** Publishes a response document to MQTT subscribers (the broker, QoS 1). */
  publish(topic: string, payload: Buffer): Promise<void>;
  logger: Logger;
}

function encode(document: object): Buffer {
  return Buffer.from(JSON.stringify(document), 'utf8');
}

/** A change to one shadow, queued behind the others of the same shadow. */
type Change = { kind: 'update'; request: UpdateRequest } | { kind: 'delete'; clientToken?: string };

/** What a change led to: the response document and what to publish, or AWS's error. */
type ChangeOutcome =
  | { kind: 'done'; response: object; messages: [suffix: string, document: object][] }
  | { kind: 'refused'; error: ShadowError };

interface QueuedChange {
  change: Change;
  resolve(outcome: ChangeOutcome): void;
  reject(error: unknown): void;
}

/**
 * The Device Shadow service (aws-iot-behaviour §5): get, update and delete of classic and named
 * shadows, for both faces (MQTT requests on the reserved topics and the HTTPS data plane).
 *
 * Changes to one shadow queue up and are applied in arrival order; whatever queued while one
 * write was being committed is applied together and committed in one write, each change still
 * getting its own version and its own responses, published in version order. So concurrent MQTT
 * and HTTPS updates never lose an update or skip a version, and a busy shadow costs one commit
 * per batch rather than one per update. The store's slot rule catches a writer in another process.
 */
export class ShadowService {
  readonly limits: DocumentLimits;
  private readonly shadows: ShadowStore;
  private readonly publish: ShadowServiceOptions['publish'];
  private readonly logger: Logger;
  private readonly queues = new Map<string, QueuedChange[]>();

  constructor(options: ShadowServiceOptions) {
    this.limits = options.limits;
    this.shadows = new ShadowStore(options.store);
    this.publish = options.publish;
    this.logger = options.logger.child({ component: 'shadow' });
  }

  /** The whole document with its delta, or 404. */
  async get(id: ShadowId, clientToken?: string): Promise<object> {
    const latest = await this.shadows.latest(id);
    if (!latest?.document || latest.deletedAt !== undefined)
      throw noSuchShadow(id.thingName, id.shadowName);
    return getResponse(latest.document, Date.now(), clientToken);
  }

  /**
   * Applies an update; `/update/accepted`, `/update/delta` (when desired and reported differ)
   * and `/update/documents` reach subscribers before it resolves with the accepted document.
   */
  update(id: ShadowId, request: UpdateRequest): Promise<object> {
    return this.change(id, { kind: 'update', request });
  }

  /** Deletes the shadow (its version is remembered); `/delete/accepted` reaches subscribers. */
  delete(id: ShadowId, clientToken?: string): Promise<object> {
    return this.change(id, {
      kind: 'delete',
      ...(clientToken !== undefined ? { clientToken } : {}),
    });
  }

  private async change(id: ShadowId, change: Change): Promise<object> {
    const outcome = await new Promise<ChangeOutcome>((resolve, reject) => {
      const key = `${id.thingName}\u0000${id.shadowName ?? ''}`;
      const queue = this.queues.get(key);
      if (queue) queue.push({ change, resolve, reject });
      else {
        this.queues.set(key, [{ change, resolve, reject }]);
        void this.drain(id, key);
      }
    });
    if (outcome.kind === 'refused') throw outcome.error;
    return outcome.response;
  }

  /** Applies the shadow's queued changes, a batch at a time, until none are left. */
  private async drain(id: ShadowId, key: string): Promise<void> {
    const queue = this.queues.get(key) as QueuedChange[];
    const prefix = topicPrefix(id);
    while (queue.length > 0) {
      const batch = queue.splice(0);
      let outcomes: ChangeOutcome[];
      try {
        outcomes = await this.apply(
          id,
          batch.map((queued) => queued.change),
        );
      } catch (error) {
        for (const queued of batch) queued.reject(error);
        continue;
      }
      for (const [index, outcome] of outcomes.entries()) {
        if (outcome.kind === 'done')
          for (const [suffix, document] of outcome.messages)
            await this.publish(`${prefix}${suffix}`, encode(document));
        batch[index]?.resolve(outcome);
      }
    }
    this.queues.delete(key);
  }

  /** Applies `changes` in order to the stored shadow and commits the result in one write. */
  private async apply(id: ShadowId, changes: Change[]): Promise<ChangeOutcome[]> {
    for (let attempt = 1; ; attempt++) {
      const latest = await this.shadows.latest(id);
      const now = Date.now();
      let live = latest?.deletedAt === undefined ? latest?.document : undefined;
      let version = this.baseVersion(latest, now);
      let changed = false;
      const outcomes = changes.map((change): ChangeOutcome => {
        if (change.kind === 'delete') {
          if (!live) return { kind: 'refused', error: noSuchShadow(id.thingName, id.shadowName) };
          const deleted = deletedResponse(live.version, now, change.clientToken);
          live = undefined;
          changed = true;
          return { kind: 'done', response: deleted, messages: [['/delete/accepted', deleted]] };
        }
        const { request } = change;
        try {
          if (request.version !== undefined && request.version !== version) throw versionConflict();
          const current = applyUpdate(live, version, request, now, this.limits);
          const accepted = acceptedResponse(request, current.version, now);
          const delta = deltaResponse(current, now, request.clientToken);
          const documents = documentsResponse(live, current, now, request.clientToken);
          live = current;
          version = current.version;
          changed = true;
          return {
            kind: 'done',
            response: accepted,
            messages: [
              ['/update/accepted', accepted],
              ...(delta ? [['/update/delta', delta] as [string, object]] : []),
              ['/update/documents', documents],
            ],
          };
        } catch (error) {
          if (error instanceof ShadowError) return { kind: 'refused', error };
          throw error;
        }
      });
      if (!changed) return outcomes;
      const write: ShadowWrite = live
        ? { kind: 'document', document: live }
        : { kind: 'tombstone', version };
      if (await this.write(id, latest, write, now)) return outcomes;
      if (attempt === MAX_WRITE_ATTEMPTS) throw internalFailure();
      await backOff(attempt);
    }
  }

  /** A page of the thing's named shadows (the classic one is not listed); none for an unknown thing. */
  async listNamed(
    thingName: string,
    pageSize: number,
    after: string | undefined,
  ): Promise<{ names: string[]; more: boolean }> {
    const names = await this.shadows.namedShadows(thingName, after, pageSize);
    return { names: names.slice(0, pageSize), more: names.length > pageSize };
  }

  /** The version a write continues from: the live shadow's, a recently deleted one's, else 0. */
  private baseVersion(latest: StoredShadow | undefined, now: number): number {
    if (!latest) return 0;
    if (latest.deletedAt === undefined) return latest.version;
    return now - latest.deletedAt < DELETED_VERSION_KEPT_MS ? latest.version : 0;
  }

  private async write(
    id: ShadowId,
    latest: StoredShadow | undefined,
    write: ShadowWrite,
    now: number,
  ): Promise<boolean> {
    try {
      return await this.shadows.replace(id, latest, write, now);
    } catch (error) {
      // The thing's key erased or disabled: its shadows can no longer be sealed.
      if (isBulwarkError(error) && error.code.startsWith('Key'))
        throw new ShadowError(
          403,
          `The shadow cannot be stored: the key of thing ${id.thingName} is unusable (${error.message})`,
        );
      throw error;
    }
  }

  /** Logs an unexpected failure and returns what the client is told (500, no detail). */
  internalError(error: unknown, id: ShadowId): ShadowError {
    if (error instanceof ShadowError) return error;
    this.logger.error(
      { err: error, thingName: id.thingName, shadowName: id.shadowName },
      'shadow request failed',
    );
    return internalFailure();
  }
}
