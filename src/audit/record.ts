/**
 * The audit record: CloudTrail's record (event version 1.11), field for field, plus the two
 * fields of Bulwark's chain: the log stream it belongs to and its gapless sequence number there.
 */

import type { DetectorSet } from '../guard/detector-set.js';
import { redactJsonValue } from '../guard/redaction.js';

/** CloudTrail's current record version. */
export const EVENT_VERSION = '1.11';

/** The placeholder CloudTrail writes where a value is a secret. */
export const HIDDEN = 'HIDDEN_DUE_TO_SECURITY_REASONS';

export interface UserIdentity {
  /** CloudTrail's identity types; `Root` is the local operator acting through the data dir. */
  type: 'IAMUser' | 'Root' | 'AWSService' | 'Unknown';
  principalId?: string;
  arn?: string;
  accountId?: string;
  accessKeyId?: string;
  userName?: string;
  sessionContext?: {
    attributes: { creationDate: string; mfaAuthenticated: 'true' | 'false' };
  };
  invokedBy?: string;
}

export interface TlsDetails {
  tlsVersion: string;
  cipherSuite: string;
  /** The Host header, or for a connection without one (MQTT over TLS) the SNI name. */
  clientProvidedHostHeader?: string;
  /** The server name the client asked for in its TLS handshake (SNI); a Bulwark addition. */
  clientProvidedServerName?: string;
}

export interface AuditResource {
  ARN: string;
  type?: string;
  accountId?: string;
}

export type EventType = 'AwsApiCall' | 'AwsServiceEvent' | 'AwsConsoleSignIn' | 'AwsConsoleAction';

export interface AuditRecord {
  eventVersion: string;
  userIdentity: UserIdentity;
  /** UTC, to the second, as CloudTrail writes it: `2026-11-28T21:59:10Z`. */
  eventTime: string;
  eventSource: string;
  eventName: string;
  awsRegion: string;
  sourceIPAddress: string;
  userAgent: string;
  errorCode?: string;
  errorMessage?: string;
  requestParameters: Record<string, unknown> | null;
  responseElements: Record<string, unknown> | null;
  additionalEventData?: Record<string, unknown>;
  requestID?: string;
  eventID: string;
  readOnly: boolean;
  resources?: AuditResource[];
  eventType: EventType;
  managementEvent: boolean;
  recipientAccountId: string;
  eventCategory: 'Management' | 'Data';
  tlsDetails?: TlsDetails;
  /** The log stream (one per writer configuration, `audit.stream`). */
  stream: string;
  /** Gapless within the stream, from 1. */
  seq: number;
}

/** What a capability or edge supplies; the trail adds version, ids, time, region, stream and seq. */
export type AuditEvent = Omit<
  AuditRecord,
  | 'eventVersion'
  | 'eventTime'
  | 'eventID'
  | 'awsRegion'
  | 'recipientAccountId'
  | 'stream'
  | 'seq'
  | 'managementEvent'
  | 'eventCategory'
  | 'requestParameters'
  | 'responseElements'
> & {
  requestParameters?: Record<string, unknown> | null;
  responseElements?: Record<string, unknown> | null;
  /** Management unless said otherwise (data-plane calls are Data events). */
  eventCategory?: 'Management' | 'Data';
};

/** Where events go: each call resolves once its event is durable, and rejects if it is not. */
export interface AuditSink {
  record(event: AuditEvent): Promise<void>;
}

/**
 * Field names whose values are secrets wherever they appear in request parameters or response
 * elements (compared case-insensitively): key material, passwords, tokens, MFA seeds and codes.
 */
const SECRET_FIELDS = new Set(
  [
    'privateKey',
    'keyPair',
    'secretAccessKey',
    'sessionToken',
    'password',
    'newPassword',
    'oldPassword',
    'authenticationCode1',
    'authenticationCode2',
    'tokenCode',
    'mfaCode',
    'base32StringSeed',
    'qrCodePNG',
    'plaintext',
    'registrationCode',
  ].map((name) => name.toLowerCase()),
);

/** Field names whose values are device payloads, which the trail never records. */
const PAYLOAD_FIELDS = new Set(['payload', 'state', 'document'].map((name) => name.toLowerCase()));

/** A copy with every secret replaced by CloudTrail's placeholder and every payload left out. */
export function hideSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(hideSecrets);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return undefined;
  if (typeof value !== 'object' || value === null) return value;
  // Without a prototype, a field named `__proto__` is kept as data, not dropped.
  const hidden = Object.create(null) as Record<string, unknown>;
  for (const [name, field] of Object.entries(value)) {
    const key = name.toLowerCase();
    if (PAYLOAD_FIELDS.has(key)) continue;
    hidden[name] = SECRET_FIELDS.has(key) ? HIDDEN : hideSecrets(field);
  }
  return hidden;
}

/**
 * What redaction leaves alone: the record's identifiers and Bulwark's own vocabulary (ids, times,
 * names of calls, the caller's key, principal and account, the source address, TLS facts, the
 * place in the chain). An investigation needs them, and no user writes them.
 */
const STRUCTURAL_FIELDS = new Set([
  'eventVersion',
  'eventTime',
  'eventSource',
  'eventName',
  'awsRegion',
  'sourceIPAddress',
  'errorCode',
  'requestID',
  'eventID',
  'readOnly',
  'eventType',
  'managementEvent',
  'recipientAccountId',
  'eventCategory',
  'tlsDetails',
  'stream',
  'seq',
]);
const STRUCTURAL_IDENTITY_FIELDS = new Set([
  'type',
  'principalId',
  'arn',
  'accountId',
  'accessKeyId',
  'sessionContext',
]);

/**
 * A record with every other string replaced where `redaction` matches it: user agents, error
 * messages, request parameters, response elements, additional data, resource ARNs, user names
 * (`guard.redaction`; secrets known by name are already hidden by hideSecrets).
 */
export function redactRecord(record: AuditRecord, redaction: DetectorSet): AuditRecord {
  const identity: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(record.userIdentity))
    if (!STRUCTURAL_IDENTITY_FIELDS.has(field)) identity[field] = value;
  const free: Record<string, unknown> = { userIdentity: identity };
  for (const [field, value] of Object.entries(record))
    if (field !== 'userIdentity' && !STRUCTURAL_FIELDS.has(field)) free[field] = value;
  const redacted = redactJsonValue(free, redaction);
  if (redacted === free) return record;
  const { userIdentity, ...fields } = redacted;
  return {
    ...record,
    ...fields,
    userIdentity: { ...record.userIdentity, ...(userIdentity as Record<string, unknown>) },
  };
}

/** CloudTrail's eventTime: UTC to the second. */
export function eventTimeOf(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
