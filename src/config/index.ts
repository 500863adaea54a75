export { configSchema, LOG_LEVELS, type Config, type ConfigInput } from './schema.js';
export { loadConfig, envNameOf, type LoadConfigOptions } from './load.js';
