import type { IPublishPacket, QoS } from 'mqtt-packet';

/** The MQTT 5 properties a message carries from publisher to subscriber (§3.3.2.3). */
export interface MessageProperties {
  payloadFormatIndicator?: boolean;
  contentType?: string;
  responseTopic?: string;
  correlationData?: Buffer;
  userProperties?: Record<string, string | string[]>;
}

/** A message as the broker routes it, independent of the protocol version it arrived in. */
export interface Message {
  topic: string;
  payload: Buffer;
  qos: QoS;
  retain: boolean;
  properties: MessageProperties;
  /** Epoch ms after which the message is not delivered (Message Expiry Interval). */
  expiresAt?: number;
  /** Client id of the publisher, for No Local; undefined for server-originated messages. */
  publisherClientId?: string;
}

/** A message on its way to one subscriber, with the QoS and flags of that subscription. */
export interface Delivery {
  message: Message;
  qos: QoS;
  retain: boolean;
  subscriptionIdentifiers: number[];
  /** Its sequence number in the session store, when it is kept for a persistent session. */
  seq?: number;
}

/**
 * Gives a message a payload of its own before the broker keeps it past this tick (retained,
 * queued, in flight, a will). A payload the framer read is a view of the socket's read chunk,
 * which holds every packet of one TLS record (up to 16 KiB) or TCP read (up to 64 KiB), and a
 * kept view would keep the whole chunk alive; a small Buffer from Node's pool would keep its
 * 8 KiB slab. Copied once per message, however many sessions keep it.
 */
export function ownPayload(message: Message): void {
  const payload = message.payload;
  if (payload.byteLength === payload.buffer.byteLength) return;
  const own = Buffer.allocUnsafeSlow(payload.length);
  payload.copy(own);
  message.payload = own;
}

export function messageFromPublish(
  packet: IPublishPacket,
  topic: string,
  publisherClientId: string,
  now: number,
): Message {
  const props = packet.properties ?? {};
  const properties: MessageProperties = {};
  if (props.payloadFormatIndicator !== undefined)
    properties.payloadFormatIndicator = props.payloadFormatIndicator;
  if (props.contentType !== undefined) properties.contentType = props.contentType;
  if (props.responseTopic !== undefined) properties.responseTopic = props.responseTopic;
  if (props.correlationData !== undefined) properties.correlationData = props.correlationData;
  if (props.userProperties !== undefined) properties.userProperties = props.userProperties;
  return {
    topic,
    payload: typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload,
    qos: packet.qos,
    retain: packet.retain,
    properties,
    ...(props.messageExpiryInterval !== undefined
      ? { expiresAt: now + props.messageExpiryInterval * 1000 }
      : {}),
    publisherClientId,
  };
}
