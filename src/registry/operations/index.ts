import type { Operation } from '../../api/operation.js';
import type { Registry } from '../registry.js';
import { eventConfigurationOperations } from './event-configurations.js';
import { tagOperations } from './tags.js';
import { thingGroupOperations } from './thing-groups.js';
import { thingPrincipalOperations } from './thing-principals.js';
import { thingTypeOperations } from './thing-types.js';
import { thingOperations } from './things.js';

/** Every AWS IoT operation the registry serves, for the API server to mount. */
export function registryOperations(registry: Registry): Operation[] {
  return [
    ...thingOperations(registry),
    ...thingPrincipalOperations(registry),
    ...thingTypeOperations(registry),
    ...thingGroupOperations(registry),
    ...tagOperations(registry),
    ...eventConfigurationOperations(registry),
  ];
}
