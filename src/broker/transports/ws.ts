import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { createWebSocketStream, WebSocketServer, type RawData, type WebSocket } from 'ws';
import type { Logger } from '../../logs/logger.js';
import type { IamIdentity } from '../access.js';
import type { Broker } from '../broker.js';
import {
  chainVerifier,
  connectionTlsOf,
  peerFacts,
  type PeerRefusal,
  type PeerVerifier,
  type RefusalObserver,
} from './tls.js';

/** The path AWS IoT serves MQTT over WebSocket on (`wss://<endpoint>/mqtt`). */
export const MQTT_WS_PATH = '/mqtt';

/** The subprotocols MQTT clients offer, preferred first: `mqtt` (3.1.1 and 5), `mqttv3.1` (3.1). */
const SUBPROTOCOLS = ['mqtt', 'mqttv3.1'];

/** How long `close()` lets clients finish their closing handshake before cutting them off. */
const CLOSE_GRACE_MS = 2000;

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
};

/** Why a signed URL was refused: the HTTP status and AWS's error name and message. */
export interface SignedUrlRefusal {
  status: number;
  awsType: string;
  message: string;
}

export interface WssListenerOptions {
  logger: Logger;
  /**
   * Verifies a SigV4-presigned upgrade URL (service `iotdevicegateway`): the IAM user who signed
   * it, or a refusal. Without it only client certificates are accepted.
   */
  verifySignedUrl?(request: IncomingMessage): Promise<IamIdentity | SignedUrlRefusal>;
  /** Whether a client certificate will do (default: it chains to a CA the API listener trusts). */
  verifyPeer?: PeerVerifier;
  /** Told of each upgrade refused for its credentials (the audit trail). */
  onRefused?: RefusalObserver;
}

export interface WssListener {
  /** Stops taking upgrades; closes the WebSockets still open once their grace period is over. */
  close(): Promise<void>;
}

/** The subprotocols a handshake offers, from `Sec-WebSocket-Protocol` (RFC 6455 §4.1). */
function offeredSubprotocols(request: IncomingMessage): string[] {
  const header = request.headers['sec-websocket-protocol'];
  if (!header) return [];
  return header
    .split(',')
    .map((token) => token.trim())
    .filter((token) => token.length > 0);
}

function requestPath(request: IncomingMessage): string {
  const url = request.url ?? '';
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** Answers an upgrade request with a plain HTTP error and closes the socket. */
function refuse(socket: Duplex, status: number, message: string): void {
  socket.on('error', () => undefined); // the peer may already be gone; nothing to report
  const body = `${message}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(body)}\r\n` +
      '\r\n' +
      body,
  );
  socket.once('finish', () => socket.destroy());
}

/**
 * Hands a WebSocket to the broker as a byte stream. `createWebSocketStream` pushes every frame
 * into the stream; a gate in front of it lets binary frames through and closes the connection on
 * any other kind before its bytes reach the MQTT parser [MQTT-6.0.0-1].
 */
function mqttStream(ws: WebSocket, onTextFrame: () => void): Duplex {
  const stream = createWebSocketStream(ws);
  const forward = ws.listeners('message') as ((data: RawData, isBinary: boolean) => void)[];
  ws.removeAllListeners('message');
  let refused = false;
  ws.on('message', (data, isBinary) => {
    if (refused) return;
    if (!isBinary) {
      refused = true;
      onTextFrame();
      // 1003: the endpoint received a type of data it cannot accept (RFC 6455 §7.4.1).
      ws.close(1003, 'MQTT takes binary frames only');
      return;
    }
    for (const listener of forward) listener.call(ws, data, isBinary);
  });
  // The stream only ends its readable side when the WebSocket closes; the broker waits for 'close'.
  ws.once('close', () => stream.destroy());
  return stream;
}

/** Whether the upgrade URL carries a SigV4 query signature. */
function isSignedUrl(request: IncomingMessage): boolean {
  return /[?&]X-Amz-Signature=/i.test(request.url ?? '');
}

/** The access key id a signed URL's `X-Amz-Credential` names, when it looks like one. */
function signingKeyIdOf(request: IncomingMessage): string | undefined {
  try {
    const credential = new URL(request.url ?? '', 'https://localhost').searchParams.get(
      'X-Amz-Credential',
    );
    const keyId = credential?.split('/')[0];
    return keyId !== undefined && /^[A-Z0-9]{16,128}$/.test(keyId) ? keyId : undefined;
  } catch {
    return undefined;
  }
}

