import type { Logger } from '../logs/logger.js';
import type { Store } from '../store/index.js';
import { IotArns } from '../api/iot-arns.js';
import { AWS_REGISTRY_LIMITS, RegistryContext, type RegistryLimits } from './context.js';
import { RegistryEvents, type RegistryEventSink } from './events.js';
import { TagService } from './tags.js';
import { ThingPrincipals } from './thing-principals.js';
import { ThingGroups } from './thing-groups.js';
import { ThingTypes } from './thing-types.js';
import { Things } from './things.js';

export interface RegistryOptions {
  store: Store;
  region: string;
  accountId: string;
  /** Where registry events are published when enabled; none: they are dropped. */
  events?: RegistryEventSink;
  logger?: Logger;
  /** How long a thing type must have been deprecated before it can be deleted (AWS: 5 minutes). */
  thingTypeDeletionDelayMs?: number;
  limits?: Partial<RegistryLimits>;
  /**
   * Whether a principal (certificate ARN) exists, asked before it is attached to a thing (the
   * pki capability answers); default: every well-formed certificate ARN of the account.
   */
  principalExists?: (principal: string) => Promise<boolean>;
  /** Epoch ms; tests may pin it. */
  clock?: () => number;
}

/**
 * The thing registry: things, thing types, thing groups, their tags, the principals attached to
 * things, and registry events.
 */
export class Registry {
  readonly arns: IotArns;
  readonly things: Things;
  /** Thing–principal attachments, with the broker's synchronous index (load it at start). */
  readonly principals: ThingPrincipals;
  readonly thingTypes: ThingTypes;
  readonly thingGroups: ThingGroups;
  readonly tags: TagService;
  readonly eventConfigurations: RegistryEvents;

  constructor(options: RegistryOptions) {
    const clock = options.clock ?? Date.now;
    this.arns = new IotArns(options.region, options.accountId);
    this.eventConfigurations = new RegistryEvents({
      store: options.store,
      sink: options.events,
      accountId: options.accountId,
      clock,
    });
    const context = new RegistryContext({
      store: options.store,
      arns: this.arns,
      events: this.eventConfigurations,
      clock,
      limits: { ...AWS_REGISTRY_LIMITS, ...options.limits },
      logger: options.logger,
    });
    this.principals = new ThingPrincipals(context, options.principalExists);
    this.things = new Things(context, this.principals);
    this.thingTypes = new ThingTypes(context, options.thingTypeDeletionDelayMs);
    this.thingGroups = new ThingGroups(context);
    this.tags = new TagService(context);
  }
}
