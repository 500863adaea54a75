import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { TLSSocket } from 'node:tls';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import type { AuditEvent } from '../audit/index.js';
import { BulwarkError, isBulwarkError } from '../errors.js';
import {
  SENSITIVE_DATA_WARNING_HEADER,
  sensitiveDataEventData,
  sensitiveDataWarningHeader,
  SensitiveFieldError,
  type FieldGuard,
} from '../guard/field-guard.js';
import {
  signInRequestOf,
  type ConsoleSignIn,
  type SignInFacts,
  type SignInResult,
} from '../iam/console-sign-in.js';
import type { Authenticate, Authorizer, Plane } from '../iam/index.js';
import type { QueryAction } from '../iam/query/action.js';
import { QueryProtocol, queryErrorOf } from '../iam/query/protocol.js';
import { errorXml } from '../iam/query/xml.js';
import { parseRawQuery, queryRecord } from '../iam/sigv4.js';
import type { Logger } from '../logs/logger.js';
import { SERVER_IDENTITY_TABLE } from '../pki/migrations.js';
import type { ServerIdentity } from '../pki/server-identity.js';
import type { Store } from '../store/index.js';
import { bulwarkPolicyName, tlsServerOptions, type TlsPolicyName } from '../tls/policies.js';
import {
  auditUnavailable,
  claimedCredential,
  EVENT_SOURCES,
  headerValue,
  lowerCamelKeys,
  queryEventOf,
  requestParametersOf,
  resourcesOf,
  responseElementsOf,
  signInEvent,
  tlsDetailsOf,
  unauthenticatedIdentity,
  userIdentityOf,
  type ApiAudit,
  type RequestOrigin,
} from './audit-events.js';
import { asAwsError, sendAwsError } from './aws-errors.js';
import {
  cloudTrailOperationOf,
  JSON_1_1,
  JsonApiError,
  LOOKUP_EVENTS_ACTION,
  lookupEventsInputOf,
  lookupEventsPage,
} from './cloudtrail.js';
import type { DeviceAuthorizer } from './device-authorizer.js';
import type { ApiMetrics } from './metrics.js';
import type {
  Caller,
  IamUserCaller,
  Operation,
  OperationRequest,
  OperationResult,
} from './operation.js';

/** The largest request body accepted (AWS IoT's control-plane documents are far smaller). */
export const MAX_BODY_BYTES = 1024 * 1024;
/** Path parameters are AWS names (≤ 128 characters), percent-encoded at most threefold. */
const MAX_PARAM_LENGTH = 2048;
const EMPTY_BODY = Buffer.alloc(0);
const UNKNOWN_OPERATION = 'UnknownOperation';
/** `x-amzn-iot-thingname` names a thing: AWS's ThingName pattern. */
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/;
/** The IAM action `/metrics` checks (a Bulwark action: AWS IoT has no metrics endpoint). */
export const GET_METRICS_ACTION = 'bulwark:GetMetrics';

export type ApiServer = Awaited<ReturnType<typeof buildServer>>;

export interface ApiServerOptions {
  identity: ServerIdentity;
  store: Store;
  logger: Logger;
  /** The listener's TLS security policy (`tls.apiPolicy`, else `tls.policy`). */
  tlsPolicy: TlsPolicyName;
  /**
   * CA certificates a client certificate is checked against. Every client is asked for one but
   * none is refused at the handshake: the routes that need a device (MQTT over WSS) check it.
   * Without them no client is asked, and no device is accepted.
   */
  deviceCaPems?: string[];
  /** ALPN protocols offered besides HTTP/1.1 (e.g. x-amzn-mqtt-ca when MQTT shares the port). */
  extraAlpnProtocols?: string[];
  /** The AWS operations the capabilities serve, each mounted at its method and path. */
  operations: Operation[];
  /**
   * IAM and STS actions served over AWS's Query protocol at `/` (POST form or GET query, signed
   * as `iam` or `sts`); none served without them.
   */
  queryActions?: QueryAction[];
  account: { region: string; accountId: string };
  authenticate: Authenticate;
  authorizer: Authorizer;
  /**
   * Devices on the data plane: a data-plane request with no SigV4 signature is authenticated by
   * its TLS client certificate and authorized by IoT policies through this. Without it, every
   * request must be signed.
   */
  deviceAuthorizer?: DeviceAuthorizer;
  metrics: ApiMetrics;
  /** Serve `/metrics` unsigned to loopback clients (`api.metricsOpenOnLoopback`). */
  metricsOpenOnLoopback: boolean;
  /**
   * Console sign-in at `POST /console/sign-in`: `{userName, password, mfaCode?}`, unsigned (the
   * password is the credential); none served without it.
   */
  consoleSignIn?: ConsoleSignIn;
  /**
   * The audit trail: every call's event is written before the call is answered (a call whose
   * event cannot be written is answered with an InternalFailure instead of its result), and a
   * call that would change something is refused unperformed while the trail cannot write.
   * CloudTrail's LookupEvents at `/` reads it from `store`.
   */
  audit: ApiAudit;
  /**
   * The free-form field guard: each authorized call's names, tags, descriptions and attributes
   * are checked before it is performed; unchecked without it.
   */
  fieldGuard?: FieldGuard;
}

