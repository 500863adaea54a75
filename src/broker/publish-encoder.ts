import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';

/**
 * PUBLISH packets written by hand when they carry no properties — the hot path of every delivery —
 * and by mqtt-packet otherwise. Encoding one is about a third of mqtt-packet's cost, and a packet
 * can be encoded once and written to many subscribers (see `withPacketId`).
 */

// mqtt-packet fills a table of 65,536 two-byte Buffers on its first encode, to write 16-bit
// numbers from it: 7.5 MiB of V8's heap (a Buffer object is 96 bytes) and 31 ms, spent when the
// first client connects and kept for the life of the process. The hot paths are written by hand
// here, so the table saves nothing worth its size; without it a number costs one small
// allocation.
mqttPacket.writeToStream.cacheNumbers = false;

/** Any packet, by mqtt-packet: the ones with no hand-written encoding here. */
export function encodePacket(packet: Packet, version: 3 | 4 | 5): Buffer {
  return mqttPacket.generate(packet, { protocolVersion: version });
}

function varintLength(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : 4;
}

/**
 * Encodes `packet`. Without properties (any version) the bytes are built directly; MQTT 5's
 * empty property list is the single byte 0 [MQTT-2.2.2-1].
 */
export function encodePublish(packet: IPublishPacket, version: 3 | 4 | 5): Buffer {
  const properties = packet.properties;
  if (properties && Object.keys(properties).length > 0) return encodePacket(packet, version);
  const topicLength = Buffer.byteLength(packet.topic);
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  const hasId = packet.qos > 0;
  const remaining = 2 + topicLength + (hasId ? 2 : 0) + (version === 5 ? 1 : 0) + payload.length;
  const buffer = Buffer.allocUnsafe(1 + varintLength(remaining) + remaining);
  // [MQTT-3.3.1-*] Fixed header: type 3, DUP, QoS, RETAIN.
  buffer[0] = 0x30 | (packet.dup ? 0x08 : 0) | (packet.qos << 1) | (packet.retain ? 0x01 : 0);
  let offset = 1;
  for (let value = remaining; ;) {
    const byte = value & 0x7f;
    value >>>= 7;
    buffer[offset++] = value > 0 ? byte | 0x80 : byte;
    if (value === 0) break;
  }
  buffer.writeUInt16BE(topicLength, offset);
  offset += 2;
  offset += buffer.write(packet.topic, offset, 'utf8');
  if (hasId) {
    buffer.writeUInt16BE(packet.messageId ?? 0, offset);
    offset += 2;
  }
  if (version === 5) buffer[offset++] = 0;
  payload.copy(buffer, offset);
  return buffer;
}

/**
 * A copy of an encoded QoS 1/2 PUBLISH with another packet id: the id sits right after the
 * topic, in every version. (The original may still be queued on another socket, so it is copied.)
 */
export function withPacketId(encoded: Buffer, packetId: number): Buffer {
  const copy = Buffer.from(encoded);
  let offset = 1;
  while ((copy[offset++] as number) & 0x80);
  const topicLength = copy.readUInt16BE(offset);
  copy.writeUInt16BE(packetId, offset + 2 + topicLength);
  return copy;
}

/**
 * A PUBACK with no reason and no properties, the one a QoS 1 publisher gets for almost every
 * message: four bytes in every version ([MQTT-3.4.2-1]: a Reason Code of 0 and no properties may
 * be left out in MQTT 5).
 */
export function encodePuback(packetId: number): Buffer {
  const buffer = Buffer.allocUnsafe(4);
  buffer[0] = 0x40;
  buffer[1] = 2;
  buffer.writeUInt16BE(packetId, 2);
  return buffer;
}
