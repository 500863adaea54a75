/** What the broker enforces per connection; AWS IoT Core's values are the defaults (aws-iot-behaviour §1.2, §9). */
export interface BrokerLimits {
  maxClientIdBytes: number;
  maxPayloadBytes: number;
  /** Largest packet accepted from a client (payload plus headers); CONNACK Maximum Packet Size. */
  maxPacketBytes: number;
  maxTopicBytes: number;
  maxTopicSlashes: number;
  maxFiltersPerSubscribe: number;
  maxSubscriptionsPerConnection: number;
  /** Unacknowledged QoS 1/2 messages in each direction (CONNACK Receive Maximum). */
  maxInflight: number;
  /**
   * QoS 1/2 messages held in memory behind one session's inflight window. Beyond it a persistent
   * session's messages wait in the store only; a clean session's are dropped (and counted).
   */
  maxQueuedMessages: number;
  /** QoS 1/2 messages one persistent session may hold in all (memory and store); beyond it they are dropped, as AWS drops over its queue quota. */
  maxStoredMessagesPerSession: number;
  /** Seconds a subscriber may stay too far behind (messages to it being dropped) before it is disconnected. */
  slowConsumerSeconds: number;
  maxKeepAliveSeconds: number;
  topicAliasMaximum: number;
  /** Session expiry granted at most (AWS: 1 h by default, adjustable). */
  maxSessionExpirySeconds: number;
  /** PUBLISH packets a connection may send per second (AWS: 100); 0 for no limit. Beyond it, reading pauses. */
  maxPublishesPerSecond: number;
  /** Bytes a connection may send per second (AWS: 512 KB/s); 0 for no limit. Beyond it, reading pauses. */
  maxInboundBytesPerSecond: number;
  /** Retained messages kept in all; a new retained topic beyond it is refused (AWS: 500,000 per account). */
  maxRetainedMessages: number;
}

export const AWS_LIMITS: BrokerLimits = {
  maxClientIdBytes: 128,
  maxPayloadBytes: 128 * 1024,
  maxPacketBytes: 128 * 1024 + 64 * 1024,
  maxTopicBytes: 256,
  maxTopicSlashes: 7,
  maxFiltersPerSubscribe: 8,
  maxSubscriptionsPerConnection: 50,
  maxInflight: 100,
  maxQueuedMessages: 1000,
  maxStoredMessagesPerSession: 100_000,
  slowConsumerSeconds: 30,
  maxKeepAliveSeconds: 1200,
  topicAliasMaximum: 8,
  maxSessionExpirySeconds: 3600,
  maxRetainedMessages: 500_000,
  maxPublishesPerSecond: 100,
  maxInboundBytesPerSecond: 512 * 1024,
};
