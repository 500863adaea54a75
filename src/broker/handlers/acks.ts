import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { Reason } from '../reason-codes.js';

/** PUBACK ends an outgoing QoS 1 delivery [MQTT-4.3.2-*]; the window moves on. */
export function handlePuback(connection: Connection, packet: IPubackPacket): void {
  const session = connection.session;
  const inflight = session?.inflight.get(packet.messageId as number);
  if (!session || !inflight || inflight.delivery.qos !== 1) return;
  session.inflight.delete(inflight.packetId);
  connection.broker.drainQueue(session);
}

/** PUBREC answers an outgoing QoS 2 PUBLISH: reply PUBREL, or drop it when the client refused. */
export function handlePubrec(connection: Connection, packet: IPubrecPacket): void {
  const session = connection.session;
  const inflight = session?.inflight.get(packet.messageId as number);
  if (!session || !inflight || inflight.delivery.qos !== 2) {
    if (connection.version === 5)
      connection.send({
        cmd: 'pubrel',
        messageId: packet.messageId as number,
        reasonCode: Reason.PacketIdentifierNotFound,
      });
    return;
  }
  if ((packet.reasonCode ?? 0) >= 0x80) {
    session.inflight.delete(inflight.packetId);
    connection.broker.drainQueue(session);
    return;
  }
  // [MQTT-4.3.3-4] Having received PUBREC, the sender sends PUBREL and never re-sends the PUBLISH.
  inflight.stage = 'pubrel';
  connection.send({ cmd: 'pubrel', messageId: inflight.packetId });
}

/** PUBCOMP ends an outgoing QoS 2 delivery. */
export function handlePubcomp(connection: Connection, packet: IPubcompPacket): void {
  const session = connection.session;
  const inflight = session?.inflight.get(packet.messageId as number);
  if (!session || !inflight || inflight.stage !== 'pubrel') return;
  session.inflight.delete(inflight.packetId);
  connection.broker.drainQueue(session);
}

/** PUBREL releases an incoming QoS 2 packet id: answer PUBCOMP [MQTT-4.3.3-11]. */
export function handlePubrel(connection: Connection, packet: IPubrelPacket): void {
  const session = connection.session;
  const packetId = packet.messageId as number;
  const known = session?.receivedQos2.delete(packetId) ?? false;
  connection.send({
    cmd: 'pubcomp',
    messageId: packetId,
    ...(connection.version === 5 && !known ? { reasonCode: Reason.PacketIdentifierNotFound } : {}),
  });
}
