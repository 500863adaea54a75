import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

/** How a revocation source is asked: a CRL by GET, an OCSP query by POST (RFC 6960 §A.1). */
export type FetchRequest =
  | { method: 'GET'; accept: string }
  | { method: 'POST'; accept: string; contentType: string; body: Buffer };

export interface FetchLimits {
  timeoutMs: number;
  maxBytes: number;
}

/** A URL as it may be logged: scheme, host and path (credentials are refused in the config anyway). */
export function describeUrl(url: URL): string {
  return `${url.protocol}//${url.host}${url.pathname}`;
}

/**
 * The body of a 200 answer from a CRL distribution point or an OCSP responder. HTTPS servers are
 * checked against Node's trusted roots (plus NODE_EXTRA_CA_CERTS). Redirects are not followed and
 * the whole exchange, body included, must fit `limits`; anything else rejects with a message that
 * says what went wrong (the caller names the URL).
 */
export function fetchBytes(url: URL, request: FetchRequest, limits: FetchLimits): Promise<Buffer> {
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const fail = (message: string) => {
      clearTimeout(deadline);
      reject(new Error(message));
    };
    const outgoing = send(
      url,
      {
        method: request.method,
        headers: {
          accept: request.accept,
          ...(request.method === 'POST'
            ? { 'content-type': request.contentType, 'content-length': request.body.length }
            : {}),
        },
        timeout: limits.timeoutMs,
      },
      (response: IncomingMessage) => {
        if (response.statusCode !== 200) {
          response.resume();
          const redirect = (response.statusCode ?? 0) >= 300 && (response.statusCode ?? 0) < 400;
          return fail(
            `answered HTTP ${response.statusCode}` +
              (redirect ? ' (redirects are not followed: configure the final URL)' : ''),
          );
        }
        const chunks: Buffer[] = [];
        let size = 0;
        response.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > limits.maxBytes) {
            outgoing.destroy();
            return fail(`the answer is larger than ${limits.maxBytes} bytes`);
          }
          chunks.push(chunk);
        });
        response.on('end', () => {
          clearTimeout(deadline);
          resolve(Buffer.concat(chunks));
        });
        response.on('error', (error) => fail(error.message));
      },
    );
    const deadline = setTimeout(() => {
      outgoing.destroy();
      fail(`no complete answer within ${limits.timeoutMs} ms`);
    }, limits.timeoutMs);
    outgoing.on('timeout', () => {
      outgoing.destroy();
      fail(`no answer within ${limits.timeoutMs} ms`);
    });
    outgoing.on('error', (error: NodeJS.ErrnoException) => fail(error.code ?? error.message));
    outgoing.end(request.method === 'POST' ? request.body : undefined);
  });
}
