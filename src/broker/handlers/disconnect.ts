import type { IDisconnectPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { Reason } from '../reason-codes.js';

export async function handleDisconnect(
  connection: Connection,
  packet: IDisconnectPacket,
): Promise<void> {
  const session = connection.session;
  const expiry = packet.properties?.sessionExpiryInterval;
  if (session && expiry !== undefined) {
    // [MQTT-3.14.2-2] A session that was to end with the connection cannot be extended now.
    if (session.expirySeconds === 0 && expiry !== 0)
      return connection.protocolViolation(
        Reason.ProtocolError,
        'session expiry set on DISCONNECT after 0 at CONNECT',
      );
    session.expirySeconds = Math.min(expiry, connection.broker.limits.maxSessionExpirySeconds);
  }
  // [MQTT-3.14.4-3] A normal DISCONNECT discards the will; reason 0x04 asks for it to be sent.
  connection.closedNormally = (packet.reasonCode ?? Reason.Success) !== Reason.DisconnectWithWill;
  connection.disconnectReason = 'CLIENT_INITIATED_DISCONNECT';
  // The discarded will is forgotten in the store before the connection closes, so a crash
  // right after cannot bring it back at the restart.
  if (session?.will && connection.closedNormally && session.stored) {
    session.will = undefined;
    await connection.broker.saveSession(session);
  }
  connection.destroy();
}
