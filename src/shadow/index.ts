export { ShadowService, type ShadowServiceOptions } from './service.js';
export { ShadowTopics } from './mqtt.js';
export { shadowOperations } from './operations.js';
export { shadowMigrations } from './shadow-store.js';
