import type { XmlObject, XmlValue } from './action.js';

/** The Query protocol's responses in XML, shaped exactly as IAM and STS send theirs. */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\r': '&#xD;',
};

/** Character data: markup escaped, and characters XML 1.0 cannot carry dropped. */
export function escapeXml(text: string): string {
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/[&<>"'\r]/g, (character) => ESCAPES[character] as string);
}

/** IAM's timestamps: ISO 8601 in UTC, to the second (`2026-01-01T12:00:00Z`). */
export function xmlTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function renderValue(value: Exclude<XmlValue, undefined>): string {
  if (value instanceof Date) return xmlTimestamp(value);
  if (Array.isArray(value))
    return value
      .filter((item) => item !== undefined)
      .map((item) => `<member>${renderValue(item)}</member>`)
      .join('');
  if (typeof value === 'object') return renderObject(value);
  return escapeXml(String(value));
}

function renderObject(object: XmlObject): string {
  return Object.entries(object)
    .filter((entry): entry is [string, Exclude<XmlValue, undefined>] => entry[1] !== undefined)
    .map(([name, value]) => `<${name}>${renderValue(value)}</${name}>`)
    .join('');
}

/** The namespace of each service's Query API version. */
export const QUERY_NAMESPACES = {
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
  sts: 'https://sts.amazonaws.com/doc/2011-06-15/',
} as const;

/**
 * `<{action}Response xmlns=…><{action}Result>…</{action}Result><ResponseMetadata><RequestId>…`;
 * actions with no result (DeleteUser, …) have only the metadata.
 */
export function resultXml(
  service: keyof typeof QUERY_NAMESPACES,
  action: string,
  result: XmlObject | undefined,
  requestId: string,
): string {
  const body =
    result === undefined ? '' : `<${action}Result>${renderObject(result)}</${action}Result>`;
  return (
    `<${action}Response xmlns="${QUERY_NAMESPACES[service]}">${body}` +
    `<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata>` +
    `</${action}Response>`
  );
}

export interface QueryErrorBody {
  /** Sender for the caller's mistakes (4xx), Receiver for the server's (5xx). */
  type: 'Sender' | 'Receiver';
  code: string;
  message: string;
}

/** `<ErrorResponse xmlns=…><Error><Type/><Code/><Message/></Error><RequestId/></ErrorResponse>`. */
export function errorXml(
  service: keyof typeof QUERY_NAMESPACES,
  error: QueryErrorBody,
  requestId: string,
): string {
  return (
    `<ErrorResponse xmlns="${QUERY_NAMESPACES[service]}"><Error>` +
    `<Type>${error.type}</Type><Code>${escapeXml(error.code)}</Code>` +
    `<Message>${escapeXml(error.message)}</Message></Error>` +
    `<RequestId>${escapeXml(requestId)}</RequestId></ErrorResponse>`
  );
}
