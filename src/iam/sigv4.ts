import { createHash, createHmac, timingSafeEqual, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { BulwarkError } from '../errors.js';

/**
 * AWS Signature Version 4 verification, for the Authorization-header form and the presigned
 * query form. The expected signature is computed by `@smithy/signature-v4` (the AWS SDK's own
 * signer) over the request exactly as received, and compared in constant time.
 */

const ALGORITHM = 'AWS4-HMAC-SHA256';
/** Clock skew AWS tolerates between the signer's clock and ours. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;
/** AWS's longest presigned URL lifetime: 7 days. */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 604_800;
const EMPTY_BODY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
const PRESIGNED_PARAMS = {
  algorithm: 'X-Amz-Algorithm',
  credential: 'X-Amz-Credential',
  date: 'X-Amz-Date',
  expires: 'X-Amz-Expires',
  signedHeaders: 'X-Amz-SignedHeaders',
  signature: 'X-Amz-Signature',
  securityToken: 'X-Amz-Security-Token',
} as const;

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape the signer asks for. */
export class NodeSha256 {
  private readonly hash: Hash | Hmac;

  constructor(secret?: SourceData) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }

  update(data: SourceData): void {
    this.hash.update(bytesOf(data));
  }

  async digest(): Promise<Uint8Array> {
    return this.hash.digest();
  }
}

/** A request as it arrived on the wire. */
export interface ReceivedRequest {
  method: string;
  /** The request target exactly as received (`req.raw.url`): path and query, still percent-encoded. */
  rawUrl: string;
  /** Header names and values in arrival order, as Node's `rawHeaders`. */
  rawHeaders: string[];
  body: Buffer;
}

/** Which signing names (the service in the credential scope) a route accepts, per form. */
export interface SigningNames {
  header: readonly string[];
  presigned: readonly string[];
  /** A global service's signing region, accepted besides the one Bulwark serves (IAM: us-east-1). */
  globalRegion?: string;
}

/** What a credential lookup returns: the secret to check against, and whom it belongs to. */
export interface ResolvedCredentials<P> {
  secretAccessKey: string;
  principal: P;
}

export interface VerifyOptions<P> {
  /** The one region Bulwark serves; the credential scope must name it. */
  region: string;
  signingNames: SigningNames;
  /** The key's secret and owner; undefined for an unknown key or an unknown session token. */
  resolve(
    accessKeyId: string,
    sessionToken: string | undefined,
  ): Promise<ResolvedCredentials<P> | undefined>;
  now?: () => number;
}

export interface VerifiedRequest<P> {
  principal: P;
  accessKeyId: string;
  form: 'header' | 'presigned';
  signingName: string;
  /** The region in the credential scope. */
  signingRegion: string;
}

interface SignatureParts {
  form: 'header' | 'presigned';
  accessKeyId: string;
  scope: { date: string; region: string; service: string };
  /** X-Amz-Date, basic ISO 8601 (20260101T120000Z). */
  amzDate: string;
  signedHeaders: string[];
  signature: string;
  expiresSeconds?: number;
  sessionToken?: string;
}

/** Query parameters percent-decoded, in order; the signer re-encodes them canonically. */
export function parseRawQuery(rawQuery: string): [string, string][] {
  if (rawQuery === '') return [];
  return rawQuery
    .split('&')
    .filter((pair) => pair !== '')
    .map((pair) => {
      const equals = pair.indexOf('=');
      const [key, value] =
        equals < 0 ? [pair, ''] : [pair.slice(0, equals), pair.slice(equals + 1)];
      try {
        return [decodeURIComponent(key), decodeURIComponent(value)];
      } catch {
        throw new BulwarkError(
          'InvalidRequest',
          `The query string is not valid percent-encoding near ${JSON.stringify(pair.slice(0, 64))}`,
        );
      }
    });
}

/** `[[a, 1], [a, 2], [b, '']]` → `{a: ['1', '2'], b: ''}`, with no prototype to pollute. */
export function queryRecord(pairs: [string, string][]): Record<string, string | string[]> {
  const query: Record<string, string | string[]> = Object.create(null);
  for (const [key, value] of pairs) {
    const previous = query[key];
    query[key] =
      previous === undefined
        ? value
        : [...(Array.isArray(previous) ? previous : [previous]), value];
  }
  return query;
}

