import type { Operation } from '../../api/operation.js';
import type { PolicyService } from '../service.js';
import { policyOperations } from './policies.js';
import { targetOperations } from './targets.js';

/** Every AWS IoT policy operation, for the API server to mount. */
export function policyApiOperations(service: PolicyService): Operation[] {
  return [...policyOperations(service), ...targetOperations(service)];
}
