import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BrokerObserver } from '../broker/index.js';

/** The process-wide metrics registry served at `/metrics`: Node's own metrics, then each part's. */
export function createMetricsRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'bulwark_' });
  return registry;
}

/** What the API counts: every request by AWS operation name and HTTP status, and how long it took. */
export class ApiMetrics {
  readonly requests: Counter<'operation' | 'status'>;
  readonly duration: Histogram<'operation'>;

  constructor(readonly registry: Registry) {
    this.requests = new Counter({
      name: 'bulwark_api_requests_total',
      help: 'HTTP API requests, by AWS operation name (UnknownOperation when no route matched) and status',
      labelNames: ['operation', 'status'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'bulwark_api_request_duration_seconds',
      help: 'HTTP API request duration, by AWS operation name',
      labelNames: ['operation'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
  }
}

/**
 * What the broker counts: requests refused (by authentication, or by policy per action), messages
 * dropped for a subscriber, and the connections open now.
 */
export function brokerMetrics(registry: Registry, connections: () => number): BrokerObserver {
  const denied = new Counter({
    name: 'bulwark_mqtt_denied_total',
    help: 'MQTT requests refused: authenticate (no accepted credentials) or an action denied by policy (connect, publish, retain, subscribe, receive)',
    labelNames: ['action'],
    registers: [registry],
  });
  const dropped = new Counter({
    name: 'bulwark_mqtt_dropped_messages_total',
    help: 'Messages dropped for one subscriber: backlog (QoS 0 past 1 MB unsent) or queue-limit (past the queue limits)',
    labelNames: ['reason'],
    registers: [registry],
  });
  new Gauge({
    name: 'bulwark_mqtt_connections',
    help: 'MQTT connections open now, on every listener',
    registers: [registry],
    collect() {
      this.set(connections());
    },
  });
  return {
    denied: (action) => denied.inc({ action }),
    dropped: (reason) => dropped.inc({ reason }),
  };
}
