import type { X509Certificate } from 'node:crypto';
import { createServer, type SecureContextOptions, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from '../../logs/logger.js';
import { certificateIdOf } from '../../pki/x509.js';
import type { ConnectionTls } from '../access.js';
import type { Broker } from '../broker.js';

/**
 * What the listener decided about a client's certificate once the handshake is done: a refusal
 * carries OpenSSL's verify-error name (`CERT_REVOKED`, `CERT_HAS_EXPIRED`, …) and, where there is
 * more to say (which CRL, which responder), a detail for the log.
 */
export type PeerVerdict = { accepted: true } | { accepted: false; reason: string; detail?: string };

/**
 * Decides whether a handshaken client may go on to MQTT. OpenSSL has checked the chain against
 * the trusted CAs (`socket.authorized`, `socket.authorizationError`) but refused nothing, so the
 * reason for a refusal can be told and logged; the verifier may also accept a certificate that
 * does not chain (one registered without its CA). It may answer later (an OCSP query): the
 * socket is left unread meanwhile.
 */
export type PeerVerifier = (
  socket: TLSSocket,
  certificate: X509Certificate | undefined,
) => PeerVerdict | Promise<PeerVerdict>;

/** Where a refusal happened: the MQTT/TLS listener, the HTTPS port's ALPN, or MQTT over WSS. */
export type RefusingListener = 'tls' | 'alpn' | 'wss';

/**
 * A client refused before any MQTT byte was read, for the audit trail: at the end of its TLS
 * handshake (its certificate) or at its WebSocket upgrade (its certificate or its signed URL).
 */
export interface PeerRefusal {
  listener: RefusingListener;
  stage: 'tls-handshake' | 'websocket-upgrade';
  /** OpenSSL's verify-error name (`CERT_REVOKED`, …), Bulwark's own, or AWS's error name for a signed URL. */
  reason: string;
  detail?: string;
  remoteAddress: string;
  /** None when the handshake itself failed. */
  tls?: ConnectionTls;
  /** The SNI name, when a failed handshake got as far as sending it (otherwise it is in `tls`). */
  serverName?: string;
  certificate?: X509Certificate;
  /** The access key a refused signed WebSocket URL names. */
  accessKeyId?: string;
  /** The WebSocket upgrade's User-Agent header. */
  userAgent?: string;
}

/** Told of every refusal (the audit trail summarises them); must not throw. */
export type RefusalObserver = (refusal: PeerRefusal) => void;

/**
 * A handshaken socket's TLS session in CloudTrail's names: version and cipher suite as OpenSSL
 * names them (`TLSv1.3`, `TLS_AES_128_GCM_SHA256`), the SNI name, and the Host header (for MQTT
 * over TLS, which has none, the SNI name stands in, as CloudTrail's field is described).
 */
export function connectionTlsOf(socket: TLSSocket, hostHeader?: string): ConnectionTls | undefined {
  const tlsVersion = socket.getProtocol();
  const cipher = socket.getCipher() as { name?: string } | undefined;
  if (!tlsVersion || !cipher?.name) return undefined;
  const serverName = socket.servername || undefined;
  const host = hostHeader ?? serverName;
  return {
    tlsVersion,
    cipherSuite: cipher.name,
    ...(host !== undefined ? { clientProvidedHostHeader: host } : {}),
    ...(serverName !== undefined ? { clientProvidedServerName: serverName } : {}),
  };
}

/** What a refusal is logged with: source, SNI, and the certificate's serial and SHA-256 fingerprint. */
export function peerFacts(
  socket: TLSSocket,
  certificate: X509Certificate | undefined,
  remoteAddress = socket.remoteAddress,
): Record<string, string | undefined> {
  return {
    remoteAddress,
    sni: socket.servername || undefined,
    ...(certificate
      ? {
          serialNumber: certificate.serialNumber,
          fingerprint256: certificateIdOf(certificate),
        }
      : {}),
  };
}

/** Hands a verified MQTT-over-TLS socket (its own port, or ALPN on the HTTPS port) to the broker. */
export function admitToBroker(
  broker: Broker,
  socket: TLSSocket,
  certificate: X509Certificate | undefined,
  tls: ConnectionTls | undefined,
): void {
  socket.setNoDelay(true);
  broker.accept(
    socket,
    { remoteAddress: socket.remoteAddress ?? 'unknown', listener: 'tls', ...(tls ? { tls } : {}) },
    certificate,
  );
}

/** How a listener verifies, and where its refusals go. */
export interface PeerChecks {
  verifyPeer: PeerVerifier;
  logger: Logger;
  /** The log line of a refusal. */
  message: string;
  listener: RefusingListener;
  onRefused?: RefusalObserver;
}

/**
 * Runs `verifyPeer` on a handshaken socket, then hands it to `admit` or destroys it, logging the
 * refusal as `message` with its reason and the peer's facts, and telling `onRefused`. A socket
 * that closes while the verdict is awaited is not admitted (its refusal is still recorded); one
 * the verifier fails on is refused, never admitted.
 */
export function verifyThenAdmit(
  socket: TLSSocket,
  { verifyPeer, logger, message, listener, onRefused }: PeerChecks,
  admit: (certificate: X509Certificate | undefined, tls: ConnectionTls | undefined) => void,
): void {
  const certificate = socket.getPeerX509Certificate();
  const tls = connectionTlsOf(socket);
  // Read now: a socket the peer has closed no longer tells its address. The rest of the facts
  // (fingerprint, serial) are worked out only for a refusal.
  const remoteAddress = socket.remoteAddress;
  const refuse = (reason: string, detail?: string) => {
    const facts = peerFacts(socket, certificate, remoteAddress);
    logger.info({ ...facts, reason, detail }, message);
    onRefused?.({
      listener,
      stage: 'tls-handshake',
      reason,
      ...(detail !== undefined ? { detail } : {}),
      remoteAddress: facts.remoteAddress ?? 'unknown',
      ...(tls ? { tls } : {}),
      ...(certificate ? { certificate } : {}),
    });
    socket.destroy();
  };
  // The peer may reset the connection while an OCSP answer is awaited: nothing to report then.
  const ignore = () => undefined;
  socket.on('error', ignore);
  Promise.resolve()
    .then(() => verifyPeer(socket, certificate))
    .then(
      (verdict) => {
        socket.off('error', ignore);
        // A refusal is recorded even when the peer has left meanwhile.
        if (!verdict.accepted) return refuse(verdict.reason, verdict.detail);
        if (socket.destroyed) return;
        admit(certificate, tls);
      },
      (error: unknown) => {
        socket.off('error', ignore);
        logger.error(
          { err: error, ...peerFacts(socket, certificate, remoteAddress) },
          'peer verification failed',
        );
        refuse('VERIFICATION_FAILED');
      },
    );
}

/** Accepts exactly the certificates that chain to a trusted CA. */
export const chainVerifier: PeerVerifier = (socket, certificate) => {
  if (!certificate) return { accepted: false, reason: 'NO_CLIENT_CERTIFICATE' };
  if (socket.authorized) return { accepted: true };
  return { accepted: false, reason: String(socket.authorizationError ?? 'UNKNOWN') };
};

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
  /** Default: chainVerifier. */
  verifyPeer?: PeerVerifier;
  /** Told of each refused handshake (the audit trail). */
  onRefused?: RefusalObserver;
}

