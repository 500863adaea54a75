/**
 * The seam between the HTTP edge (src/api) and the capabilities behind it (registry, pki,
 * policy, shadow, iam, …). A capability describes each AWS operation it serves as an
 * `Operation`; the API server authenticates the caller (SigV4, or on the data plane a device's
 * client certificate), authorizes `action` on `resource`, parses the body, calls `handle`, and
 * renders the result or a thrown BulwarkError in AWS's restJson1 form (status,
 * `x-amzn-ErrorType`, `{"message": …}` plus the error's details).
 * Capabilities never see Fastify.
 */

import type { FreeFormField } from '../guard/field-guard.js';

/** An operator, as SigV4 verification established it. */
export interface IamUserCaller {
  type: 'IAMUser';
  userName: string;
  /** `arn:aws:iam::{accountId}:user/{userName}`. */
  arn: string;
  accessKeyId: string;
  /** IAM's unique id for the user (AIDA…). */
  principalId: string;
  /** True when the request was signed with temporary credentials obtained with MFA. */
  mfaAuthenticated: boolean;
  /** When (epoch ms) the user proved MFA to obtain those credentials (aws:MultiFactorAuthAge). */
  mfaAuthenticatedAt?: number;
  /** When (epoch ms) the temporary credentials the request was signed with were issued. */
  sessionCreatedAt?: number;
}

/**
 * A device on the data plane, as its TLS client certificate established it (registered and
 * ACTIVE, or from an operator-trusted CA); its IoT policies decide what it may do.
 */
export interface CertificateCaller {
  type: 'Certificate';
  certificateId: string;
  /** `arn:aws:iot:{region}:{accountId}:cert/{certificateId}`. */
  arn: string;
  /** The certificate id, as AWS names a certificate principal. */
  principalId: string;
  /** The thing named by `x-amzn-iot-thingname`, when it is attached to the certificate. */
  thingName?: string;
}

/** Who made the call: an IAM user (SigV4) or, on the data plane only, a device certificate. */
export type Caller = IamUserCaller | CertificateCaller;

export interface OperationContext {
  caller: Caller;
  region: string;
  accountId: string;
  /** The `x-amzn-RequestId` sent back with the response. */
  requestId: string;
  sourceIp: string;
  userAgent: string;
}

export interface OperationRequest {
  /** Path parameters, already percent-decoded. */
  params: Record<string, string>;
  /** Query parameters, percent-decoded; repeated keys become arrays. */
  query: Record<string, string | string[]>;
  /** The parsed JSON body (`{}` when empty) for `body: 'json'`; the raw bytes for `body: 'raw'`. */
  body: unknown;
  /** Lower-case header names. */
  headers: Record<string, string | string[] | undefined>;
  context: OperationContext;
}

export interface OperationResult {
  /** 200 unless said otherwise. */
  status?: number;
  /** Serialised as JSON; a Buffer is sent as-is (data plane). Absent: `{}`. */
  body?: unknown;
  headers?: Record<string, string>;
}

export interface Operation {
  /** AWS's operation name, e.g. `CreateThing`; also the audit trail's eventName. */
  name: string;
  /** The IAM action checked for the caller, e.g. `iot:CreateThing`. */
  action: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** A Fastify route pattern, e.g. `/things/:thingName`. */
  path: string;
  /** Which SigV4 signing names the route accepts: control (`iot`, `execute-api`) or data (`iotdata`). */
  plane: 'control' | 'data';
  /** Read-only calls are marked so in the audit trail. */
  readOnly: boolean;
  /** How the body is parsed; default `json`. */
  body?: 'json' | 'raw';
  /** The resource ARN the action is authorized on, once the request is known (default `*`). */
  resource?(request: OperationRequest): string;
  /**
   * Further actions the request needs on the same resource, each authorized like `action`
   * (Publish with retain=true also needs `iot:RetainPublish`).
   */
  additionalActions?(request: OperationRequest): string[];
  /**
   * The free-form text the call would store (names it creates, tags, descriptions, attribute
   * maps), checked by the field guard once the call is authorized, before `handle`. References
   * to existing resources are not among them.
   */
  freeFormFields?(request: OperationRequest): FreeFormField[];
  handle(request: OperationRequest): Promise<OperationResult>;
}

/** A control-plane operation whose IAM action is `iot:{name}`, as most of AWS IoT's are. */
export function controlOperation(spec: {
  name: string;
  method: Operation['method'];
  path: string;
  readOnly: boolean;
  resource?: (request: OperationRequest) => string;
  freeFormFields?: (request: OperationRequest) => FreeFormField[];
  handle: (request: OperationRequest) => Promise<OperationResult>;
}): Operation {
  return {
    name: spec.name,
    action: `iot:${spec.name}`,
    method: spec.method,
    path: spec.path,
    plane: 'control',
    readOnly: spec.readOnly,
    ...(spec.resource ? { resource: spec.resource } : {}),
    ...(spec.freeFormFields ? { freeFormFields: spec.freeFormFields } : {}),
    handle: spec.handle,
  };
}

/** restJson1 timestamps: epoch seconds, with milliseconds as the fraction. */
export function epochSeconds(ms: number): number {
  return ms / 1000;
}
