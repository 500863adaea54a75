import type { Logger } from '../logs/logger.js';
import type { Registry } from '../registry/index.js';
import type { Store } from '../store/index.js';
import type { PolicyDecisions } from './decisions.js';
import { Policies } from './policies.js';
import { IotArns } from '../api/iot-arns.js';
import { PolicyServiceContext, type ThingGroupDirectory } from './service-context.js';
import { PolicyTargets } from './targets.js';
import { AuthorizationTester, type ThingOfClient } from './test-authorization.js';

export interface PolicyServiceOptions {
  store: Store;
  region: string;
  accountId: string;
  /** The in-memory decision point every write updates. */
  decisions: PolicyDecisions;
  directory: ThingGroupDirectory;
  thingOfClient?: ThingOfClient;
  logger?: Logger;
  /** Epoch ms; tests may pin it. */
  clock?: () => number;
}

/** The IoT policy APIs' services: policies and versions, attachments, TestAuthorization. */
export class PolicyService {
  readonly arns: IotArns;
  readonly policies: Policies;
  readonly targets: PolicyTargets;
  readonly tester: AuthorizationTester;

  constructor(options: PolicyServiceOptions) {
    this.arns = new IotArns(options.region, options.accountId);
    const context = new PolicyServiceContext({
      store: options.store,
      arns: this.arns,
      decisions: options.decisions,
      directory: options.directory,
      clock: options.clock ?? Date.now,
      logger: options.logger,
    });
    this.policies = new Policies(context);
    this.targets = new PolicyTargets(context);
    this.tester = new AuthorizationTester(context, this.targets, options.thingOfClient);
  }
}

/** Thing groups and memberships through the Registry's public interface. */
export function registryDirectory(registry: Registry): ThingGroupDirectory {
  return {
    async ancestorsOf(groupName) {
      const group = await registry.thingGroups.describe(groupName);
      return group.thingGroupMetadata.rootToParentThingGroups.map((parent) => parent.groupName);
    },
    async groupsOfThing(thingName) {
      // A thing is in at most 10 groups, so one page holds them all.
      const page = await registry.thingGroups.groupsOfThing(thingName, { limit: 250 });
      return page.items.map((group) => group.groupName);
    },
  };
}
