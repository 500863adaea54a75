import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import type { AuditEvent, AuditSink, TlsDetails, UserIdentity } from '../audit/index.js';
import type { AuditResource } from '../audit/record.js';
import { eventTimeOf, HIDDEN } from '../audit/record.js';
import { BulwarkError } from '../errors.js';
import { sensitiveDataEventData } from '../guard/field-guard.js';
import type { SignInFacts } from '../iam/console-sign-in.js';
import type { QueryParams, XmlValue } from '../iam/query/action.js';
import type { QueryCall } from '../iam/query/protocol.js';
import { isTemporaryKey } from '../iam/sessions.js';
import type { Caller } from './operation.js';

/**
 * The audit events of the HTTPS API: one for every call, answered or refused, in CloudTrail's
 * record form. The server fills in who called (the Caller, or what an unauthenticated request
 * claimed), from where, over which TLS, what was asked and what came of it; the trail adds the
 * version, time, ids and chain, hides secrets and drops payloads.
 */

/** The trail as the API needs it: where events go, and whether a write can succeed now. */
export interface ApiAudit extends AuditSink {
  /** False after an event could not be committed, until one is: mutating calls are refused. */
  readonly writable: boolean;
}

/**
 * Each service's eventSource, `{IAM action prefix}.amazonaws.com` as CloudTrail names them.
 * AWS IoT's data plane has no CloudTrail events of its own; as AWS does for the data events of
 * other services (S3, Lambda), Bulwark records them under the service's eventSource, `iot`,
 * with eventCategory Data. `/metrics` is Bulwark's own action (`bulwark:GetMetrics`).
 */
export const EVENT_SOURCES = {
  iot: 'iot.amazonaws.com',
  iam: 'iam.amazonaws.com',
  sts: 'sts.amazonaws.com',
  cloudtrail: 'cloudtrail.amazonaws.com',
  signin: 'signin.amazonaws.com',
  bulwark: 'bulwark.amazonaws.com',
} as const;

/** Longer user agents and Host headers are cut here: the trail keeps what identifies a client. */
const MAX_HEADER_CHARS = 1024;
/** Query parameters that carry a presigned request's signature, never the call's input. */
const SIGNATURE_PARAM = /^X-Amz-/i;
/** Access key ids as AWS issues them (AKIA…, ASIA…); anything else claimed is not recorded. */
const ACCESS_KEY_ID = /^[A-Z0-9]{16,128}$/;

function clip(value: string): string {
  return value.length > MAX_HEADER_CHARS ? value.slice(0, MAX_HEADER_CHARS) : value;
}

/** A header's value (the first, if repeated), cut to a length the trail keeps. */
export function headerValue(value: string | string[] | undefined): string {
  return clip((Array.isArray(value) ? value[0] : value) ?? '');
}

/**
 * Who made an authenticated call, as CloudTrail's userIdentity. An IAM user is `IAMUser`; with
 * temporary credentials (GetSessionToken) it carries the session's creation date and whether
 * MFA was proved to obtain them, as CloudTrail's sessionContext does (long-term keys carry none).
 * A device on the data plane has no CloudTrail identity type: it is `Unknown`, named by its
 * certificate (principalId = certificate id, as AWS IoT names certificate principals; arn = the
 * certificate's ARN).
 */
export function userIdentityOf(caller: Caller, accountId: string): UserIdentity {
  if (caller.type === 'Certificate')
    return { type: 'Unknown', principalId: caller.principalId, arn: caller.arn, accountId };
  const sessionCreatedAt = caller.sessionCreatedAt ?? caller.mfaAuthenticatedAt;
  return {
    type: 'IAMUser',
    principalId: caller.principalId,
    arn: caller.arn,
    accountId,
    accessKeyId: caller.accessKeyId,
    userName: caller.userName,
    ...(isTemporaryKey(caller.accessKeyId) && sessionCreatedAt !== undefined
      ? {
          sessionContext: {
            attributes: {
              creationDate: eventTimeOf(sessionCreatedAt),
              mfaAuthenticated: caller.mfaAuthenticated ? 'true' : 'false',
            },
          },
        }
      : {}),
  };
}

