import { isIP } from 'node:net';
import type { DetectorSet } from './detector-set.js';

/**
 * The URL guard: a URL the operator configures must not carry a credential, since URLs end up in
 * logs, proxies, `Referer` headers and error messages (CWE-598). Refused: any user-info, a query
 * (or fragment) parameter named like a credential, and a query value or path a credentials
 * detector matches. Only `https` unless the caller accepts other schemes, or loopback `http` is
 * allowed (`guard.urls.allowLoopbackHttp`). A refusal names the field and what was found, never
 * the value, and says where a secret goes instead.
 */

/**
 * Query parameter names (compared case-insensitively) whose values are keys, tokens, signatures
 * or passwords: OAuth's, the presigned URLs of S3 (SigV4 and V2), Google Cloud Storage and Azure
 * SAS (`sv` marks one, `sig` signs it), and the usual API-key and password spellings.
 */
export const CREDENTIAL_QUERY_KEYS: ReadonlySet<string> = new Set(
  [
    'token',
    'access_token',
    'id_token',
    'refresh_token',
    'auth_token',
    'authtoken',
    'api_token',
    'apitoken',
    'session_token',
    'sessiontoken',
    'key',
    'apikey',
    'api_key',
    'api-key',
    'x-api-key',
    'access_key',
    'secret',
    'client_secret',
    'client_assertion',
    'private_key',
    'password',
    'passwd',
    'pwd',
    'sslpassword',
    'sig',
    'signature',
    'code',
    'auth',
    'jwt',
    'X-Amz-Credential',
    'X-Amz-Security-Token',
    'X-Amz-Signature',
    'AWSAccessKeyId',
    'X-Goog-Credential',
    'X-Goog-Signature',
    'sv',
  ].map((key) => key.toLowerCase()),
);

/** Where a secret goes instead of a URL, unless a field says otherwise. */
export const SECRET_IN_HEADER_ADVICE =
  "put the secret in a request header instead, from the environment or a secret reference sealed by Bulwark's KMS";

export interface UrlRules {
  /** The setting or API field the URL came from, named in the message. */
  field: string;
  /** The schemes accepted, with their colon: `['https:']`, `['postgres:', 'postgresql:']`. */
  schemes: readonly string[];
  /** Also accept `http:` to a loopback host (127.0.0.0/8, ::1, localhost). */
  allowLoopbackHttp?: boolean;
  /** Accept a user name without a password (a database login name is no secret). */
  allowUserName?: boolean;
  /** `guard.detectors`: those of the CREDENTIALS category run over query values, fragment and path. */
  detectors?: DetectorSet;
  /** What the field accepts, for a refused scheme; by default derived from `schemes`. */
  expected?: string;
  /** Where the secret goes instead; by default a request header. */
  secretAdvice?: string;
}

/** A URL setting: where it sits, its value, and the rules it answers to besides the guard's own. */
export interface OperatorUrl {
  path: (string | number)[];
  value: string;
  rules: Omit<UrlRules, 'field' | 'allowLoopbackHttp' | 'detectors'>;
}

/** Why a URL is refused: `reason` never holds any part of the value. */
export interface UrlRefusal {
  /** What was found and what to do instead, without the field's name. */
  reason: string;
  /** `field: reason`, for an operator or an API error. */
  message: string;
}

/** The problem with `value` as a URL for `rules.field`, or undefined when it may be used. */
export function checkOperatorUrl(value: string, rules: UrlRules): UrlRefusal | undefined {
  const reason = problemOf(value, rules);
  return reason === undefined ? undefined : { reason, message: `${rules.field}: ${reason}` };
}

/** Every refusal among `urls`, by path: the one rule applied to each URL setting. */
export function checkOperatorUrls(
  urls: readonly OperatorUrl[],
  guard: { allowLoopbackHttp: boolean; detectors: DetectorSet },
): { path: (string | number)[]; refusal: UrlRefusal }[] {
  return urls.flatMap(({ path, value, rules }) => {
    const refusal = checkOperatorUrl(value, { ...rules, ...guard, field: path.join('.') });
    return refusal ? [{ path, refusal }] : [];
  });
}