/** Lower-case header name → values joined by commas, as SigV4 canonicalises repeated headers. */
function headersOf(rawHeaders: string[]): Map<string, string> {
  const headers = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = (rawHeaders[i + 1] as string).trim();
    const previous = headers.get(name);
    headers.set(name, previous === undefined ? value : `${previous},${value}`);
  }
  return headers;
}

function incomplete(message: string): BulwarkError {
  return new BulwarkError('IncompleteSignature', message);
}

function parseCredential(credential: string): Pick<SignatureParts, 'accessKeyId' | 'scope'> {
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || parts.some((part) => part === ''))
    throw incomplete(
      `Credential should be of the form <access key id>/<date>/<region>/<service>/aws4_request, not ${JSON.stringify(credential.slice(0, 200))}.`,
    );
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  return { accessKeyId, scope: { date, region, service } };
}

function parseSignedHeaders(value: string): string[] {
  return value.split(';').map((name) => name.trim().toLowerCase());
}

function parseAuthorizationHeader(
  authorization: string,
  headers: Map<string, string>,
): SignatureParts {
  const space = authorization.indexOf(' ');
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm !== ALGORITHM)
    throw incomplete(
      `Unsupported signature algorithm ${JSON.stringify(algorithm.slice(0, 64))}; only ${ALGORITHM} is accepted.`,
    );
  const fields = new Map<string, string>();
  for (const field of authorization.slice(space + 1).split(',')) {
    const equals = field.indexOf('=');
    if (equals > 0) fields.set(field.slice(0, equals).trim(), field.slice(equals + 1).trim());
  }
  const missing = ['Credential', 'Signature', 'SignedHeaders'].filter((name) => !fields.has(name));
  if (missing.length > 0)
    throw incomplete(
      missing.map((name) => `Authorization header requires '${name}' parameter.`).join(' '),
    );
  const amzDate = headers.get('x-amz-date');
  if (amzDate === undefined)
    throw incomplete("Authorization header requires existence of a 'X-Amz-Date' header.");
  const signedHeaders = parseSignedHeaders(fields.get('SignedHeaders') as string);
  if (!signedHeaders.includes('x-amz-date'))
    throw incomplete("The 'X-Amz-Date' header must be among the SignedHeaders.");
  return {
    form: 'header',
    ...parseCredential(fields.get('Credential') as string),
    amzDate,
    signedHeaders,
    signature: fields.get('Signature') as string,
    ...(headers.has('x-amz-security-token')
      ? { sessionToken: headers.get('x-amz-security-token') as string }
      : {}),
  };
}

function parsePresignedQuery(query: Map<string, string>): SignatureParts {
  const missing = [
    PRESIGNED_PARAMS.algorithm,
    PRESIGNED_PARAMS.credential,
    PRESIGNED_PARAMS.date,
    PRESIGNED_PARAMS.signedHeaders,
    PRESIGNED_PARAMS.signature,
  ].filter((name) => !query.has(name));
  if (missing.length > 0)
    throw incomplete(
      missing
        .map((name) => `A presigned request requires the '${name}' query parameter.`)
        .join(' '),
    );
  const algorithm = query.get(PRESIGNED_PARAMS.algorithm) as string;
  if (algorithm !== ALGORITHM)
    throw incomplete(
      `Unsupported signature algorithm ${JSON.stringify(algorithm.slice(0, 64))}; only ${ALGORITHM} is accepted.`,
    );
  const expires = query.get(PRESIGNED_PARAMS.expires);
  let expiresSeconds: number | undefined;
  if (expires !== undefined) {
    expiresSeconds = /^\d{1,7}$/.test(expires) ? Number(expires) : NaN;
    if (!(expiresSeconds >= 1 && expiresSeconds <= MAX_PRESIGNED_EXPIRES_SECONDS))
      throw incomplete(
        `X-Amz-Expires must be a whole number of seconds from 1 to ${MAX_PRESIGNED_EXPIRES_SECONDS}; got ${JSON.stringify(expires.slice(0, 32))}.`,
      );
  }
  const sessionToken = query.get(PRESIGNED_PARAMS.securityToken);
  return {
    form: 'presigned',
    ...parseCredential(query.get(PRESIGNED_PARAMS.credential) as string),
    amzDate: query.get(PRESIGNED_PARAMS.date) as string,
    signedHeaders: parseSignedHeaders(query.get(PRESIGNED_PARAMS.signedHeaders) as string),
    signature: query.get(PRESIGNED_PARAMS.signature) as string,
    ...(expiresSeconds !== undefined ? { expiresSeconds } : {}),
    ...(sessionToken !== undefined ? { sessionToken } : {}),
  };
}