/** OpenSSL's own refusals of a handshake (`ERR_SSL_…`), as opposed to a peer that went away. */
function isTlsRefusal(error: NodeJS.ErrnoException): boolean {
  return typeof error.code === 'string' && error.code.startsWith('ERR_SSL_');
}

/** The MQTT listener's TLS context: policy, server certificate, and the device CAs clients must chain to. */
export function mqttSecureContextOptions(
  pair: { certificatePem: string; privateKeyPem: string },
  deviceCaPems: string[],
  policyOptions: SecureContextOptions,
): SecureContextOptions {
  return { ...policyOptions, cert: pair.certificatePem, key: pair.privateKeyPem, ca: deviceCaPems };
}

/**
 * MQTT over TLS with mutual authentication. Every client is asked for a certificate and the
 * handshake completes either way; the peer is then verified here, so a refusal is logged with
 * OpenSSL's reason, the certificate's serial and fingerprint, the source address and the SNI (a
 * handshake OpenSSL itself aborts tells Node no more than ECONNRESET). A refused client is cut
 * off before a single MQTT byte is read.
 */
export async function listenTls(broker: Broker, options: TlsListenerOptions): Promise<Server> {
  const verifyPeer = options.verifyPeer ?? chainVerifier;
  const server = createServer(
    {
      ...mqttSecureContextOptions(options, options.deviceCaPems, options.policyOptions),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (socket: TLSSocket) =>
      verifyThenAdmit(
        socket,
        {
          verifyPeer,
          logger: options.logger,
          message: 'TLS handshake refused',
          listener: 'tls',
          ...(options.onRefused ? { onRefused: options.onRefused } : {}),
        },
        (certificate, tls) => admitToBroker(broker, socket, certificate, tls),
      ),
  );
  server.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => {
    const reason = error.code ?? error.message;
    options.logger.info({ remoteAddress: socket.remoteAddress, reason }, 'TLS handshake refused');
    // A handshake OpenSSL aborted (no shared protocol or cipher, a client alert) is a refusal
    // too; a peer that merely went away is not.
    if (isTlsRefusal(error))
      options.onRefused?.({
        listener: 'tls',
        stage: 'tls-handshake',
        reason,
        remoteAddress: socket.remoteAddress ?? 'unknown',
        ...(socket.servername ? { serverName: socket.servername } : {}),
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  return server;
}
