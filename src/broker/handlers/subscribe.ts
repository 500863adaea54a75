import type { ISubscribePacket, QoS } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { reasonName, Verbosity } from '../events.js';
import { Reason, type ReasonCode } from '../reason-codes.js';
import type { SubscriptionOptions } from '../session.js';
import { parseSharedFilter, validateTopicFilter } from '../topics/topic-validation.js';

/** The SUBACK code for a refused filter: MQTT 5's reason, or 3.1.1's single failure code 0x80. */
function failure(
  connection: Connection,
  filter: string,
  reason: ReasonCode,
  details: string,
): number {
  if (connection.logsAt(Verbosity.ERROR))
    connection.log!.write({
      eventType: 'Subscribe',
      level: Verbosity.ERROR,
      status: 'Failure',
      topicName: filter,
      reason: reasonName(reason),
      details,
    });
  return connection.version === 5 ? reason : 0x80;
}

export async function handleSubscribe(
  connection: Connection,
  packet: ISubscribePacket,
): Promise<void> {
  const { broker } = connection;
  const session = connection.session;
  if (!session) return;
  // [MQTT-3.8.3-3] A SUBSCRIBE must carry at least one filter.
  if (packet.subscriptions.length === 0)
    return connection.protocolViolation(Reason.ProtocolError, 'SUBSCRIBE without a topic filter');
  const subscriptionIdentifier = packet.properties?.subscriptionIdentifier;
  const granted: number[] = [];
  const retainedFor: { filter: string; options: SubscriptionOptions }[] = [];
  const subscribed: string[] = [];

  packet.subscriptions.forEach((subscription, position) => {
    const { topic: filter } = subscription;
    if (position >= broker.limits.maxFiltersPerSubscribe)
      return granted.push(
        failure(
          connection,
          filter,
          Reason.QuotaExceeded,
          `more than ${broker.limits.maxFiltersPerSubscribe} filters in one SUBSCRIBE`,
        ),
      );
    const invalid = validateTopicFilter(filter, broker.topicLimits);
    if (invalid) {
      broker.logger.info(
        { clientId: connection.clientId, filter, why: invalid },
        'SUBSCRIBE filter refused',
      );
      return granted.push(failure(connection, filter, Reason.TopicFilterInvalid, invalid));
    }
    const shared = parseSharedFilter(filter);
    // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error.
    if (shared && subscription.nl)
      return connection.protocolViolation(
        Reason.ProtocolError,
        'No Local set on a shared subscription',
      );
    if (!broker.access.authorize(connection.principal!, 'subscribe', filter, connection.clientId)) {
      broker.countDenied(connection, 'subscribe', filter);
      return granted.push(
        failure(
          connection,
          filter,
          Reason.NotAuthorized,
          'not authorized to subscribe to this filter',
        ),
      );
    }
    const isNew = !session.subscriptions.has(filter);
    if (isNew && session.subscriptions.size >= broker.limits.maxSubscriptionsPerConnection)
      return granted.push(
        failure(
          connection,
          filter,
          Reason.QuotaExceeded,
          `more than ${broker.limits.maxSubscriptionsPerConnection} subscriptions on one connection`,
        ),
      );
    const options: SubscriptionOptions = {
      qos: Math.min(subscription.qos, 2) as QoS,
      noLocal: subscription.nl === true,
      retainAsPublished: subscription.rap === true,
      retainHandling: (subscription.rh ?? 0) as 0 | 1 | 2,
      ...(subscriptionIdentifier !== undefined ? { subscriptionIdentifier } : {}),
    };
    broker.subscribe(session, filter, options);
    granted.push(options.qos);
    subscribed.push(filter);
    // [MQTT-3.3.1-9..11] Retain Handling: 0 sends retained messages, 1 only for a new subscription, 2 never.
    // Shared subscriptions get no retained messages [MQTT-4.8.2 note].
    if (!shared && (options.retainHandling === 0 || (options.retainHandling === 1 && isNew)))
      retainedFor.push({ filter, options });
  });
  if (connection.state !== 'connected') return;
  // A persistent session's subscriptions are stored before SUBACK confirms them.
  if (subscribed.length > 0) await broker.saveSession(session);
  // [MQTT-3.8.4-1] SUBACK with one code per filter, in order [MQTT-3.9.3-1].
  connection.send({ cmd: 'suback', messageId: packet.messageId as number, granted });
  if (connection.logsAt(Verbosity.INFO))
    for (const filter of subscribed)
      connection.log!.write({
        eventType: 'Subscribe',
        level: Verbosity.INFO,
        status: 'Success',
        topicName: filter,
      });
  broker.lifecycle.subscribed(connection, subscribed);
  for (const { filter, options } of retainedFor)
    await broker.sendRetained(session, filter, options);
}
