import type { IPublishPacket } from 'mqtt-packet';
import type { Connection } from './connection.js';
import type { Delivery } from './message.js';

/** Writes one PUBLISH to a subscriber in its protocol version, with what is left of the expiry. */
export function sendPublish(
  connection: Connection,
  delivery: Delivery,
  packetId: number | undefined,
  dup: boolean,
): void {
  const { message } = delivery;
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: message.topic,
    payload: message.payload,
    qos: delivery.qos,
    retain: delivery.retain,
    dup,
  };
  if (packetId !== undefined) packet.messageId = packetId;
  if (connection.version === 5) {
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
    packet.properties = properties;
  }
  // [MQTT-3.1.2-25] Never send a packet larger than the client's Maximum Packet Size.
  if (
    connection.clientMaximumPacketSize !== Number.POSITIVE_INFINITY &&
    message.payload.length + Buffer.byteLength(message.topic) + 64 >
      connection.clientMaximumPacketSize
  )
    return;
  connection.send(packet);
}
