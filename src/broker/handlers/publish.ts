import type { IPublishPacket } from 'mqtt-packet';
import { TextDecoder } from 'node:util';
import type { PayloadVerdict } from '../../guard/payload-guard.js';
import type { Connection } from '../connection.js';
import { reasonName, Verbosity } from '../events.js';
import { messageFromPublish, type Message } from '../message.js';
import { Reason, type ReasonCode } from '../reason-codes.js';
import { validateTopicName } from '../topics/topic-validation.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(payload: Buffer): boolean {
  try {
    utf8.decode(payload);
    return true;
  } catch {
    return false;
  }
}

/** The topic the PUBLISH names, resolving and recording MQTT 5 topic aliases (§3.3.2.3.4). */
function resolveTopic(connection: Connection, packet: IPublishPacket): string | undefined {
  const alias = packet.properties?.topicAlias;
  if (alias === undefined) return packet.topic;
  // [MQTT-3.3.2-8] [MQTT-3.3.2-9] An alias of 0 or above the maximum the server allows is an error.
  if (alias === 0 || alias > connection.broker.limits.topicAliasMaximum) {
    connection.protocolViolation(
      Reason.TopicAliasInvalid,
      `topic alias ${alias} is outside 1..${connection.broker.limits.topicAliasMaximum}`,
    );
    return undefined;
  }
  if (packet.topic !== '') {
    (connection.inboundTopicAliases ??= new Map()).set(alias, packet.topic);
    return packet.topic;
  }
  const topic = connection.inboundTopicAliases?.get(alias);
  if (topic === undefined)
    connection.protocolViolation(Reason.ProtocolError, `topic alias ${alias} was never set`);
  return topic;
}

/** The device log's reason for a publish the payload guard flagged or refused. */
const SENSITIVE_DATA = 'SENSITIVE_DATA_IN_PAYLOAD';

/**
 * Refuses one PUBLISH. MQTT 5: a QoS 1 or 2 PUBLISH gets its PUBACK or PUBREC with the reason
 * (a Reason Code of 0x80 or more, §3.4.2.1, §3.5.2.1), and the Reason String when the client
 * asked for problem information [MQTT-3.1.2-29]; a QoS 0 one is dropped. MQTT 3.1.1 has no
 * negative acknowledgement: a server that will not perform a PUBLISH "MUST either make a
 * positive acknowledgement, according to the normal QoS rules, or close the Network
 * Connection" [MQTT-3.3.5-2]. Bulwark closes it, whatever the QoS and for every refusal (a
 * publish its IoT policy denies included, as AWS IoT Core does), so the client learns that its
 * message was not taken rather than losing it silently. `logReason` is the device log's reason
 * when the reason code's own name would not say it.
 */
function refuse(
  connection: Connection,
  packet: IPublishPacket,
  topic: string,
  reason: ReasonCode,
  why: string,
  logReason: string = reasonName(reason),
): void {
  connection.broker.logger.info(
    { clientId: connection.clientId, topic: packet.topic, reason, why },
    'PUBLISH refused',
  );
  if (connection.logsAt(Verbosity.ERROR))
    connection.log!.write({
      eventType: 'Publish-In',
      level: Verbosity.ERROR,
      status: 'Failure',
      topicName: topic,
      reason: logReason,
      details: why,
    });
  if (connection.version !== 5) return connection.disconnect(reason, why);
  const properties = connection.requestProblemInformation ? { reasonString: why } : undefined;
  if (packet.qos === 1)
    connection.send({
      cmd: 'puback',
      messageId: packet.messageId as number,
      reasonCode: reason,
      ...(properties ? { properties } : {}),
    });
  else if (packet.qos === 2)
    connection.send({
      cmd: 'pubrec',
      messageId: packet.messageId as number,
      reasonCode: reason,
      ...(properties ? { properties } : {}),
    });
}

/**
 * A payload the payload guard's detectors matched: reported (log line, audit summary) and
 * refused (true), or flagged in the device log and let through. Only detector ids are told.
 */
function guarded(
  connection: Connection,
  packet: IPublishPacket,
  topic: string,
  verdict: PayloadVerdict,
): boolean {
  const publisher = { principal: connection.principal!, clientId: connection.clientId };
  connection.broker.reportSensitivePayload({ via: 'mqtt', ...publisher }, topic, verdict);
  const found = `the payload holds sensitive data (${verdict.detectors.join(', ')})`;
  if (verdict.action === 'refuse') {
    refuse(
      connection,
      packet,
      topic,
      Reason.PayloadFormatInvalid,
      `${found}: refused by the payload guard`,
      SENSITIVE_DATA,
    );
    return true;
  }
  if (connection.logsAt(Verbosity.WARN))
    connection.log!.write({
      eventType: 'Publish-In',
      level: Verbosity.WARN,
      status: 'Success',
      topicName: topic,
      reason: SENSITIVE_DATA,
      details: `${found}: flagged by the payload guard, delivered`,
    });
  return false;
}

/** The Publish-In entry of an accepted message; its Publish-Out entries share its traceId. */
function logReceived(connection: Connection, message: Message): void {
  if (connection.logsAt(Verbosity.INFO))
    connection.log!.write({
      eventType: 'Publish-In',
      level: Verbosity.INFO,
      status: 'Success',
      topicName: message.topic,
      trace: message,
    });
}

