import { BulwarkError, isBulwarkError, type ErrorCode } from '../../errors.js';
import type { IamUserCaller } from '../../api/operation.js';
import {
  SensitiveFieldError,
  type FieldGuard,
  type FieldWarning,
  type FreeFormField,
} from '../../guard/field-guard.js';
import type { Logger } from '../../logs/logger.js';
import type { Authenticate } from '../authenticate.js';
import { isTemporaryKey } from '../sessions.js';
import { parseRawQuery } from '../sigv4.js';
import type { QueryAction, QueryContext, QueryParams, XmlObject } from './action.js';
import { errorXml, resultXml, type QueryErrorBody } from './xml.js';

/**
 * AWS's Query protocol for IAM (2010-05-08) and STS (2011-06-15): `Action=…&Version=…&…` as a
 * form-encoded POST body or a GET query, SigV4-signed with the signing name `iam` or `sts`, which
 * also picks the service. Each request is authenticated, dispatched to its QueryAction,
 * authorized as `{service}:{Action}` on the action's resource, and answered in XML, errors too.
 */

export type QueryService = QueryAction['service'];

/** The API version each service speaks. */
export const QUERY_VERSIONS: Record<QueryService, string> = {
  iam: '2010-05-08',
  sts: '2011-06-15',
};

/** A Query request as it arrived: what SigV4 needs, and who sent it. */
export interface QueryHttpRequest {
  method: string;
  /** Path and query exactly as received, still percent-encoded. */
  rawUrl: string;
  rawHeaders: string[];
  contentType: string | undefined;
  body: Buffer;
  requestId: string;
  sourceIp: string;
  userAgent: string;
}

/**
 * What a request was, for the audit trail: the service and action, who asked, with which
 * parameters, on what, and what came of it.
 */
export interface QueryCall {
  service: QueryService;
  /** The Action asked for, when it is a well-formed name (served or not). */
  actionName?: string;
  /** False for actions that change something; a request that named no served action counts as read-only. */
  readOnly: boolean;
  caller?: IamUserCaller;
  params?: QueryParams;
  /** The resource the action was authorized on. */
  resource?: string;
  /** An answered action's result (undefined for actions without one). */
  result?: XmlObject;
  /** The error the client was sent. */
  error?: QueryErrorBody;
  /** What the field guard accepted with a warning (warn mode). */
  sensitiveDataWarnings?: FieldWarning[];
  /** What the field guard refused the call for. */
  sensitiveDataRefused?: { field: string; detector: string };
}

export interface QueryHttpResponse {
  status: number;
  contentType: 'text/xml';
  body: string;
  call: QueryCall;
}

export interface QueryProtocolOptions {
  actions: readonly QueryAction[];
  account: { region: string; accountId: string };
  authenticate: Authenticate;
  /** Throws AccessDenied, in AWS's words, unless `caller` may perform `action` on `resource`. */
  authorize(
    caller: IamUserCaller,
    action: string,
    resource: string,
    sourceIp?: string,
  ): Promise<void>;
  /**
   * Called before an action that changes something is performed; throws to refuse it (while the
   * audit trail cannot record it, say).
   */
  beforeMutation?(): void;
  /** Checks each authorized action's free-form fields before it is performed. */
  fieldGuard?: FieldGuard;
  logger: Logger;
}

/** Query parameters that carry a presigned request's signature, not the action's input. */
const SIGNATURE_PARAMS = new Set([
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
  'X-Amz-Security-Token',
]);
const FORM_CONTENT_TYPE = 'application/x-www-form-urlencoded';
const ACTION_NAME = /^[A-Za-z0-9]{1,128}$/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** Each error as IAM and STS name it, with their HTTP status. */
const QUERY_ERRORS: Partial<Record<ErrorCode, { code: string; status: number }>> = {
  InvalidRequest: { code: 'ValidationError', status: 400 },
  InvalidInput: { code: 'InvalidInput', status: 400 },
  NoSuchEntity: { code: 'NoSuchEntity', status: 404 },
  ResourceNotFound: { code: 'NoSuchEntity', status: 404 },
  ResourceAlreadyExists: { code: 'EntityAlreadyExists', status: 409 },
  StoreConstraint: { code: 'EntityAlreadyExists', status: 409 },
  DeleteConflict: { code: 'DeleteConflict', status: 409 },
  LimitExceeded: { code: 'LimitExceeded', status: 409 },
  MalformedPolicyDocument: { code: 'MalformedPolicyDocument', status: 400 },
  AccessDenied: { code: 'AccessDenied', status: 403 },
  MissingAuthenticationToken: { code: 'MissingAuthenticationToken', status: 403 },
  IncompleteSignature: { code: 'IncompleteSignature', status: 400 },
  UnrecognizedClient: { code: 'InvalidClientTokenId', status: 403 },
  InvalidSignature: { code: 'SignatureDoesNotMatch', status: 403 },
  SignatureDoesNotMatch: { code: 'SignatureDoesNotMatch', status: 403 },
  // IAM and STS answer a stale or future X-Amz-Date with SignatureDoesNotMatch ("Signature expired").
  RequestExpired: { code: 'SignatureDoesNotMatch', status: 403 },
  ExpiredToken: { code: 'ExpiredToken', status: 403 },
  InvalidAction: { code: 'InvalidAction', status: 400 },
  MissingAction: { code: 'MissingAction', status: 400 },
  Throttling: { code: 'Throttling', status: 400 },
  RequestEntityTooLarge: { code: 'RequestEntityTooLarge', status: 413 },
};

