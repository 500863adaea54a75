import type { X509Certificate } from 'node:crypto';
import type { Caller } from '../api/operation.js';
import type { PayloadVerdict } from '../guard/payload-guard.js';

/** Who a connection acts as once authenticated. */
export interface Principal {
  /**
   * Stable id: the certificate's SHA-256 fingerprint, the IAM user's ARN (MQTT over WSS signed
   * with SigV4), or `dev` on the development listener.
   */
  id: string;
  kind: 'certificate' | 'iam' | 'dev';
  certificate?: X509Certificate;
  /**
   * What the access control worked out at CONNECT for its later decisions (the policies'
   * targets, the connected thing, the certificate's fields, …): opaque to the broker. A session
   * restored after a restart has none until its client connects again.
   */
  authorization?: unknown;
}

/** What a CONNECT asks for, as authentication and the iot:Connect decision see it. */
export interface ConnectRequest {
  clientId: string;
  /** The session outlives the connection (MQTT 5 Clean Start 0 with expiry, 3.1.1 clean session 0). */
  persistent: boolean;
  /** The will's topic, when the CONNECT carries one. */
  willTopic?: string;
}

/** An IAM user that signed the WebSocket URL (SigV4, service `iotdevicegateway`). */
export interface IamIdentity {
  userName: string;
  arn: string;
  /** IAM's unique id for the user (AIDA…): `aws:userid`. */
  userId: string;
  accessKeyId: string;
  /** When the signing credentials' MFA was verified (temporary credentials obtained with MFA). */
  mfaAuthenticatedAt?: number;
}

/** The IoT policy actions the broker asks about (iot:Connect, iot:Publish, …). */
export type BrokerAction = 'connect' | 'publish' | 'retain' | 'subscribe' | 'receive';

/** The TLS session a connection came over, in the names of CloudTrail's `tlsDetails`. */
export interface ConnectionTls {
  tlsVersion: string;
  cipherSuite: string;
  /** The WebSocket upgrade's Host header; on MQTT over TLS, which has none, the SNI name. */
  clientProvidedHostHeader?: string;
  /** The server name the client sent in its TLS handshake (SNI). */
  clientProvidedServerName?: string;
}

export interface ConnectionFacts {
  remoteAddress: string;
  listener: 'tls' | 'wss' | 'dev';
  /** Set when the connection authenticated by a SigV4-signed WebSocket URL instead of a certificate. */
  iam?: IamIdentity;
  /** The TLS session (none on the dev listener), for the audit records of this connection. */
  tls?: ConnectionTls;
}

/**
 * The seam through which identity and policy plug into the broker. `authorize` is called on
 * every connect, publish, subscribe and delivery, so it must be synchronous and cheap; the
 * resource is the client id for `connect` and the topic or filter otherwise.
 */
export interface AccessControl {
  /** Runs once per CONNECT, so it may look things up; undefined refuses the client. */
  authenticate(
    connection: ConnectionFacts,
    certificate: X509Certificate | undefined,
    connect: ConnectRequest,
  ): Principal | undefined | Promise<Principal | undefined>;
  authorize(
    principal: Principal,
    action: BrokerAction,
    resource: string,
    clientId: string,
  ): boolean;
}

/** Who sent a publish the payload guard flagged or refused. */
export type PayloadPublisher =
  | { via: 'mqtt'; principal: Principal; clientId: string }
  | { via: 'https'; caller: Caller; sourceIp: string; userAgent: string };

/** Where publishes the payload guard flagged or refused are told (the audit trail's summaries). */
export interface SensitivePayloadReports {
  /** Called per flagged or refused publish: cheap, never throws; gets no payload. */
  sensitivePayload(publisher: PayloadPublisher, topic: string, verdict: PayloadVerdict): void;
}