/** 20260101T120000Z → Date; undefined when it is not that exact form. */
function parseAmzDate(value: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!match) return undefined;
  const [, year, month, day, hour, minute, second] = match.map(Number) as number[];
  const date = new Date(Date.UTC(year as number, (month as number) - 1, day, hour, minute, second));
  return date.toISOString().slice(0, 19).replace(/[-:]/g, '') + 'Z' === value ? date : undefined;
}

function amzDateOf(time: number): string {
  return new Date(time).toISOString().slice(0, 19).replace(/[-:]/g, '') + 'Z';
}

/** AWS's RequestExpired wording: the signature is too old, or from too far in the future. */
function checkFreshness(parts: SignatureParts, signedAt: Date, now: number): void {
  const signed = signedAt.getTime();
  if (signed - now > MAX_CLOCK_SKEW_MS)
    throw new BulwarkError(
      'RequestExpired',
      `Signature not yet current: ${parts.amzDate} is still later than ${amzDateOf(now + MAX_CLOCK_SKEW_MS)} (${amzDateOf(now)} + 5 min.)`,
    );
  if (parts.expiresSeconds !== undefined) {
    const until = signed + parts.expiresSeconds * 1000;
    if (now > until)
      throw new BulwarkError(
        'RequestExpired',
        `Signature expired: ${amzDateOf(until)} is now earlier than ${amzDateOf(now)} (${parts.amzDate} + ${parts.expiresSeconds} sec.)`,
      );
    return;
  }
  if (now - signed > MAX_CLOCK_SKEW_MS)
    throw new BulwarkError(
      'RequestExpired',
      `Signature expired: ${parts.amzDate} is now earlier than ${amzDateOf(now - MAX_CLOCK_SKEW_MS)} (${amzDateOf(now)} - 5 min.)`,
    );
}

function checkScope(parts: SignatureParts, region: string, names: SigningNames): void {
  const { scope } = parts;
  if (scope.date !== parts.amzDate.slice(0, 8))
    throw new BulwarkError(
      'InvalidSignature',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scope.date}' != '${parts.amzDate.slice(0, 8)}', from '${parts.amzDate}'.`,
    );
  const regions = names.globalRegion === undefined ? [region] : [region, names.globalRegion];
  if (!regions.includes(scope.region))
    throw new BulwarkError(
      'InvalidSignature',
      `Credential should be scoped to a valid region, not '${scope.region}'. This endpoint serves '${[...new Set(regions)].join("' or '")}'.`,
    );
  const accepted = parts.form === 'header' ? names.header : names.presigned;
  if (!accepted.includes(scope.service))
    throw new BulwarkError(
      'InvalidSignature',
      `Credential should be scoped to correct service: '${accepted.join("' or '")}'. `,
    );
}