/** AWS's common error for a temporary failure: the request was not performed (status 503). */
const SERVICE_UNAVAILABLE = { code: 'ServiceUnavailable', status: 503 };

/** Failures of the server's own machinery (keys, sealed values, schema): never the caller's. */
const SERVER_FAILURES: ReadonlySet<ErrorCode> = new Set<ErrorCode>([
  'ConfigInvalid',
  'RootKeyInvalid',
  'RootKeyMissing',
  'RootKeyFileInsecure',
  'KeyNotFound',
  'KeyDisabled',
  'KeyPendingDeletion',
  'KeyErased',
  'KeyVersionUnavailable',
  'KeyInvalidState',
  'KeyInvalidArgument',
  'SealedContextMismatch',
  'SealedValueTampered',
  'SealedFormatUnsupported',
  'StoreSchemaInvalid',
  'InternalFailure',
]);

/** IAM's and STS's names for an internal failure. */
const SERVER_FAILURE_CODES: Record<QueryService, string> = {
  iam: 'ServiceFailure',
  sts: 'InternalFailure',
};

/** An error as the Query protocol reports it; `internal` when it must be logged. */
export function queryErrorOf(
  error: unknown,
  service: QueryService,
): { status: number; body: QueryErrorBody; internal: boolean } {
  if (isBulwarkError(error, 'ServiceUnavailable'))
    return {
      status: SERVICE_UNAVAILABLE.status,
      body: { type: 'Receiver', code: SERVICE_UNAVAILABLE.code, message: error.message },
      internal: false,
    };
  if (isBulwarkError(error) && !SERVER_FAILURES.has(error.code) && error.httpStatus < 500) {
    // Codes without an entry (other modules' actions) keep their AWS name and status.
    const mapped = QUERY_ERRORS[error.code] ?? {
      code: error.awsType.replace(/Exception$/, ''),
      status: error.httpStatus,
    };
    return {
      status: mapped.status,
      body: { type: 'Sender', code: mapped.code, message: error.message },
      internal: false,
    };
  }
  return {
    status: 500,
    body: {
      type: 'Receiver',
      code: SERVER_FAILURE_CODES[service],
      message:
        'The request processing has failed because of an unknown error, exception or failure.',
    },
    internal: true,
  };
}

/** The service in the credential scope (`Credential=AKIA…/date/region/SERVICE/aws4_request`). */
function signingServiceOf(request: QueryHttpRequest, queryParams: QueryParams): string | undefined {
  let credential = queryParams['X-Amz-Credential'];
  for (let i = 0; i + 1 < request.rawHeaders.length; i += 2)
    if ((request.rawHeaders[i] as string).toLowerCase() === 'authorization')
      credential = /Credential=([^,\s]+)/.exec(request.rawHeaders[i + 1] as string)?.[1];
  return credential?.split('/')[3];
}

function addParams(params: Record<string, string>, pairs: Iterable<[string, string]>): void {
  for (const [name, value] of pairs) {
    if (SIGNATURE_PARAMS.has(name)) continue;
    if (name in params)
      throw new BulwarkError(
        'InvalidRequest',
        `The parameter ${JSON.stringify(name.slice(0, 128))} is given more than once.`,
      );
    params[name] = value;
  }
}

/**
 * The action's parameters: the query string, and for POST the form-encoded body. A parameter
 * given twice is refused rather than one of its values silently chosen.
 */
function queryParamsOf(request: QueryHttpRequest): {
  params: QueryParams;
  queryParams: QueryParams;
} {
  const queryStart = request.rawUrl.indexOf('?');
  const queryPairs = parseRawQuery(queryStart < 0 ? '' : request.rawUrl.slice(queryStart + 1));
  const params: Record<string, string> = Object.create(null);
  const queryParams: Record<string, string> = Object.create(null);
  for (const [name, value] of queryPairs) queryParams[name] ??= value;
  addParams(params, queryPairs);
  if (request.body.length > 0) {
    const mediaType = request.contentType?.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== FORM_CONTENT_TYPE)
      throw new BulwarkError(
        'InvalidRequest',
        `A Query API request body must be ${FORM_CONTENT_TYPE}, not ${JSON.stringify((request.contentType ?? 'untyped').slice(0, 100))}.`,
      );
    let text: string;
    try {
      text = UTF8.decode(request.body);
    } catch {
      throw new BulwarkError('InvalidRequest', 'The request body is not valid UTF-8.');
    }
    addParams(params, new URLSearchParams(text));
  }
  return { params, queryParams };
}