function problemOf(value: string, rules: UrlRules): string | undefined {
  const expected = rules.expected ?? describeSchemes(rules.schemes);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${expected} is required; this value does not parse as a URL`;
  }
  const refused = (found: string) =>
    `${found} is refused, since URLs end up in logs; ${rules.secretAdvice ?? SECRET_IN_HEADER_ADVICE}`;
  if (url.password !== '') return refused('a password in the URL (user:password@)');
  if (url.username !== '' && !rules.allowUserName) return refused('a user name in the URL (user@)');
  const fragment = url.hash.includes('=') ? new URLSearchParams(url.hash.slice(1)) : undefined;
  for (const [part, params] of [
    ['query', url.searchParams],
    ['fragment', fragment],
  ] as const) {
    if (!params) continue;
    for (const [key, parameter] of params) {
      if (CREDENTIAL_QUERY_KEYS.has(key.toLowerCase()))
        return refused(`the ${part} parameter ${JSON.stringify(key)}, which carries a credential,`);
      const inName = credentialIn(key, rules.detectors);
      if (inName) return refused(`a credential (${inName}) in a ${part} parameter's name`);
      const detector = credentialIn(parameter, rules.detectors, key);
      if (detector)
        return refused(`a credential (${detector}) in the value of the ${part} ${nameOf(key)}`);
    }
  }
  const inPath = credentialIn(decoded(url.pathname), rules.detectors);
  if (inPath) return refused(`a credential (${inPath}) in the path`);
  const inFragment = fragment ? undefined : credentialIn(decoded(url.hash), rules.detectors);
  if (inFragment) return refused(`a credential (${inFragment}) in the fragment`);
  if (rules.schemes.includes(url.protocol)) return undefined;
  if (url.protocol === 'http:' && rules.allowLoopbackHttp && isLoopbackHost(url.hostname))
    return undefined;
  const httpNote =
    url.protocol === 'http:' && rules.schemes.includes('https:')
      ? ` (http:// only to a loopback host, with guard.urls.allowLoopbackHttp: true)`
      : '';
  return `${expected} is required, not ${url.protocol}//${httpNote}`;
}

/** The first credentials detector matching `text`, by id. */
function credentialIn(
  text: string,
  detectors: DetectorSet | undefined,
  field?: string,
): string | undefined {
  if (!detectors || text === '') return undefined;
  return detectors.detect(text, field).find(({ detector }) => detector.category === 'CREDENTIALS')
    ?.detector.id;
}

function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/** A parameter as a message may name it: its name when that is a plain word, else not. */
function nameOf(key: string): string {
  return /^[A-Za-z0-9_.-]{1,64}$/.test(key) ? `parameter ${JSON.stringify(key)}` : 'parameter';
}

/** 127.0.0.0/8, ::1 and localhost, as the WHATWG URL parser normalises them. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.startsWith('[') ? hostname.slice(1, -1) : hostname;
  if (host.toLowerCase() === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return isIP(host) === 6 && host === '::1';
}

function describeSchemes(schemes: readonly string[]): string {
  const names = schemes.map((scheme) => `${scheme}//`);
  const listed =
    names.length <= 1 ? (names[0] ?? '') : `${names.slice(0, -1).join(', ')} or ${names.at(-1)}`;
  return `${/^[aeiouh]/i.test(listed) ? 'an' : 'a'} ${listed} URL`;
}

/** `key=value` query pairs in a URL inside free text whose key is a credential's (see above). */
const CREDENTIAL_QUERY_PAIR = new RegExp(
  `([?&#](?:${[...CREDENTIAL_QUERY_KEYS].map((key) => key.replace(/[-_]/g, '[-_]')).join('|')})=)[^&#\\s"'<>\\\\]+`,
  'gi',
);

/**
 * Free text (a log line) with the values of credential query parameters replaced by `REDACTED`:
 * `…?X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED`.
 */
export function redactUrlCredentials(text: string): string {
  if (!text.includes('=')) return text;
  return text.replace(CREDENTIAL_QUERY_PAIR, '$1REDACTED');
}