/** The API listener's TLS context: its policy, its certificate, and the device CAs for WSS. */
export function apiSecureContextOptions(
  pair: { certificatePem: string; privateKeyPem: string },
  tlsPolicy: TlsPolicyName,
  deviceCaPems: string[] | undefined,
) {
  return {
    cert: pair.certificatePem,
    key: pair.privateKeyPem,
    ...tlsServerOptions(tlsPolicy),
    ...(deviceCaPems ? { ca: deviceCaPems } : {}),
  };
}

function buildServer(options: ApiServerOptions) {
  return Fastify({
    loggerInstance: options.logger.child({ component: 'api' }),
    // Request logs arrive with the audit trail, which redacts what must not be logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: MAX_BODY_BYTES,
    // Every response carries a request id of ours (x-amzn-RequestId); a client's is not trusted.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    https: {
      ...apiSecureContextOptions(options.identity, options.tlsPolicy, options.deviceCaPems),
      ...(options.deviceCaPems ? { requestCert: true, rejectUnauthorized: false } : {}),
      ...(options.extraAlpnProtocols
        ? { ALPNProtocols: [...options.extraAlpnProtocols, 'http/1.1'] }
        : {}),
    },
  });
}

/** Whether a request carries SigV4 authentication, in either form (header or presigned query). */
function isSigned(request: FastifyRequest, query: Record<string, string | string[]>): boolean {
  return (
    request.headers.authorization !== undefined ||
    query['X-Amz-Signature'] !== undefined ||
    query['X-Amz-Algorithm'] !== undefined
  );
}

