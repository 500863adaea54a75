import type { X509Certificate } from 'node:crypto';

/** Who a connection acts as once authenticated. */
export interface Principal {
  /** Stable id: the certificate's SHA-256 fingerprint, or `dev` on the development listener. */
  id: string;
  kind: 'certificate' | 'dev';
  certificate?: X509Certificate;
}

/** The IoT policy actions the broker asks about (iot:Connect, iot:Publish, …). */
export type BrokerAction = 'connect' | 'publish' | 'retain' | 'subscribe' | 'receive';

export interface ConnectionFacts {
  remoteAddress: string;
  listener: 'tls' | 'wss' | 'dev';
}

/**
 * The seam through which identity and policy plug into the broker. `authorize` is called on
 * every connect, publish, subscribe and delivery, so it must be synchronous and cheap; the
 * resource is the client id for `connect` and the topic or filter otherwise.
 */
export interface AccessControl {
  authenticate(
    connection: ConnectionFacts,
    certificate: X509Certificate | undefined,
  ): Principal | undefined;
  authorize(
    principal: Principal,
    action: BrokerAction,
    resource: string,
    clientId: string,
  ): boolean;
}

/**
 * Until the identity and policy issue lands: a certificate that chained to the device CA (the TLS
 * handshake verified it) is a principal, the development listener's clients are `dev`, and both
 * may do everything.
 */
export const chainTrustAccess: AccessControl = {
  authenticate(connection, certificate) {
    if (connection.listener === 'dev') return { id: 'dev', kind: 'dev' };
    if (!certificate) return undefined;
    return {
      id: certificate.fingerprint256.replace(/:/g, '').toLowerCase(),
      kind: 'certificate',
      certificate,
    };
  },
  authorize() {
    return true;
  },
};
