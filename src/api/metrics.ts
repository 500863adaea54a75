import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

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
