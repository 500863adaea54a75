import type { Server as HttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../logs/logger.js';
import type { Broker } from '../broker.js';
import {
  admitToBroker,
  chainVerifier,
  verifyThenAdmit,
  type PeerVerifier,
  type RefusalObserver,
} from './tls.js';

/** AWS IoT's ALPN protocol name for MQTT with a client certificate on port 443. */
export const MQTT_ALPN_PROTOCOL = 'x-amzn-mqtt-ca';

/**
 * Shares the HTTPS port with MQTT, as AWS IoT does on 443: a client that negotiates ALPN
 * `x-amzn-mqtt-ca` is handed to the broker (a device certificate is required), every other
 * connection goes on to HTTP. The HTTPS server must offer the protocol in its ALPN list.
 */
export function shareHttpsPortWithMqtt(
  broker: Broker,
  server: HttpsServer,
  logger: Logger,
  verifyPeer: PeerVerifier = chainVerifier,
  onRefused?: RefusalObserver,
): void {
  const httpHandlers = server.listeners('secureConnection') as ((socket: TLSSocket) => void)[];
  server.removeAllListeners('secureConnection');
  server.on('secureConnection', (socket: TLSSocket) => {
    if (socket.alpnProtocol !== MQTT_ALPN_PROTOCOL) {
      for (const handler of httpHandlers) handler.call(server, socket);
      return;
    }
    verifyThenAdmit(
      socket,
      {
        verifyPeer,
        logger,
        message: 'MQTT over ALPN refused',
        listener: 'alpn',
        ...(onRefused ? { onRefused } : {}),
      },
      (certificate, tls) => admitToBroker(broker, socket, certificate, tls),
    );
  });
}
