export { Broker, type BrokerObserver, type BrokerOptions } from './broker.js';
export {
  Verbosity,
  type BrokerEvent,
  type BrokerEvents,
  type BrokerEventType,
  type ClientEventLog,
  type ClientIdentity,
  type EventLevel,
} from './events.js';
export { type AccessControl, type BrokerAction, type Principal } from './access.js';
export { AWS_LIMITS, type BrokerLimits } from './limits.js';
export { RetainedMessages, retainedMigrations } from './retained.js';
export { SessionStore, sessionMigrations } from './session-store.js';
export { listenDev } from './transports/tcp.js';
export { listenTls } from './transports/tls.js';
export { type TopicRequest, type TopicService } from './topic-services.js';
