export {
  ALTERNATIVE_NAME_FIELDS,
  NAME_FIELDS,
  type AlternativeNameFields,
  type AuthorizationContext,
  type CertificateFields,
  type ConnectedThing,
  type NameFields,
} from './context.js';
export { PolicyDecisions } from './decisions.js';
export {
  DEV_LISTENER_DOCUMENT,
  DEV_LISTENER_POLICY,
  ensureDevListenerPolicy,
} from './dev-listener.js';
export { MAX_POLICY_DOCUMENT_CHARACTERS, PolicyDocument } from './document.js';
export { evaluate, explain, IOT_ACTIONS, type Decision, type NamedPolicy } from './evaluate.js';
export { policyMigrations } from './migrations.js';
export { policyApiOperations as policyOperations } from './operations/index.js';
export { type ThingGroupDirectory } from './service-context.js';
export { PolicyService, registryDirectory, type PolicyServiceOptions } from './service.js';
export type { ThingOfClient } from './test-authorization.js';
