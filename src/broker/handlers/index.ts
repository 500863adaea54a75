import type { Packet } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { Reason } from '../reason-codes.js';
import { handlePuback, handlePubcomp, handlePubrec, handlePubrel } from './acks.js';
import { handleConnect } from './connect.js';
import { handleDisconnect } from './disconnect.js';
import { handlePublish } from './publish.js';
import { handleSubscribe } from './subscribe.js';
import { handleUnsubscribe } from './unsubscribe.js';

/** One handler per inbound packet kind; the first packet must be CONNECT and only the first. */
export function dispatchPacket(connection: Connection, packet: Packet): Promise<void> | void {
  if (connection.state === 'connecting' && packet.cmd !== 'connect') {
    // [MQTT-3.1.0-1] The first packet from the client must be CONNECT.
    return connection.destroy();
  }
  switch (packet.cmd) {
    case 'connect':
      // [MQTT-3.1.0-2] A second CONNECT is a protocol violation.
      if (connection.state !== 'connecting')
        return connection.protocolViolation(Reason.ProtocolError, 'second CONNECT');
      return handleConnect(connection, packet);
    case 'publish':
      return handlePublish(connection, packet);
    case 'puback':
      return handlePuback(connection, packet);
    case 'pubrec':
      return handlePubrec(connection, packet);
    case 'pubrel':
      return handlePubrel(connection, packet);
    case 'pubcomp':
      return handlePubcomp(connection, packet);
    case 'subscribe':
      return handleSubscribe(connection, packet);
    case 'unsubscribe':
      return handleUnsubscribe(connection, packet);
    case 'pingreq':
      // [MQTT-3.12.4-1] The server answers PINGREQ with PINGRESP.
      return connection.send({ cmd: 'pingresp' });
    case 'disconnect':
      return handleDisconnect(connection, packet);
    case 'auth':
      // Enhanced authentication is not offered: an AUTH packet is a protocol error [MQTT-3.15.0-1 intent].
      return connection.protocolViolation(
        Reason.ProtocolError,
        'enhanced authentication is not supported',
      );
    default:
      // Server-to-client packets (CONNACK, SUBACK, …) must never come from a client.
      return connection.protocolViolation(
        Reason.ProtocolError,
        `unexpected ${packet.cmd} from a client`,
      );
  }
}