/** The credential scope a SigV4 request claims (header or presigned form), unverified. */
export function claimedCredential(
  rawHeaders: string[],
  rawUrl: string,
): { accessKeyId?: string; service?: string } {
  let credential: string | undefined;
  for (let i = 0; i + 1 < rawHeaders.length; i += 2)
    if ((rawHeaders[i] as string).toLowerCase() === 'authorization')
      credential = /Credential=([^,\s]+)/.exec(rawHeaders[i + 1] as string)?.[1];
  if (credential === undefined) {
    const match = /[?&]X-Amz-Credential=([^&]*)/.exec(rawUrl);
    if (match) {
      try {
        credential = decodeURIComponent(match[1] as string);
      } catch {
        credential = undefined;
      }
    }
  }
  const [accessKeyId, , , service] = credential?.split('/') ?? [];
  return {
    ...(accessKeyId !== undefined && ACCESS_KEY_ID.test(accessKeyId) ? { accessKeyId } : {}),
    ...(service !== undefined && /^[a-z0-9-]{1,64}$/.test(service) ? { service } : {}),
  };
}

/**
 * A caller not (yet) authenticated: `Unknown`, with the access key id its signature claims, if
 * any, so that lookups by AccessKeyId find the attempts made with a key.
 */
export function unauthenticatedIdentity(rawHeaders: string[], rawUrl: string): UserIdentity {
  const { accessKeyId } = claimedCredential(rawHeaders, rawUrl);
  return { type: 'Unknown', ...(accessKeyId !== undefined ? { accessKeyId } : {}) };
}

/**
 * CloudTrail's tlsDetails: the negotiated version and cipher suite (OpenSSL's names, as
 * CloudTrail writes them: `ECDHE-ECDSA-AES128-GCM-SHA256`, `TLS_AES_128_GCM_SHA256`), the Host
 * header, and the server name the client asked for (SNI).
 */
export function tlsDetailsOf(socket: Socket, host: string | undefined): TlsDetails | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const serverName = (socket as TLSSocket & { servername?: string | false }).servername;
  return {
    tlsVersion: socket.getProtocol() ?? 'unknown',
    cipherSuite: socket.getCipher()?.name ?? 'unknown',
    ...(host !== undefined ? { clientProvidedHostHeader: clip(host) } : {}),
    ...(typeof serverName === 'string' && serverName !== ''
      ? { clientProvidedServerName: clip(serverName) }
      : {}),
  };
}

/** CloudFormation's names for the resource types Bulwark's ARNs name. */
const RESOURCE_TYPES: Record<string, Record<string, string>> = {
  iot: {
    thing: 'AWS::IoT::Thing',
    thingtype: 'AWS::IoT::ThingType',
    thinggroup: 'AWS::IoT::ThingGroup',
    cert: 'AWS::IoT::Certificate',
    cacert: 'AWS::IoT::CACertificate',
    policy: 'AWS::IoT::Policy',
    topic: 'AWS::IoT::Topic',
    topicfilter: 'AWS::IoT::TopicFilter',
    client: 'AWS::IoT::Client',
    rule: 'AWS::IoT::TopicRule',
  },
  iam: {
    user: 'AWS::IAM::User',
    group: 'AWS::IAM::Group',
    policy: 'AWS::IAM::ManagedPolicy',
    mfa: 'AWS::IAM::VirtualMFADevice',
    role: 'AWS::IAM::Role',
  },
};

/** The resource a call names, for `resources[]`; none for `*` or what is no ARN. */
export function resourcesOf(arn: string | undefined): AuditResource[] | undefined {
  if (arn === undefined || arn === '*' || !arn.startsWith('arn:')) return undefined;
  const [, , service = '', , accountId = '', resource = ''] = arn.split(':');
  const kind = /^[a-z0-9-]+/.exec(resource)?.[0] ?? '';
  const type = RESOURCE_TYPES[service]?.[kind];
  return [{ ARN: arn, ...(accountId ? { accountId } : {}), ...(type ? { type } : {}) }];
}

/**
 * restJson1 request parameters as CloudTrail records them: the path parameters, the query
 * (without a presigned request's signature parameters) and the JSON body, in one object. A raw
 * body (a payload) is never among them.
 */
export function requestParametersOf(
  params: Record<string, string> | undefined,
  query: Record<string, string | string[]>,
  body: Record<string, unknown> | undefined,
): Record<string, unknown> | null {
  // Without a prototype: a parameter named `__proto__` is a name like any other.
  const parameters: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  // A wildcard path parameter is a topic on every route that has one (Publish,
  // GetRetainedMessage), and AWS's model calls it `topic`.
  for (const [name, value] of Object.entries(params ?? {}))
    parameters[name === '*' ? 'topic' : name] = value;
  for (const [name, value] of Object.entries(query))
    if (!SIGNATURE_PARAM.test(name)) parameters[name] = value;
  Object.assign(parameters, body ?? {});
  return Object.keys(parameters).length > 0 ? parameters : null;
}

