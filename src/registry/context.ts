import type { Logger } from '../logs/logger.js';
import type { Store, StoreWriter } from '../store/index.js';
import type { IotArns } from '../api/iot-arns.js';
import type { RegistryEvent, RegistryEvents } from './events.js';
import { WRITE_LOCK_TABLE } from './migrations.js';

/** AWS IoT's registry quotas (aws-iot-behaviour §9, AWS IoT Device Management limits). */
export interface RegistryLimits {
  attributesWithoutType: number;
  attributesWithType: number;
  searchableAttributes: number;
  groupAttributes: number;
  groupDepth: number;
  childGroups: number;
  groupsPerThing: number;
  tagsPerResource: number;
}

export const AWS_REGISTRY_LIMITS: RegistryLimits = {
  attributesWithoutType: 3,
  attributesWithType: 50,
  searchableAttributes: 3,
  groupAttributes: 50,
  groupDepth: 7,
  childGroups: 100,
  groupsPerThing: 10,
  tagsPerResource: 50,
};

/** A write's work: its transaction, and where to put the events it produces. */
export type RegistryWork<T> = (tx: StoreWriter, emit: (event: RegistryEvent) => void) => Promise<T>;

/** What the registry's services share. */
export class RegistryContext {
  readonly store: Store;
  readonly arns: IotArns;
  readonly events: RegistryEvents;
  readonly clock: () => number;
  readonly limits: RegistryLimits;
  private readonly logger: Logger | undefined;

  constructor(options: {
    store: Store;
    arns: IotArns;
    events: RegistryEvents;
    clock: () => number;
    limits: RegistryLimits;
    logger: Logger | undefined;
  }) {
    this.store = options.store;
    this.arns = options.arns;
    this.events = options.events;
    this.clock = options.clock;
    this.limits = options.limits;
    this.logger = options.logger;
  }

  /**
   * Runs a registry write in one transaction that first touches the registry's lock row, so
   * registry writes take turns across every process on the database: a version check, a limit
   * check or an existence check and the write that depends on it cannot interleave with another
   * writer's. Events are published only once the transaction has committed.
   */
  async write<T>(work: RegistryWork<T>): Promise<T> {
    const events: RegistryEvent[] = [];
    const result = await this.store.transaction(async (tx) => {
      await tx.put(WRITE_LOCK_TABLE, { name: 'registry', touched_at: this.clock() });
      return work(tx, (event) => events.push(event));
    });
    try {
      await this.events.publish(events);
    } catch (error) {
      // The write stands; a lost event is reported without its payload (it may hold attributes).
      this.logger?.error(
        { err: error, events: events.map((event) => event.topic) },
        'registry events could not be published',
      );
    }
    return result;
  }
}
