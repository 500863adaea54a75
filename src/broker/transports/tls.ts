import type { X509Certificate } from 'node:crypto';
import { createServer, type SecureContextOptions, type Server, type TLSSocket } from 'node:tls';
import type { Logger } from '../../logs/logger.js';
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

/** What a refusal is logged with: source, SNI, and the certificate's serial and SHA-256 fingerprint. */
export function peerFacts(
  socket: TLSSocket,
  certificate: X509Certificate | undefined,
): Record<string, string | undefined> {
  return {
    remoteAddress: socket.remoteAddress,
    sni: socket.servername || undefined,
    ...(certificate
      ? {
          serialNumber: certificate.serialNumber,
          fingerprint256: certificate.fingerprint256.replace(/:/g, '').toLowerCase(),
        }
      : {}),
  };
}

/**
 * Runs `verifyPeer` on a handshaken socket, then hands it to `admit` or destroys it, logging the
 * refusal as `message` with its reason and the peer's facts. A socket that closes while the
 * verdict is awaited is dropped; one the verifier fails on is refused, never admitted.
 */
export function verifyThenAdmit(
  socket: TLSSocket,
  verifyPeer: PeerVerifier,
  logger: Logger,
  message: string,
  admit: (certificate: X509Certificate | undefined) => void,
): void {
  const certificate = socket.getPeerX509Certificate();
  const refuse = (reason: string, detail?: string) => {
    logger.info({ ...peerFacts(socket, certificate), reason, detail }, message);
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
        if (socket.destroyed) return;
        if (!verdict.accepted) return refuse(verdict.reason, verdict.detail);
        admit(certificate);
      },
      (error: unknown) => {
        socket.off('error', ignore);
        logger.error({ err: error, ...peerFacts(socket, certificate) }, 'peer verification failed');
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
        verifyPeer,
        options.logger,
        'TLS handshake refused',
        (certificate) => {
          socket.setNoDelay(true);
          broker.accept(
            socket,
            { remoteAddress: socket.remoteAddress ?? 'unknown', listener: 'tls' },
            certificate,
          );
        },
      ),
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
