import type { IUnsubscribePacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { Verbosity } from '../events.js';
import { Reason } from '../reason-codes.js';

export async function handleUnsubscribe(
  connection: Connection,
  packet: IUnsubscribePacket,
): Promise<void> {
  const session = connection.session;
  if (!session) return;
  // [MQTT-3.10.3-2] An UNSUBSCRIBE must carry at least one filter.
  if (packet.unsubscriptions.length === 0)
    return connection.protocolViolation(Reason.ProtocolError, 'UNSUBSCRIBE without a topic filter');
  const reasonCodes = packet.unsubscriptions.map((filter) =>
    connection.broker.unsubscribe(session, filter) ? Reason.Success : Reason.NoSubscriptionExisted,
  );
  // [MQTT-3.10.4-4] UNSUBACK even when nothing matched; MQTT 5 says which filters existed.
  if (reasonCodes.includes(Reason.Success)) await connection.broker.saveSession(session);
  connection.send({
    cmd: 'unsuback',
    messageId: packet.messageId as number,
    granted: connection.version === 5 ? reasonCodes : [],
  });
  if (connection.logsAt(Verbosity.INFO))
    for (const filter of packet.unsubscriptions)
      connection.log!.write({
        eventType: 'Unsubscribe',
        level: Verbosity.INFO,
        status: 'Success',
        topicName: filter,
      });
  connection.broker.lifecycle.unsubscribed(connection, packet.unsubscriptions);
}