/** Serves the Query protocol's actions; each request gets an XML answer, never an exception. */
export class QueryProtocol {
  private readonly actions = new Map<string, QueryAction>();

  constructor(private readonly options: QueryProtocolOptions) {
    for (const action of options.actions) {
      const key = `${action.service}:${action.name}`;
      if (this.actions.has(key)) throw new Error(`internal: Query action ${key} registered twice`);
      this.actions.set(key, action);
    }
  }

  async serve(request: QueryHttpRequest): Promise<QueryHttpResponse> {
    let service: QueryService = 'iam';
    let actionName: string | undefined;
    const call: QueryCall = { service, readOnly: true };
    try {
      const { params, queryParams } = queryParamsOf(request);
      call.params = params;
      if (params.Action !== undefined && ACTION_NAME.test(params.Action))
        call.actionName = params.Action;
      const signingService = signingServiceOf(request, queryParams);
      // The signing name picks the service; an unsigned request is answered in the namespace
      // its Version names.
      service =
        signingService === 'sts' ||
        (signingService === undefined && params.Version === QUERY_VERSIONS.sts)
          ? 'sts'
          : 'iam';
      call.service = service;
      const caller = await this.options.authenticate(
        {
          method: request.method,
          rawUrl: request.rawUrl,
          rawHeaders: request.rawHeaders,
          body: request.body,
        },
        service,
      );
      call.caller = caller;
      const action = this.dispatch(service, params);
      actionName = action.name;
      call.readOnly = action.readOnly;
      // As AWS: GetSessionToken credentials obtained without MFA cannot call IAM at all.
      if (service === 'iam' && isTemporaryKey(caller.accessKeyId) && !caller.mfaAuthenticated)
        throw new BulwarkError(
          'UnrecognizedClient',
          'The security token included in the request is invalid.',
        );
      const context: QueryContext = {
        caller,
        accountId: this.options.account.accountId,
        region: this.options.account.region,
        requestId: request.requestId,
        sourceIp: request.sourceIp,
        userAgent: request.userAgent,
      };
      const resource = await action.resource?.(params, context);
      if (resource !== undefined) call.resource = resource;
      if (!action.withoutAuthorization)
        await this.options.authorize(
          caller,
          `${service}:${action.name}`,
          resource ?? '*',
          request.sourceIp,
        );
      if (action.freeFormFields && this.options.fieldGuard)
        this.checkFields(this.options.fieldGuard, action.freeFormFields(params), call);
      if (!action.readOnly) this.options.beforeMutation?.();
      const result = await action.handle(params, context);
      if (result !== undefined) call.result = result;
      return {
        status: 200,
        contentType: 'text/xml',
        body: resultXml(service, action.name, result, request.requestId),
        call,
      };
    } catch (error) {
      const { status, body, internal } = queryErrorOf(error, service);
      if (internal)
        this.options.logger.error(
          { err: error, requestId: request.requestId, service, action: actionName },
          'Query API request failed',
        );
      call.error = body;
      return {
        status,
        contentType: 'text/xml',
        body: errorXml(service, body, request.requestId),
        call,
      };
    }
  }

  /** The field guard's verdict, noted on `call` for the audit trail; throws a refusal. */
  private checkFields(guard: FieldGuard, fields: FreeFormField[], call: QueryCall): void {
    try {
      const warnings = guard.check(fields);
      if (warnings.length > 0) call.sensitiveDataWarnings = warnings;
    } catch (error) {
      if (error instanceof SensitiveFieldError) call.sensitiveDataRefused = error.refused;
      throw error;
    }
  }

  /** The action `Action` and `Version` name, or IAM's InvalidAction / MissingAction. */
  private dispatch(service: QueryService, params: QueryParams): QueryAction {
    const name = params.Action;
    if (name === undefined || name === '')
      throw new BulwarkError('MissingAction', 'The request must contain the parameter Action.');
    if (!ACTION_NAME.test(name))
      throw new BulwarkError('InvalidAction', 'The Action parameter names no operation.');
    const version = params.Version ?? 'NO_VERSION_SPECIFIED';
    const action =
      version === QUERY_VERSIONS[service] ? this.actions.get(`${service}:${name}`) : undefined;
    if (!action)
      throw new BulwarkError(
        'InvalidAction',
        `Could not find operation ${name} for version ${version.slice(0, 32)}`,
      );
    return action;
  }
}