/**
 * Takes one PUBLISH. Not async: a QoS 0 message is checked, routed and sent without a promise;
 * only what waits on the store (QoS 1 acknowledgements, QoS 2, retained) makes one.
 */
export function handlePublish(
  connection: Connection,
  packet: IPublishPacket,
): Promise<void> | void {
  const { broker } = connection;
  const session = connection.session;
  if (!session) return;
  // [MQTT-2.3.1-1] A QoS 1 or 2 PUBLISH carries a non-zero packet identifier.
  const packetId = packet.messageId ?? 0;
  if (packet.qos > 0 && !(packetId >= 1 && packetId <= 0xffff))
    return connection.protocolViolation(
      Reason.MalformedPacket,
      'a QoS 1 or 2 PUBLISH needs a packet identifier from 1 to 65535',
    );
  const topic = resolveTopic(connection, packet);
  if (topic === undefined) return;
  const invalid = validateTopicName(topic, broker.topicLimits);
  // [MQTT-3.3.2-2] No wildcards in a topic name; an invalid name closes the connection.
  if (invalid) return connection.protocolViolation(Reason.TopicNameInvalid, invalid);
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  if (payload.length > broker.limits.maxPayloadBytes) {
    return refuse(
      connection,
      packet,
      topic,
      Reason.PacketTooLarge,
      `payload larger than ${broker.limits.maxPayloadBytes} bytes`,
    );
  }
  // [MQTT-3.3.2-4] A payload that says it is UTF-8 must be.
  if (packet.properties?.payloadFormatIndicator && !isUtf8(payload)) {
    return refuse(
      connection,
      packet,
      topic,
      Reason.PayloadFormatInvalid,
      'payload format indicator says UTF-8 but the payload is not',
    );
  }
  // Lifecycle events come from the broker alone: no client may forge one (as in AWS).
  if (topic.startsWith('$aws/events/'))
    return refuse(
      connection,
      packet,
      topic,
      Reason.NotAuthorized,
      'topics under $aws/events/ are reserved for the broker',
    );
  const principal = connection.principal!;
  if (
    !broker.access.authorize(principal, 'publish', topic, connection.clientId) ||
    (packet.retain && !broker.access.authorize(principal, 'retain', topic, connection.clientId))
  ) {
    broker.countDenied(connection, 'publish', topic);
    return refuse(
      connection,
      packet,
      topic,
      Reason.NotAuthorized,
      `not authorized to publish to ${topic}`,
    );
  }
  // The inline check (guard.inline): authorized, not yet routed, retained or stored.
  const verdict = broker.payloadGuard?.check(topic, payload);
  if (verdict && guarded(connection, packet, topic, verdict)) return;

  // As AWS throttles retained publishes at its account limit, a new retained topic past the quota is refused.
  if (packet.retain && payload.length > 0 && broker.retainedQuotaReached(topic)) {
    return refuse(
      connection,
      packet,
      topic,
      Reason.QuotaExceeded,
      `the broker holds its maximum of ${broker.limits.maxRetainedMessages} retained messages`,
    );
  }

  if (packet.qos === 2) {
    // [MQTT-4.3.3-9] A re-sent QoS 2 PUBLISH whose PUBREL is pending is acknowledged, not routed again.
    if (session.receivedQos2.has(packetId))
      return connection.send({ cmd: 'pubrec', messageId: packetId });
    if (session.receivedQos2.size >= broker.limits.maxInflight) {
      return connection.protocolViolation(
        Reason.ReceiveMaximumExceeded,
        `more than ${broker.limits.maxInflight} QoS 2 messages awaiting PUBREL`,
      );
    }
  }
  const message = messageFromPublish(
    { ...packet, payload },
    topic,
    connection.clientId,
    Date.now(),
  );
  logReceived(connection, message);
  if (packet.qos === 2) return publishQos2(connection, packetId, message);
  // A retained message is stored before it is routed: later PUBLISHes wait their turn.
  if (packet.retain) return publishRetained(connection, packet, message);
  // Otherwise routing happens now, in arrival order, and the next PUBLISH is read without waiting
  // for this one's deliveries to be stored: the PUBACK goes out once they are (or once their
  // clients acknowledged them), in arrival order.
  const routed = broker.publishFrom(message, { connection, storeReceipts: false });
  if (packet.qos === 1)
    connection.acknowledgeInOrder(routed, { cmd: 'puback', messageId: packetId });
  else if (routed) connection.failOn(routed);
}

/**
 * The receipt is stored with the deliveries, in one transaction: after a crash the message is
 * either nowhere (the client re-sends it) or routed and remembered (a re-send is a duplicate).
 */
async function publishQos2(
  connection: Connection,
  packetId: number,
  message: Message,
): Promise<void> {
  const session = connection.session!;
  session.receivedQos2.add(packetId);
  try {
    await connection.broker.publish(message, { connection, storeReceipts: true });
  } catch (error) {
    session.receivedQos2.delete(packetId);
    throw error;
  }
  connection.send({ cmd: 'pubrec', messageId: packetId });
}

async function publishRetained(
  connection: Connection,
  packet: IPublishPacket,
  message: Message,
): Promise<void> {
  await connection.broker.publish(message, { connection, storeReceipts: false });
  if (packet.qos === 1) connection.send({ cmd: 'puback', messageId: packet.messageId as number });
}