/** The query of a raw request target, percent-decoded exactly as SigV4 reads it. */
function queryOf(rawUrl: string): Record<string, string | string[]> {
  const start = rawUrl.indexOf('?');
  return queryRecord(start < 0 ? [] : parseRawQuery(rawUrl.slice(start + 1)));
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A restJson1 body: empty means `{}`; anything but a JSON object is the client's mistake. */
export function parseJsonBody(raw: Buffer): Record<string, unknown> {
  if (raw.length === 0) return {};
  let text: string;
  try {
    text = UTF8.decode(raw);
  } catch {
    throw new BulwarkError('InvalidRequest', 'The request body is not valid UTF-8.');
  }
  let parsed: unknown;
  try {
    parsed = secureJson.parse(text, null, { protoAction: 'error', constructorAction: 'error' });
  } catch (error) {
    throw new BulwarkError(
      'InvalidRequest',
      `The request body is not valid JSON: ${(error as Error).message}`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new BulwarkError('InvalidRequest', 'The request body must be a JSON object.');
  return parsed as Record<string, unknown>;
}

function isLoopback(address: string): boolean {
  if (isIP(address) === 4) return address.startsWith('127.');
  return address === '::1' || address.startsWith('::ffff:127.');
}

function sendResult(reply: FastifyReply, result: OperationResult): FastifyReply {
  reply.code(result.status ?? 200);
  for (const [name, value] of Object.entries(result.headers ?? {})) reply.header(name, value);
  if (Buffer.isBuffer(result.body)) {
    if (!reply.hasHeader('content-type')) reply.header('content-type', 'application/octet-stream');
    return reply.send(result.body);
  }
  return reply.header('content-type', 'application/json').send(JSON.stringify(result.body ?? {}));
}

/** Who is calling, and the check of each action they ask for (throws when it is not allowed). */
interface Identified {
  caller: Caller;
  authorize(action: string, resource: string): Promise<void>;
}

/** What a route's calls are recorded as, when a call fails before its handler runs. */
interface AuditedAs {
  eventSource: string;
  eventName: string;
  readOnly: boolean;
  eventCategory?: 'Management' | 'Data';
  eventType?: AuditEvent['eventType'];
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The AWS operation a route serves, for metrics. */
    operation?: string;
    /**
     * How the route's calls are audited when they fail before the handler (a body too large, …);
     * `root` is `/`, where the signing name and the target say which service was called.
     */
    audit?: AuditedAs | 'root';
  }
}

/** A call to `/` as far as it can be told without its body: the service signed for, the target. */
function rootCallOf(request: FastifyRequest): AuditedAs {
  const target = request.headers['x-amz-target'];
  if (typeof target === 'string')
    return {
      eventSource: EVENT_SOURCES.cloudtrail,
      eventName: /\.([A-Za-z0-9]{1,128})$/.exec(target)?.[1] ?? UNKNOWN_OPERATION,
      readOnly: true,
    };
  const { service } = claimedCredential(request.raw.rawHeaders, request.raw.url ?? '/');
  let action: string | string[] | undefined;
  try {
    action = queryOf(request.raw.url ?? '/').Action;
  } catch {
    action = undefined;
  }
  return {
    eventSource: service === 'sts' ? EVENT_SOURCES.sts : EVENT_SOURCES.iam,
    eventName:
      typeof action === 'string' && /^[A-Za-z0-9]{1,128}$/.test(action)
        ? action
        : UNKNOWN_OPERATION,
    readOnly: true,
  };
}

/** An error as AWS's JSON 1.1 protocol sends it: `__type` and `message`, with its status. */
function jsonErrorOf(error: unknown): {
  status: number;
  type: string;
  message: string;
  internal: boolean;
} {
  if (error instanceof JsonApiError)
    return { status: error.status, type: error.type, message: error.message, internal: false };
  const { error: awsError, internal } = asAwsError(error, MAX_BODY_BYTES);
  return {
    status: awsError.httpStatus,
    type: awsError.awsType,
    message: awsError.message,
    internal,
  };
}

function sendJsonError(
  reply: FastifyReply,
  error: { status: number; type: string; message: string },
): FastifyReply {
  return reply
    .code(error.status)
    .header('x-amzn-ErrorType', error.type)
    .header('content-type', JSON_1_1)
    .send(Buffer.from(JSON.stringify({ __type: error.type, message: error.message })));
}

/**
 * The HTTPS API: a named TLS policy, Bulwark's own server certificate; `/health` for probes,
 * `/metrics` for Prometheus, and every capability's AWS operations. Each operation's request is
 * authenticated (SigV4; on the data plane, an unsigned request by its client certificate),
 * authorized, parsed and answered in AWS's restJson1 form, errors included. `/` serves IAM's and
 * STS's Query API and CloudTrail's LookupEvents (JSON 1.1). Every call, answered or refused, is
 * written to the audit trail before it is answered.
 */
export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const app = buildServer(options);
  const { logger, metrics, audit } = options;
  const { accountId } = options.account;
  options.logger.info(
    {
      listener: 'api',
      tlsPolicy: options.tlsPolicy,
      servedBy: bulwarkPolicyName(options.tlsPolicy),
    },
    'TLS security policy',
  );

  // Bodies stay bytes until the signature over them is verified; then they are parsed.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  /** Where a request came from and over what: every event of it carries this. */
  const originOf = (request: FastifyRequest): RequestOrigin => {
    const tlsDetails = tlsDetailsOf(request.raw.socket, request.headers.host);
    return {
      sourceIPAddress: request.ip,
      userAgent: headerValue(request.headers['user-agent']),
      requestID: request.id,
      ...(tlsDetails ? { tlsDetails } : {}),
    };
  };
  /** The event every call starts from: nobody known yet but what the signature claims. */
  const callEvent = (request: FastifyRequest, as: AuditedAs): AuditEvent => ({
    eventSource: as.eventSource,
    eventName: as.eventName,
    eventType: as.eventType ?? 'AwsApiCall',
    readOnly: as.readOnly,
    ...(as.eventCategory ? { eventCategory: as.eventCategory } : {}),
    userIdentity: unauthenticatedIdentity(request.raw.rawHeaders, request.raw.url ?? '/'),
    ...originOf(request),
    requestParameters: null,
  });
  /**
   * Writes `event`; undefined once it is durable, else the error the client gets instead of the
   * call's answer (the trail has logged why).
   */
  const record = async (event: AuditEvent): Promise<BulwarkError | undefined> => {
    try {
      await audit.record(event);
      return undefined;
    } catch (error) {
      if (isBulwarkError(error)) return error;
      logger.error({ err: error, requestId: event.requestID }, 'audit event not recorded');
      return new BulwarkError(
        'InternalFailure',
        'The audit trail could not record this request. Try again later.',
      );
    }
  };
  /** Before a call that changes something: refused, unperformed, while the trail cannot write. */
  const requireWritableTrail = (): void => {
    if (!audit.writable) throw auditUnavailable();
  };
  /**
   * A refused or failed call: recorded with the error it is answered with, then answered. If its
   * event cannot be written either, the answer is the trail's failure, except for a call refused
   * unperformed because the trail cannot write (ServiceUnavailable), which still says so.
   */
  const answerError = async (
    reply: FastifyReply,
    event: AuditEvent,
    error: unknown,
  ): Promise<FastifyReply> => {
    const { error: awsError, internal } = asAwsError(error, MAX_BODY_BYTES);
    const unavailable = isBulwarkError(error, 'ServiceUnavailable');
    if (internal && !unavailable)
      logger.error(
        { err: error, requestId: event.requestID, operation: event.eventName },
        'API request failed',
      );
    const failed = await record({
      ...event,
      responseElements: null,
      errorCode: awsError.awsType,
      errorMessage: awsError.message,
    });
    return sendAwsError(reply, failed && !unavailable ? failed : awsError);
  };

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-amzn-RequestId', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const operation = request.routeOptions.config.operation ?? UNKNOWN_OPERATION;
    metrics.requests.inc({ operation, status: String(reply.statusCode) });
    metrics.duration.observe({ operation }, reply.elapsedTime / 1000);
  });
  // What fails before a handler runs (a body too large, a bad Content-Length) is audited here.
  app.setErrorHandler(async (error, request, reply) => {
    const audited = request.routeOptions.config.audit;
    if (audited === undefined) {
      const { error: awsError, internal } = asAwsError(error, MAX_BODY_BYTES);
      if (internal)
        logger.error(
          { err: error, requestId: request.id, operation: request.routeOptions.config.operation },
          'API request failed',
        );
      return sendAwsError(reply, awsError);
    }
    return answerError(
      reply,
      callEvent(request, audited === 'root' ? rootCallOf(request) : audited),
      error,
    );
  });
  app.setNotFoundHandler((request, reply) =>
    sendAwsError(
      reply,
      new BulwarkError(
        'UnknownOperation',
        `No operation is served at ${request.method} ${request.raw.url?.split('?')[0]}.`,
      ),
    ),
  );

  const authenticate = (request: FastifyRequest, plane: Plane) =>
    options.authenticate(
      {
        method: request.method,
        rawUrl: request.raw.url ?? '/',
        rawHeaders: request.raw.rawHeaders,
        body: (request.body as Buffer | undefined) ?? EMPTY_BODY,
      },
      plane,
    );
  const authorize = async (
    caller: IamUserCaller,
    action: string,
    resource: string,
    sourceIp?: string,
  ) => {
    const decision = await options.authorizer.authorize(
      caller,
      action,
      resource,
      sourceIp !== undefined ? { sourceIp } : {},
    );
    if (!decision.allowed)
      throw new BulwarkError(
        'AccessDenied',
        `User: ${caller.arn} is not authorized to perform: ${action} on resource: ${resource}${decision.reason ? ` ${decision.reason}` : ''}`,
      );
  };
  const identifyIamUser = async (
    request: FastifyRequest,
    plane: Operation['plane'],
  ): Promise<Identified> => {
    const caller = await authenticate(request, plane);
    return {
      caller,
      authorize: (action, resource) => authorize(caller, action, resource, request.ip),
    };
  };
  // A device on the data plane: its client certificate, checked as the MQTT listener checks it,
  // then its IoT policies. Refusals are iot-data's ForbiddenException (403), as AWS answers a
  // device whose policy does not allow the call.
  const identifyDevice = async (
    request: FastifyRequest,
    deviceAuthorizer: DeviceAuthorizer,
    operation: string,
  ): Promise<Identified> => {
    const thingName = request.headers['x-amzn-iot-thingname'];
    if (thingName !== undefined && (typeof thingName !== 'string' || !THING_NAME.test(thingName)))
      throw new BulwarkError(
        'InvalidRequest',
        'The x-amzn-iot-thingname header must be one thing name (1 to 128 of a-z, A-Z, 0-9, :, _ and -).',
      );
    const socket = request.raw.socket;
    const device =
      socket instanceof TLSSocket
        ? await deviceAuthorizer.authenticateDevice({
            socket,
            sourceIp: request.ip,
            ...(thingName !== undefined ? { thingName } : {}),
          })
        : undefined;
    if (!device) {
      logger.info(
        { requestId: request.id, operation, remoteAddress: request.ip },
        'data-plane request refused: neither a SigV4 signature nor an accepted client certificate',
      );
      throw new BulwarkError(
        'Forbidden',
        'Forbidden: the request carries neither a SigV4 signature nor an accepted client certificate.',
      );
    }
    const { caller } = device;
    return {
      caller,
      async authorize(action, resource) {
        if (device.allows(action, resource)) return;
        logger.info(
          { requestId: request.id, operation, certificateId: caller.certificateId, action },
          'data-plane request refused by IoT policy',
        );
        throw new BulwarkError(
          'Forbidden',
          `Forbidden: certificate ${caller.certificateId} is not authorized to perform: ${action} on resource: ${resource}`,
        );
      },
    };
  };

  // Healthy means the store answers a query, not merely that the process is up.
  app.get('/health', async (_request, reply) => {
    try {
      await options.store.count(SERVER_IDENTITY_TABLE);
      return reply.send({ status: 'ok', store: options.store.engine });
    } catch (error) {
      options.logger.error({ err: error }, 'health check: store unavailable');
      return reply.code(503).send({ status: 'unavailable', store: options.store.engine });
    }
  });

  const metricsAs: AuditedAs = {
    eventSource: EVENT_SOURCES.bulwark,
    eventName: 'GetMetrics',
    readOnly: true,
  };
  app.get(
    '/metrics',
    { config: { operation: 'GetMetrics', audit: metricsAs } },
    async (request, reply) => {
      const event = callEvent(request, metricsAs);
      let text: string;
      try {
        if (!(options.metricsOpenOnLoopback && isLoopback(request.socket.remoteAddress ?? ''))) {
          const caller = await authenticate(request, 'control');
          event.userIdentity = userIdentityOf(caller, accountId);
          await authorize(caller, GET_METRICS_ACTION, '*', request.ip);
        }
        text = await metrics.registry.metrics();
      } catch (error) {
        return answerError(reply, event, error);
      }
      const failed = await record(event);
      if (failed) return sendAwsError(reply, failed);
      return reply.header('content-type', metrics.registry.contentType).send(text);
    },
  );

  const { consoleSignIn } = options;
  if (consoleSignIn)
    app.post(
      '/console/sign-in',
      {
        config: {
          operation: 'ConsoleSignIn',
          audit: {
            eventSource: EVENT_SOURCES.signin,
            eventName: 'ConsoleLogin',
            eventType: 'AwsConsoleSignIn',
            readOnly: false,
          },
        },
      },
      async (request, reply) => {
        const origin = originOf(request);
        let facts: SignInFacts | undefined;
        let result: SignInResult;
        try {
          const body = parseJsonBody((request.body as Buffer | undefined) ?? EMPTY_BODY);
          const attempt = await consoleSignIn.attempt(signInRequestOf(body, request.ip));
          facts = attempt.facts;
          if (!attempt.ok) throw attempt.error;
          result = attempt.result;
        } catch (error) {
          const { error: awsError, internal } = asAwsError(error, MAX_BODY_BYTES);
          if (internal)
            logger.error({ err: error, requestId: request.id }, 'console sign-in failed');
          const failed = await record(
            signInEvent(facts, origin, accountId, {
              code: awsError.awsType,
              message: awsError.message,
            }),
          );
          return sendAwsError(reply, failed ?? awsError);
        }
        const failed = await record(signInEvent(facts, origin, accountId));
        if (failed) return sendAwsError(reply, failed);
        return reply.header('cache-control', 'no-store').send(result);
      },
    );

  for (const operation of options.operations) {
    const audited: AuditedAs = {
      // Bulwark's own operations (the guard's scans) under its own source, as GetMetrics is.
      eventSource: operation.action.startsWith('bulwark:')
        ? EVENT_SOURCES.bulwark
        : EVENT_SOURCES.iot,
      eventName: operation.name,
      readOnly: operation.readOnly,
      eventCategory: operation.plane === 'data' ? 'Data' : 'Management',
    };
    app.route({
      method: operation.method,
      url: operation.path,
      config: { operation: operation.name, audit: audited },
      handler: async (request, reply) => {
        const event = callEvent(request, audited);
        let result: OperationResult;
        try {
          const query = queryOf(request.raw.url ?? '/');
          const params = request.params as Record<string, string>;
          event.requestParameters = requestParametersOf(params, query, undefined);
          const { caller, authorize } =
            operation.plane === 'data' && options.deviceAuthorizer && !isSigned(request, query)
              ? await identifyDevice(request, options.deviceAuthorizer, operation.name)
              : await identifyIamUser(request, operation.plane);
          event.userIdentity = userIdentityOf(caller, accountId);
          const raw = (request.body as Buffer | undefined) ?? EMPTY_BODY;
          const body = operation.body === 'raw' ? raw : parseJsonBody(raw);
          // A raw body is a payload: never recorded.
          if (operation.body !== 'raw')
            event.requestParameters = requestParametersOf(
              params,
              query,
              body as Record<string, unknown>,
            );
          const operationRequest: OperationRequest = {
            params,
            query,
            body,
            headers: request.headers,
            context: {
              caller,
              region: options.account.region,
              accountId,
              requestId: request.id,
              sourceIp: request.ip,
              userAgent: request.headers['user-agent'] ?? '',
            },
          };
          const resource = operation.resource?.(operationRequest) ?? '*';
          const resources = resourcesOf(resource);
          if (resources) event.resources = resources;
          for (const action of [
            operation.action,
            ...(operation.additionalActions?.(operationRequest) ?? []),
          ])
            await authorize(action, resource);
          // Before the operation's own validation: a name refused for what it holds is told so.
          if (operation.freeFormFields && options.fieldGuard) {
            const warnings = options.fieldGuard.check(operation.freeFormFields(operationRequest));
            if (warnings.length > 0) {
              event.additionalEventData = sensitiveDataEventData(warnings, undefined);
              reply.header(SENSITIVE_DATA_WARNING_HEADER, sensitiveDataWarningHeader(warnings));
            }
          }
          if (!operation.readOnly) requireWritableTrail();
          result = await operation.handle(operationRequest);
        } catch (error) {
          if (error instanceof SensitiveFieldError)
            event.additionalEventData = sensitiveDataEventData(undefined, error.refused);
          return answerError(reply, event, error);
        }
        const failed = await record({
          ...event,
          // Mutating calls only, as CloudTrail: what a read returns is not recorded.
          responseElements: operation.readOnly ? null : responseElementsOf(result.body),
        });
        if (failed) return sendAwsError(reply, failed);
        return sendResult(reply, result);
      },
    });
  }

  // CloudTrail's JSON 1.1 API (X-Amz-Target), signed as `cloudtrail`.
  const serveCloudTrail = async (
    request: FastifyRequest,
    reply: FastifyReply,
    target: string,
  ): Promise<FastifyReply> => {
    const event = callEvent(request, rootCallOf(request));
    let response: Awaited<ReturnType<typeof lookupEventsPage>>;
    try {
      if (request.method !== 'POST')
        throw new JsonApiError('UnknownOperationException', 'The JSON API takes POST requests.');
      cloudTrailOperationOf(target);
      const caller = await authenticate(request, 'cloudtrail');
      event.userIdentity = userIdentityOf(caller, accountId);
      let body: Record<string, unknown>;
      try {
        body = parseJsonBody((request.body as Buffer | undefined) ?? EMPTY_BODY);
      } catch (error) {
        throw new JsonApiError('SerializationException', (error as Error).message);
      }
      event.requestParameters = lowerCamelKeys(body) as Record<string, unknown>;
      const input = lookupEventsInputOf(body);
      await authorize(caller, LOOKUP_EVENTS_ACTION, '*', request.ip);
      response = await lookupEventsPage(options.store, input);
    } catch (error) {
      const answer = jsonErrorOf(error);
      if (answer.internal)
        logger.error({ err: error, requestId: request.id }, 'CloudTrail API request failed');
      const failed = await record({
        ...event,
        errorCode: answer.type,
        errorMessage: answer.message,
      });
      return sendJsonError(reply, failed ? jsonErrorOf(failed) : answer);
    }
    const failed = await record(event);
    if (failed) return sendJsonError(reply, jsonErrorOf(failed));
    // A Buffer, so that the content type goes out as AWS sends it (no charset).
    return reply
      .code(200)
      .header('content-type', JSON_1_1)
      .send(Buffer.from(JSON.stringify(response)));
  };

  const queryProtocol =
    options.queryActions &&
    new QueryProtocol({
      actions: options.queryActions,
      account: options.account,
      authenticate: options.authenticate,
      authorize,
      beforeMutation: requireWritableTrail,
      ...(options.fieldGuard ? { fieldGuard: options.fieldGuard } : {}),
      logger,
    });
  // `/` serves the Query protocol (IAM, STS), which answers in its own XML, errors included, and
  // CloudTrail's JSON protocol, told apart by X-Amz-Target.
  app.route({
    method: ['GET', 'POST'],
    url: '/',
    config: { operation: 'QueryApi', audit: 'root' },
    handler: async (request, reply) => {
      const target = request.headers['x-amz-target'];
      if (target !== undefined)
        return serveCloudTrail(request, reply, Array.isArray(target) ? '' : target);
      if (!queryProtocol)
        return sendAwsError(
          reply,
          new BulwarkError('UnknownOperation', 'No Query API is served here.'),
        );
      const response = await queryProtocol.serve({
        method: request.method,
        rawUrl: request.raw.url ?? '/',
        rawHeaders: request.raw.rawHeaders,
        contentType: request.headers['content-type'],
        body: (request.body as Buffer | undefined) ?? EMPTY_BODY,
        requestId: request.id,
        sourceIp: request.ip,
        userAgent: request.headers['user-agent'] ?? '',
      });
      const { call } = response;
      // A call refused unperformed because the trail cannot write keeps its answer.
      const refusedUnperformed = call.error?.code === 'ServiceUnavailable';
      const failed = await record(
        queryEventOf(
          call,
          originOf(request),
          accountId,
          unauthenticatedIdentity(request.raw.rawHeaders, request.raw.url ?? '/'),
        ),
      );
      if (failed && !refusedUnperformed) {
        const { status, body } = queryErrorOf(failed, call.service);
        return reply
          .code(status)
          .header('content-type', 'text/xml')
          .send(errorXml(call.service, body, request.id));
      }
      if (call.sensitiveDataWarnings)
        reply.header(
          SENSITIVE_DATA_WARNING_HEADER,
          sensitiveDataWarningHeader(call.sensitiveDataWarnings),
        );
      return reply
        .code(response.status)
        .header('content-type', response.contentType)
        .send(response.body);
    },
  });
  return app;
}