/** A mutating call's JSON result as its responseElements; a raw (payload) result is not one. */
export function responseElementsOf(body: unknown): Record<string, unknown> | null {
  if (body === undefined) return null;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || Buffer.isBuffer(body))
    return null;
  return body as Record<string, unknown>;
}

/** `UserName` → `userName`, `MFADevice` → `mfaDevice`, `ARN` → `arn`: CloudTrail's member names. */
export function lowerCamel(name: string): string {
  const capitals = /^[A-Z]+/.exec(name)?.[0] ?? '';
  if (capitals.length === 0) return name;
  if (capitals.length === name.length) return name.toLowerCase();
  if (capitals.length === 1) return name[0]?.toLowerCase() + name.slice(1);
  // An acronym before a word: all but its last capital, which starts the word.
  const acronym = capitals.length - 1;
  return name.slice(0, acronym).toLowerCase() + name.slice(acronym);
}

/** A Query result or parameters, with CloudTrail's lower-camel member names and ISO dates. */
export function lowerCamelKeys(value: XmlValue | unknown): unknown {
  if (value instanceof Date) return eventTimeOf(value.getTime());
  if (Array.isArray(value)) return value.map(lowerCamelKeys);
  if (typeof value !== 'object' || value === null || Buffer.isBuffer(value)) return value;
  const converted: Record<string, unknown> = {};
  for (const [name, member] of Object.entries(value))
    if (member !== undefined) converted[lowerCamel(name)] = lowerCamelKeys(member);
  return converted;
}

/** List indexes above this stay flat names rather than build a huge array. */
const MAX_MEMBER_INDEX = 1000;

type Path = (string | number)[];

/** `Tags.member.2.Key` → [`tags`, 1, `key`]; undefined when it names no sensible place. */
function memberPath(name: string): Path | undefined {
  const parts = name.split('.');
  const path: Path = [];
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part === '') return undefined;
    if (part === 'member' && /^\d{1,4}$/.test(parts[i + 1] ?? '')) {
      const index = Number(parts[i + 1]) - 1;
      if (index < 0 || index >= MAX_MEMBER_INDEX) return undefined;
      path.push(index);
      i += 1;
    } else path.push(lowerCamel(part));
  }
  return path;
}

/** Sets `value` at `path`, creating lists and objects; false when the path conflicts. */
function setAt(root: Record<string, unknown>, path: Path, value: string): boolean {
  let node: unknown = root;
  for (let i = 0; i < path.length; i++) {
    const key = path[i] as string | number;
    const isIndex = typeof key === 'number';
    if (isIndex !== Array.isArray(node)) return false;
    const container = node as Record<string | number, unknown>;
    if (i === path.length - 1) {
      if (container[key] !== undefined) return false;
      container[key] = value;
      return true;
    }
    if (container[key] === undefined) container[key] = typeof path[i + 1] === 'number' ? [] : {};
    node = container[key];
    if (typeof node !== 'object' || node === null) return false;
  }
  return false;
}

/**
 * A Query request's parameters as CloudTrail records IAM and STS calls: lower-camel names, and
 * `X.member.N…` lists as lists (`Tags.member.1.Key=k` → `tags: [{key: 'k'}]`); `Action` and
 * `Version` are the event's name and not among them.
 */
export function queryRequestParameters(params: QueryParams): Record<string, unknown> | null {
  const root: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  const flat: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(params)) {
    if (name === 'Action' || name === 'Version') continue;
    const path = memberPath(name);
    if (!path || !setAt(root, path, value)) flat[name] = value;
  }
  const parameters = { ...root, ...flat };
  // Lists with gaps (member.1 and member.3) keep their holes as null, as JSON has no holes.
  return Object.keys(parameters).length > 0
    ? (JSON.parse(JSON.stringify(parameters)) as Record<string, unknown>)
    : null;
}

/** Thrown before a mutating call while the trail cannot write: it is refused, not performed. */
export function auditUnavailable(): BulwarkError {
  return new BulwarkError(
    'ServiceUnavailable',
    'The audit trail cannot record changes at the moment, so this request was refused without being performed. Try again later.',
  );
}

