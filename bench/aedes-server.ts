/**
 * Aedes (npm) on node:tls with mutual authentication, for bench/brokers.ts. Run in its own
 * process (pinned to the broker core by the bench):
 *
 *   node --import tsx bench/aedes-server.ts CERT KEY CA
 *
 * Listens on 127.0.0.1 on an ephemeral port, prints `{"ready":PORT}` on stdout, stops on SIGTERM.
 * Aedes' defaults: in-memory persistence and emitter, no authentication beyond the TLS handshake,
 * which requires a client certificate chaining to CA (as Mosquitto and nats-server are set up).
 */
import { Aedes } from 'aedes';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:tls';

const [certFile, keyFile, caFile] = process.argv.slice(2);
if (!certFile || !keyFile || !caFile) {
  console.error('usage: aedes-server.ts CERT KEY CA');
  process.exit(2);
}

const aedes = await Aedes.createBroker();
const server = createServer(
  {
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
    ca: readFileSync(caFile),
    requestCert: true,
    rejectUnauthorized: true,
  },
  (socket) => {
    socket.setNoDelay(true);
    aedes.handle(socket);
  },
);
server.on('tlsClientError', () => undefined);
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  process.stdout.write(JSON.stringify({ ready: port }) + '\n');
});

process.on('SIGTERM', () => {
  server.close();
  aedes.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
});
