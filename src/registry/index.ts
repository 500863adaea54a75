export { registryResourceOf, type ResourceKind, type ResourceRef } from './arns.js';
export { AWS_REGISTRY_LIMITS, type RegistryLimits } from './context.js';
export { EVENT_TYPES, type EventType, type RegistryEventSink } from './events.js';
export { registryMigrations } from './migrations.js';
export { registryOperations } from './operations/index.js';
export { Registry, type RegistryOptions } from './registry.js';