function headerOf(request: IncomingMessage, name: 'host' | 'user-agent'): string | undefined {
  const value = request.headers[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * MQTT over secure WebSocket at `/mqtt` on the HTTPS API listener, subprotocol `mqtt` (or
 * `mqttv3.1`). A client authenticates as AWS's clients do: by a URL presigned with SigV4 by an
 * IAM user, or by a certificate chaining to the device CA, as on the TLS listener (the API server
 * asks every client for one, when a device CA is set, but only this path requires it, so
 * ordinary HTTPS requests work without). Other paths' upgrades get 404.
 */
export function attachWss(
  broker: Broker,
  server: HttpServer,
  options: WssListenerOptions,
): WssListener {
  const logger = options.logger.child({ component: 'wss' });
  const wss = new WebSocketServer({
    noServer: true,
    // Every MQTT packet travels in one message or several; none may be larger than the broker takes.
    maxPayload: broker.limits.maxPacketBytes,
    perMessageDeflate: false,
    handleProtocols: (offered) => SUBPROTOCOLS.find((name) => offered.has(name)) ?? false,
  });

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const tlsSocket = request.socket as TLSSocket;
    const remoteAddress = tlsSocket.remoteAddress ?? 'unknown';
    const tls = connectionTlsOf(tlsSocket, headerOf(request, 'host'));
    const refused = (status: number, message: string, reason: string, logged: object = {}) => {
      logger.info({ remoteAddress, status, reason, ...logged }, 'WebSocket upgrade refused');
      refuse(socket, status, message);
    };
    /** A refusal of the client's credentials: logged, answered, and told to the audit trail. */
    const refusedCredentials = (
      status: number,
      message: string,
      refusal: Pick<PeerRefusal, 'reason' | 'detail' | 'certificate' | 'accessKeyId'>,
      logged: object = {},
    ) => {
      refused(status, message, refusal.reason, logged);
      const userAgent = headerOf(request, 'user-agent');
      options.onRefused?.({
        listener: 'wss',
        stage: 'websocket-upgrade',
        ...refusal,
        remoteAddress,
        ...(tls ? { tls } : {}),
        ...(userAgent !== undefined ? { userAgent } : {}),
      });
    };
    if (requestPath(request) !== MQTT_WS_PATH) return refused(404, 'Not Found', 'unknown path');
    const offered = offeredSubprotocols(request);
    if (!offered.some((name) => SUBPROTOCOLS.includes(name)))
      return refused(400, 'the WebSocket subprotocol must be mqtt', 'no mqtt subprotocol offered');
    const upgrade = (iam?: IamIdentity) => {
      const certificate = iam ? undefined : tlsSocket.getPeerX509Certificate();
      wss.handleUpgrade(request, socket, head, (ws) => {
        tlsSocket.setNoDelay(true);
        const stream = mqttStream(ws, () =>
          logger.info({ remoteAddress }, 'closing WebSocket: text frame'),
        );
        broker.accept(
          stream,
          { remoteAddress, listener: 'wss', ...(iam ? { iam } : {}), ...(tls ? { tls } : {}) },
          certificate,
        );
      });
    };
    if (isSignedUrl(request) && options.verifySignedUrl) {
      options.verifySignedUrl(request).then(
        (result) => {
          if ('arn' in result) return upgrade(result);
          const accessKeyId = signingKeyIdOf(request);
          refusedCredentials(result.status, `${result.awsType}: ${result.message}`, {
            reason: result.awsType,
            detail: result.message,
            ...(accessKeyId !== undefined ? { accessKeyId } : {}),
          });
        },
        (error: unknown) => {
          logger.error({ err: error, remoteAddress }, 'could not verify a signed WebSocket URL');
          refused(500, 'InternalFailureException', 'signature check failed');
        },
      );
      return;
    }
    const certificate = tlsSocket.getPeerX509Certificate();
    const facts = peerFacts(tlsSocket, certificate);
    // The peer may reset the connection while an OCSP answer is awaited: nothing to report then.
    const ignore = () => undefined;
    socket.on('error', ignore);
    Promise.resolve()
      .then(() => (options.verifyPeer ?? chainVerifier)(tlsSocket, certificate))
      .then(
        (verdict) => {
          socket.off('error', ignore);
          // A refusal is recorded even when the peer has left meanwhile.
          if (verdict.accepted) return socket.destroyed ? undefined : upgrade();
          refusedCredentials(
            401,
            'a registered device certificate, or a URL signed with SigV4, is required',
            {
              reason: verdict.reason,
              ...(verdict.detail !== undefined ? { detail: verdict.detail } : {}),
              ...(certificate ? { certificate } : {}),
            },
            { ...facts, detail: verdict.detail },
          );
        },
        (error: unknown) => {
          socket.off('error', ignore);
          logger.error({ err: error, remoteAddress }, 'could not verify a client certificate');
          refused(500, 'InternalFailureException', 'certificate check failed');
        },
      );
  };
  server.on('upgrade', onUpgrade);

  return {
    async close() {
      server.off('upgrade', onUpgrade);
      const open = [...wss.clients];
      await new Promise<void>((resolve) => {
        let pending = open.length;
        if (pending === 0) return resolve();
        const grace = setTimeout(() => {
          for (const ws of open) ws.terminate();
        }, CLOSE_GRACE_MS);
        grace.unref();
        for (const ws of open) {
          const done = () => {
            pending -= 1;
            if (pending === 0) {
              clearTimeout(grace);
              resolve();
            }
          };
          if (ws.readyState === ws.CLOSED) done();
          else ws.once('close', done);
        }
      });
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