/** What every event of one HTTP request shares: where it came from and over what. */
export interface RequestOrigin {
  sourceIPAddress: string;
  userAgent: string;
  requestID: string;
  tlsDetails?: TlsDetails;
}

/** CloudTrail's errorMessage for a refused sign-in. */
const SIGN_IN_FAILURES = {
  failed: 'Failed authentication',
  'no-such-user': 'No username found in supplied account',
} as const;

/**
 * Console sign-in as CloudTrail records it (signin.amazonaws.com, AwsConsoleSignIn): ConsoleLogin
 * with `responseElements.ConsoleLogin` Success or Failure and `additionalEventData.MFAUsed`;
 * errorMessage `Failed authentication`, or `No username found in supplied account` with the
 * name hidden (it may be a password typed in the wrong field). A request asking for the second
 * factor is CloudTrail's CheckMfa. Neither the password nor the code is recorded.
 */
export function signInEvent(
  facts: SignInFacts | undefined,
  origin: RequestOrigin,
  accountId: string,
  error?: { code: string; message: string },
): AuditEvent {
  const user = facts?.user;
  const userIdentity: UserIdentity = user
    ? {
        type: 'IAMUser',
        principalId: user.userId,
        arn: `arn:aws:iam::${accountId}:user/${user.userName}`,
        accountId,
        userName: user.userName,
      }
    : facts
      ? { type: 'IAMUser', accountId, userName: HIDDEN }
      : { type: 'Unknown', accountId };
  const base = {
    eventSource: EVENT_SOURCES.signin,
    eventType: 'AwsConsoleSignIn' as const,
    readOnly: false,
    userIdentity,
    ...origin,
    requestParameters: null,
  };
  if (facts?.outcome === 'mfa-required')
    return { ...base, eventName: 'CheckMfa', responseElements: { CheckMfa: 'Success' } };
  const succeeded = facts?.outcome === 'success';
  let errorCode: string | undefined;
  let errorMessage: string | undefined;
  if (facts?.outcome === 'failed' || facts?.outcome === 'no-such-user')
    errorMessage = SIGN_IN_FAILURES[facts.outcome];
  else if (!succeeded) {
    // Refused before the credentials were judged (throttled, a malformed request, a failure of
    // the server's): the error the client was sent.
    errorCode = error?.code;
    errorMessage = error?.message ?? SIGN_IN_FAILURES.failed;
  }
  return {
    ...base,
    eventName: 'ConsoleLogin',
    responseElements: { ConsoleLogin: succeeded ? 'Success' : 'Failure' },
    additionalEventData: { MFAUsed: facts?.mfaUsed ? 'Yes' : 'No' },
    ...(errorCode !== undefined ? { errorCode } : {}),
    ...(errorMessage !== undefined ? { errorMessage } : {}),
  };
}

/**
 * An IAM or STS call over the Query protocol as CloudTrail records it: eventSource by service,
 * the action's name, its parameters in CloudTrail's form, the result of a mutating call, and the
 * error code and message the client was sent. `claimed` is who the request said it was, for a
 * request that was not authenticated (whose parameters are not recorded).
 */
export function queryEventOf(
  call: QueryCall,
  origin: RequestOrigin,
  accountId: string,
  claimed: UserIdentity,
): AuditEvent {
  const resources = resourcesOf(call.resource);
  const sensitiveData = sensitiveDataEventData(
    call.sensitiveDataWarnings,
    call.sensitiveDataRefused,
  );
  return {
    eventSource: EVENT_SOURCES[call.service],
    eventName: call.actionName ?? 'UnknownOperation',
    eventType: 'AwsApiCall',
    readOnly: call.readOnly,
    userIdentity: call.caller ? userIdentityOf(call.caller, accountId) : claimed,
    ...origin,
    // What an unauthenticated request sent is not kept: only who it claimed to be.
    requestParameters: call.caller && call.params ? queryRequestParameters(call.params) : null,
    responseElements:
      !call.readOnly && call.error === undefined && call.result !== undefined
        ? (lowerCamelKeys(call.result) as Record<string, unknown>)
        : null,
    ...(resources ? { resources } : {}),
    ...(sensitiveData ? { additionalEventData: sensitiveData } : {}),
    ...(call.error ? { errorCode: call.error.code, errorMessage: call.error.message } : {}),
  };
}
