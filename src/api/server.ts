import Fastify, { LogController } from 'fastify';
import type { Logger } from '../logs/logger.js';
import { SERVER_IDENTITY_TABLE } from '../pki/migrations.js';
import type { ServerIdentity } from '../pki/server-identity.js';
import type { Store } from '../store/index.js';
import { bulwarkPolicyName, tlsServerOptions, type TlsPolicyName } from '../tls/policies.js';

export type ApiServer = Awaited<ReturnType<typeof buildServer>>;

export interface ApiServerOptions {
  identity: ServerIdentity;
  store: Store;
  logger: Logger;
  /** The listener's TLS security policy (`tls.apiPolicy`, else `tls.policy`). */
  tlsPolicy: TlsPolicyName;
  /**
   * CA certificates a client certificate is checked against. Every client is asked for one but
   * none is refused at the handshake: the routes that need a device (MQTT over WSS) check it.
   * Without them no client is asked, and no device is accepted.
   */
  deviceCaPems?: string[];
  /** ALPN protocols offered besides HTTP/1.1 (e.g. x-amzn-mqtt-ca when MQTT shares the port). */
  extraAlpnProtocols?: string[];
}

/** The API listener's TLS context: its policy, its certificate, and the device CAs for WSS. */
export function apiSecureContextOptions(
  pair: { certificatePem: string; privateKeyPem: string },
  tlsPolicy: TlsPolicyName,
  deviceCaPems: string[] | undefined,
) {
  return {
    cert: pair.certificatePem,
    key: pair.privateKeyPem,
    ...tlsServerOptions(tlsPolicy),
    ...(deviceCaPems ? { ca: deviceCaPems } : {}),
  };
}

function buildServer(options: ApiServerOptions) {
  return Fastify({
    loggerInstance: options.logger.child({ component: 'api' }),
    // Request logs arrive with the audit trail, which redacts what must not be logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    https: {
      ...apiSecureContextOptions(options.identity, options.tlsPolicy, options.deviceCaPems),
      ...(options.deviceCaPems ? { requestCert: true, rejectUnauthorized: false } : {}),
      ...(options.extraAlpnProtocols
        ? { ALPNProtocols: [...options.extraAlpnProtocols, 'http/1.1'] }
        : {}),
    },
  });
}

/** The HTTPS API: a named TLS policy, Bulwark's own server certificate; `/health` for probes. */
export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const app = buildServer(options);
  options.logger.info(
    {
      listener: 'api',
      tlsPolicy: options.tlsPolicy,
      servedBy: bulwarkPolicyName(options.tlsPolicy),
    },
    'TLS security policy',
  );
  // Healthy means the store answers a query, not merely that the process is up.
  app.get('/health', async (_request, reply) => {
    try {
      await options.store.count(SERVER_IDENTITY_TABLE);
      return reply.send({ status: 'ok', store: options.store.engine });
    } catch (error) {
      options.logger.error({ err: error }, 'health check: store unavailable');
      return reply.code(503).send({ status: 'unavailable', store: options.store.engine });
    }
  });
  return app;
}
