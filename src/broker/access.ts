import type { X509Certificate } from 'node:crypto';

/** Who a connection acts as once authenticated. */
export interface Principal {
  /**
   * Stable id: the certificate's SHA-256 fingerprint, the IAM user's ARN (MQTT over WSS signed
   * with SigV4), or `dev` on the development listener.
   */
  id: string;
  kind: 'certificate' | 'iam' | 'dev';
  certificate?: X509Certificate;
}

/** An IAM user that signed the WebSocket URL (SigV4, service `iotdevicegateway`). */
export interface IamIdentity {
  userName: string;
  arn: string;
}

/** The IoT policy actions the broker asks about (iot:Connect, iot:Publish, …). */
export type BrokerAction = 'connect' | 'publish' | 'retain' | 'subscribe' | 'receive';

export interface ConnectionFacts {
  remoteAddress: string;
  listener: 'tls' | 'wss' | 'dev';
  /** Set when the connection authenticated by a SigV4-signed WebSocket URL instead of a certificate. */
  iam?: IamIdentity;
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
 * handshake verified it) is a principal, so is an IAM user that signed its WebSocket URL, the
 * development listener's clients are `dev`, and all may do everything.
 */
export const chainTrustAccess: AccessControl = {
  authenticate(connection, certificate) {
    if (connection.listener === 'dev') return { id: 'dev', kind: 'dev' };
    if (connection.iam) return { id: connection.iam.arn, kind: 'iam' };
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
