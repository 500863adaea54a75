import { createServer, type Server } from 'node:net';
import { BulwarkError } from '../../errors.js';
import type { Broker } from '../broker.js';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * The development listener: plain TCP, loopback only, clients act as the principal `dev`. It
 * exists for local development and conformance tools and runs the same broker as the TLS one.
 */
export async function listenDev(broker: Broker, host: string, port: number): Promise<Server> {
  if (!LOOPBACK.has(host)) {
    throw new BulwarkError(
      'ConfigInvalid',
      `invalid configuration: the development listener binds to loopback only (127.0.0.1 or ::1), not ${host}`,
    );
  }
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    broker.accept(socket, { remoteAddress: socket.remoteAddress ?? 'unknown', listener: 'dev' });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return server;
}
