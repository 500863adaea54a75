import type { IPubackPacket, IPubcompPacket, IPubrecPacket, IPubrelPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { Reason } from '../reason-codes.js';

/** PUBACK ends an outgoing QoS 1 delivery [MQTT-4.3.2-*]; the window moves on. */
export async function handlePuback(connection: Connection, packet: IPubackPacket): Promise<void> {
  const session = connection.session;
  const inflight = session?.inflight.get(packet.messageId as number);
  if (!session || !inflight || inflight.delivery.qos !== 1) return;
  await connection.broker.completeDelivery(session, inflight);
}

/** PUBREC answers an outgoing QoS 2 PUBLISH: reply PUBREL, or drop it when the client refused. */
export async function handlePubrec(connection: Connection, packet: IPubrecPacket): Promise<void> {
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
  if ((packet.reasonCode ?? 0) >= 0x80)
    return connection.broker.completeDelivery(session, inflight);
  // [MQTT-4.3.3-4] Having received PUBREC, the sender sends PUBREL and never re-sends the PUBLISH.
  await connection.broker.releaseDelivery(session, inflight);
}

/** PUBCOMP ends an outgoing QoS 2 delivery. */
export async function handlePubcomp(connection: Connection, packet: IPubcompPacket): Promise<void> {
  const session = connection.session;
  const inflight = session?.inflight.get(packet.messageId as number);
  if (!session || !inflight || inflight.stage !== 'pubrel') return;
  await connection.broker.completeDelivery(session, inflight);
}

/** PUBREL releases an incoming QoS 2 packet id: answer PUBCOMP [MQTT-4.3.3-11]. */
export async function handlePubrel(connection: Connection, packet: IPubrelPacket): Promise<void> {
  const session = connection.session;
  const packetId = packet.messageId as number;
  const known = session?.receivedQos2.delete(packetId) ?? false;
  // Stored before PUBCOMP: a restart must not keep treating this packet id as a duplicate.
  if (session && known) await connection.broker.saveSession(session);
  connection.send({
    cmd: 'pubcomp',
    messageId: packetId,
    ...(connection.version === 5 && !known ? { reasonCode: Reason.PacketIdentifierNotFound } : {}),
  });
}
