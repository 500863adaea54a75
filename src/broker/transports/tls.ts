import { createServer, type SecureContextOptions, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from '../../logs/logger.js';
import type { Broker } from '../broker.js';

export interface TlsListenerOptions {
  host: string;
  port: number;
  certificatePem: string;
  privateKeyPem: string;
  /** CA certificates a device's client certificate must chain to. */
  deviceCaPems: string[];
  /** The listener's TLS security policy as Node options (src/tls/policies.ts). */
  policyOptions: SecureContextOptions;
  logger: Logger;
}

/** The MQTT listener's TLS context: policy, server certificate, and the device CAs clients must chain to. */
export function mqttSecureContextOptions(
  pair: { certificatePem: string; privateKeyPem: string },
  deviceCaPems: string[],
  policyOptions: SecureContextOptions,
): SecureContextOptions {
  return { ...policyOptions, cert: pair.certificatePem, key: pair.privateKeyPem, ca: deviceCaPems };
}

/** MQTT over TLS with mutual authentication: no client certificate chaining to a device CA, no session. */
export async function listenTls(broker: Broker, options: TlsListenerOptions): Promise<Server> {
  const server = createServer(
    {
      ...mqttSecureContextOptions(options, options.deviceCaPems, options.policyOptions),
      requestCert: true,
      rejectUnauthorized: true,
    },
    (socket: TLSSocket) => {
      socket.setNoDelay(true);
      broker.accept(
        socket,
        { remoteAddress: socket.remoteAddress ?? 'unknown', listener: 'tls' },
        socket.getPeerX509Certificate(),
      );
    },
  );
  server.on('tlsClientError', (error, socket) => {
    options.logger.info(
      {
        remoteAddress: socket.remoteAddress,
        reason: (error as NodeJS.ErrnoException).code ?? error.message,
      },
      'TLS handshake refused',
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return server;
}
