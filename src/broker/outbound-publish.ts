import type { IPublishPacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import { Verbosity, writePublishOut, type DeliveryFailure } from './events.js';
import type { Delivery, Message } from './message.js';
import { encodePublish, withPacketId } from './publish-encoder.js';

/**
 * MQTT 5 topic aliases towards the client (§3.3.2.3.4): the first PUBLISH on a topic sets an
 * alias, later ones send only the alias, within the client's Topic Alias Maximum [MQTT-3.3.2-11].
 * Aliases are handed out first come, first served and kept for the connection's life.
 */
function applyTopicAlias(
  connection: Connection,
  packet: IPublishPacket,
  properties: NonNullable<IPublishPacket['properties']>,
): void {
  if (connection.clientTopicAliasMaximum === 0) return;
  const aliases = (connection.outboundTopicAliases ??= new Map());
  const known = aliases.get(packet.topic);
  if (known !== undefined) {
    properties.topicAlias = known;
    packet.topic = '';
    return;
  }
  if (aliases.size >= connection.clientTopicAliasMaximum) return;
  const alias = aliases.size + 1;
  aliases.set(packet.topic, alias);
  properties.topicAlias = alias;
}

/**
 * Each message's encoded PUBLISH per (protocol version, QoS, RETAIN), shared by the subscribers it
 * is routed to in one go, so a message for a hundred subscribers is encoded once (the packet id
 * patched in per subscriber).
 */
export type EncodedPublishes = Map<Message, Map<string, Buffer>>;

const TOO_LARGE: DeliveryFailure = {
  level: Verbosity.WARN,
  reason: 'PACKET_TOO_LARGE',
  details: "message not sent: larger than the client's Maximum Packet Size",
};

/** Writes one PUBLISH to a subscriber in its protocol version, with what is left of the expiry. */
export function sendPublish(
  connection: Connection,
  delivery: Delivery,
  packetId: number | undefined,
  dup: boolean,
  shared?: EncodedPublishes,
): void {
  const { message } = delivery;
  // [MQTT-3.1.2-25] Never send a packet larger than the client's Maximum Packet Size.
  if (
    connection.clientMaximumPacketSize !== Number.POSITIVE_INFINITY &&
    message.payload.length + Buffer.byteLength(message.topic) + 64 >
      connection.clientMaximumPacketSize
  ) {
    if (connection.logsAt(Verbosity.WARN)) writePublishOut(connection.log!, message, TOO_LARGE);
    return;
  }
  if (connection.logsAt(Verbosity.INFO)) writePublishOut(connection.log!, message);
  const v5 = connection.version === 5;
  // Per-subscriber properties (what is left of the expiry, subscription ids, topic aliases) make
  // the bytes this subscriber's own.
  const shareable =
    shared !== undefined &&
    !dup &&
    (!v5 ||
      (message.expiresAt === undefined &&
        delivery.subscriptionIdentifiers.length === 0 &&
        connection.clientTopicAliasMaximum === 0));
  const key = shareable ? `${connection.version}:${delivery.qos}:${delivery.retain ? 1 : 0}` : '';
  const forMessage = shareable ? shared.get(message) : undefined;
  const encoded = forMessage?.get(key);
  if (encoded) {
    connection.write(packetId === undefined ? encoded : withPacketId(encoded, packetId));
    return;
  }
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: message.topic,
    payload: message.payload,
    qos: delivery.qos,
    retain: delivery.retain,
    dup,
  };
  if (packetId !== undefined) packet.messageId = packetId;
  if (v5) {
    const properties: NonNullable<IPublishPacket['properties']> = { ...message.properties };
    // [MQTT-3.3.2-6] The expiry sent is what is left of it.
    if (message.expiresAt !== undefined)
      properties.messageExpiryInterval = Math.max(
        1,
        Math.ceil((message.expiresAt - Date.now()) / 1000),
      );
    if (delivery.subscriptionIdentifiers.length === 1)
      properties.subscriptionIdentifier = delivery.subscriptionIdentifiers[0] as number;
    else if (delivery.subscriptionIdentifiers.length > 1)
      properties.subscriptionIdentifier = delivery.subscriptionIdentifiers;
    applyTopicAlias(connection, packet, properties);
    packet.properties = properties;
  }
  const bytes = encodePublish(packet, connection.version);
  if (shareable) {
    if (forMessage) forMessage.set(key, bytes);
    else shared.set(message, new Map([[key, bytes]]));
  }
  connection.write(bytes);
}
