import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { TLSSocket } from 'node:tls';
import Fastify, { LogController, type FastifyReply, type FastifyRequest } from 'fastify';
import secureJson from 'secure-json-parse';
import { BulwarkError } from '../errors.js';
import { signInRequestOf, type ConsoleSignIn } from '../iam/console-sign-in.js';
import type { Authenticate, Authorizer } from '../iam/index.js';
import type { QueryAction } from '../iam/query/action.js';
import { QueryProtocol } from '../iam/query/protocol.js';
import { parseRawQuery, queryRecord } from '../iam/sigv4.js';
import type { Logger } from '../logs/logger.js';
import { SERVER_IDENTITY_TABLE } from '../pki/migrations.js';
import type { ServerIdentity } from '../pki/server-identity.js';
import type { Store } from '../store/index.js';
import { bulwarkPolicyName, tlsServerOptions, type TlsPolicyName } from '../tls/policies.js';
import { asAwsError, sendAwsError } from './aws-errors.js';
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

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The AWS operation a route serves, for metrics. */
    operation?: string;
  }
}

/**
 * The HTTPS API: a named TLS policy, Bulwark's own server certificate; `/health` for probes,
 * `/metrics` for Prometheus, and every capability's AWS operations. Each operation's request is
 * authenticated (SigV4; on the data plane, an unsigned request by its client certificate),
 * authorized, parsed and answered in AWS's restJson1 form, errors included.
 */
export async function createApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const app = buildServer(options);
  const { logger, metrics } = options;
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

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-amzn-RequestId', request.id);
  });
  app.addHook('onResponse', async (request, reply) => {
    const operation = request.routeOptions.config.operation ?? UNKNOWN_OPERATION;
    metrics.requests.inc({ operation, status: String(reply.statusCode) });
    metrics.duration.observe({ operation }, reply.elapsedTime / 1000);
  });
  app.setErrorHandler((error, request, reply) => {
    const { error: awsError, internal } = asAwsError(error, MAX_BODY_BYTES);
    if (internal)
      logger.error(
        { err: error, requestId: request.id, operation: request.routeOptions.config.operation },
        'API request failed',
      );
    return sendAwsError(reply, awsError);
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

  const authenticate = (request: FastifyRequest, plane: Operation['plane']) =>
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

  app.get('/metrics', { config: { operation: 'GetMetrics' } }, async (request, reply) => {
    if (!(options.metricsOpenOnLoopback && isLoopback(request.socket.remoteAddress ?? ''))) {
      await authorize(await authenticate(request, 'control'), GET_METRICS_ACTION, '*', request.ip);
    }
    return reply
      .header('content-type', metrics.registry.contentType)
      .send(await metrics.registry.metrics());
  });

  const { consoleSignIn } = options;
  if (consoleSignIn)
    app.post(
      '/console/sign-in',
      { config: { operation: 'ConsoleSignIn' } },
      async (request, reply) => {
        const body = parseJsonBody((request.body as Buffer | undefined) ?? EMPTY_BODY);
        const result = await consoleSignIn.signIn(signInRequestOf(body, request.ip));
        return reply.header('cache-control', 'no-store').send(result);
      },
    );

  for (const operation of options.operations) {
    app.route({
      method: operation.method,
      url: operation.path,
      config: { operation: operation.name },
      handler: async (request, reply) => {
        const query = queryOf(request.raw.url ?? '/');
        const { caller, authorize } =
          operation.plane === 'data' && options.deviceAuthorizer && !isSigned(request, query)
            ? await identifyDevice(request, options.deviceAuthorizer, operation.name)
            : await identifyIamUser(request, operation.plane);
        const raw = (request.body as Buffer | undefined) ?? EMPTY_BODY;
        const operationRequest: OperationRequest = {
          params: request.params as Record<string, string>,
          query,
          body: operation.body === 'raw' ? raw : parseJsonBody(raw),
          headers: request.headers,
          context: {
            caller,
            region: options.account.region,
            accountId: options.account.accountId,
            requestId: request.id,
            sourceIp: request.ip,
            userAgent: request.headers['user-agent'] ?? '',
          },
        };
        const resource = operation.resource?.(operationRequest) ?? '*';
        for (const action of [
          operation.action,
          ...(operation.additionalActions?.(operationRequest) ?? []),
        ])
          await authorize(action, resource);
        return sendResult(reply, await operation.handle(operationRequest));
      },
    });
  }

  if (options.queryActions) {
    const queryProtocol = new QueryProtocol({
      actions: options.queryActions,
      account: options.account,
      authenticate: options.authenticate,
      authorize,
      logger,
    });
    // The Query protocol answers in its own XML, errors included, so it never throws here.
    app.route({
      method: ['GET', 'POST'],
      url: '/',
      config: { operation: 'QueryApi' },
      handler: async (request, reply) => {
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
        return reply
          .code(response.status)
          .header('content-type', response.contentType)
          .send(response.body);
      },
    });
  }
  return app;
}
