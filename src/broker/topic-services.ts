import type { BrokerEvent } from './events.js';

/** One request a client published on a service's reserved topic, after policy allowed the publish. */
export interface TopicRequest {
  topic: string;
  payload: Buffer;
  /** The connection (or HTTPS request) it came on, as an opaque identity for per-connection limits. */
  requester: object;
  /** Writes the outcome to the requesting client's device log (a connection's only). */
  report?(event: BrokerEvent): void;
}

/**
 * A service that answers requests devices publish on reserved topics (device shadows; jobs
 * later). The broker still routes the message to subscribers as any other; the service answers
 * by publishing its responses through the broker, so they reach subscribers only.
 */
export interface TopicService {
  accepts(topic: string): boolean;
  /** Takes one request; it must not throw (a failure is the service's to report). */
  request(request: TopicRequest): void;
}