function sameSignature(expected: string, provided: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(provided, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Verifies a SigV4-signed request and returns who signed it. Every failure is a BulwarkError with
 * AWS's error name: MissingAuthenticationToken, IncompleteSignature, RequestExpired,
 * UnrecognizedClient, InvalidSignature.
 */
export async function verifySigV4<P>(
  request: ReceivedRequest,
  options: VerifyOptions<P>,
): Promise<VerifiedRequest<P>> {
  const queryStart = request.rawUrl.indexOf('?');
  const rawPath = queryStart < 0 ? request.rawUrl : request.rawUrl.slice(0, queryStart);
  const queryPairs = parseRawQuery(queryStart < 0 ? '' : request.rawUrl.slice(queryStart + 1));
  const queryFirst = new Map<string, string>();
  for (const [key, value] of queryPairs) if (!queryFirst.has(key)) queryFirst.set(key, value);
  const headers = headersOf(request.rawHeaders);

  const authorization = headers.get('authorization');
  const presigned =
    queryFirst.has(PRESIGNED_PARAMS.signature) || queryFirst.has(PRESIGNED_PARAMS.algorithm);
  if (authorization === undefined && !presigned)
    throw new BulwarkError('MissingAuthenticationToken', 'Missing Authentication Token');
  if (authorization !== undefined && presigned)
    throw incomplete(
      'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.',
    );
  const parts =
    authorization !== undefined
      ? parseAuthorizationHeader(authorization, headers)
      : parsePresignedQuery(queryFirst);

  const signedAt = parseAmzDate(parts.amzDate);
  if (!signedAt)
    throw incomplete(
      `X-Amz-Date must be a UTC time in the form YYYYMMDD'T'HHMMSS'Z'; got ${JSON.stringify(parts.amzDate.slice(0, 32))}.`,
    );
  if (!parts.signedHeaders.includes('host'))
    throw incomplete("The 'host' header must be among the SignedHeaders.");
  checkFreshness(parts, signedAt, (options.now ?? Date.now)());
  checkScope(parts, options.region, options.signingNames);

  const resolved = await options.resolve(parts.accessKeyId, parts.sessionToken);
  if (!resolved)
    throw new BulwarkError(
      'UnrecognizedClient',
      'The security token included in the request is invalid.',
    );

  // Only the headers the client signed take part, with the values received.
  const signedHeaderValues: Record<string, string> = Object.create(null);
  for (const name of parts.signedHeaders) {
    const value = headers.get(name);
    if (value === undefined) throw new BulwarkError('InvalidSignature', SIGNATURE_MISMATCH);
    signedHeaderValues[name] = value;
  }
  const declaredHash = signedHeaderValues['x-amz-content-sha256'];
  if (declaredHash !== undefined) {
    const bodyHash =
      request.body.length === 0
        ? EMPTY_BODY_SHA256
        : createHash('sha256').update(request.body).digest('hex');
    if (declaredHash !== bodyHash)
      throw new BulwarkError(
        'InvalidSignature',
        "The provided 'x-amz-content-sha256' header does not match what was computed.",
      );
  }

  const query = queryRecord(
    parts.form === 'presigned'
      ? queryPairs.filter(([key]) => key !== PRESIGNED_PARAMS.signature)
      : queryPairs,
  );
  const signer = new SignatureV4({
    credentials: { accessKeyId: parts.accessKeyId, secretAccessKey: resolved.secretAccessKey },
    region: parts.scope.region,
    service: parts.scope.service,
    sha256: NodeSha256,
    uriEscapePath: true,
    // The client's own x-amz-content-sha256, if it signed one, is among the headers already.
    applyChecksum: false,
  });
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: 'https:',
      hostname: signedHeaderValues.host ?? '',
      path: rawPath,
      query,
      headers: signedHeaderValues,
      body: request.body.length === 0 ? undefined : request.body,
    },
    {
      signingDate: signedAt,
      // Exactly the headers the client named: the signer adds x-amz-date itself, which a
      // presigned request carries in the query instead.
      signableHeaders: new Set(parts.signedHeaders),
      unsignableHeaders: new Set(['x-amz-date']),
    },
  );
  const expected = /Signature=([0-9a-f]+)$/.exec(signed.headers.authorization ?? '')?.[1] ?? '';
  if (!sameSignature(expected, parts.signature))
    throw new BulwarkError('InvalidSignature', SIGNATURE_MISMATCH);
  return {
    principal: resolved.principal,
    accessKeyId: parts.accessKeyId,
    form: parts.form,
    signingName: parts.scope.service,
    signingRegion: parts.scope.region,
  };
}
