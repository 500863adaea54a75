export { DeviceLog, awsTimestamp, type DeviceLogOptions } from './device-log.js';
export {
  LOG_LEVEL_NAMES,
  LOG_TARGET_TYPES,
  resolveVerbosity,
  type LoggingOptions,
  type LogLevelName,
  type LogTargetType,
} from './levels.js';
export { createLogger, logDestination, type Logger } from './logger.js';
export { loggingOperations, MAX_LOG_TARGETS } from './operations.js';
export { loggingMigrations } from './settings.js';
export { rotatingFileSink, streamSink, type LineSink } from './sinks.js';
export { registryThingGroups, type ThingGroupSource } from './thing-groups.js';
