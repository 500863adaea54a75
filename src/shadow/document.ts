import { isDeepStrictEqual, TextDecoder } from 'node:util';
import { invalidJson, ShadowError } from './errors.js';

/**
 * The shadow document rules of aws-iot-behaviour §5.2, as pure functions: request validation,
 * the recursive merge with `null` deleting, metadata mirroring the state, the delta, and the
 * response documents. No I/O here, so both faces (MQTT and HTTPS) share one definition.
 */

export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export type Section = 'desired' | 'reported';
const SECTIONS: readonly Section[] = ['desired', 'reported'];

/** A shadow's state or its metadata: the two sections, each absent when empty. */
export type Sections = Partial<Record<Section, JsonObject>>;

/** A stored shadow: its state, the metadata mirroring it, and its version. */
export interface ShadowDocument {
  state: Sections;
  metadata: Sections;
  version: number;
}

/** An accepted-for-processing update request (§5.2). `state: null` clears both sections. */
export interface UpdateRequest {
  state: Partial<Record<Section, JsonObject | null>> | null;
  clientToken?: string;
  version?: number;
}

export interface DocumentLimits {
  /** Bytes of desired + reported state as JSON, metadata excluded. */
  maxStateBytes: number;
  /** Levels of nesting inside desired and reported. */
  maxDepth: number;
}

const MAX_CLIENT_TOKEN_BYTES = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Epoch seconds, as every shadow timestamp is. */
export function epochSeconds(nowMs: number): number {
  return Math.floor(nowMs / 1000);
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A member the object itself holds: never one inherited from Object.prototype (`constructor`, …). */
function own(object: JsonObject, key: string): JsonValue | undefined {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

/** Sets a member as data, so a key such as `__proto__` is stored like any other. */
function put(object: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(object, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}

/** The request body as JSON: UTF-8 (else 415) and well-formed (else 400), or undefined when empty. */
export function parsePayload(payload: Buffer): unknown {
  let text: string;
  try {
    text = utf8.decode(payload);
  } catch {
    throw new ShadowError(415, 'Unsupported documented encoding; supported encoding is UTF-8');
  }
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalidJson();
  }
}

function clientTokenOf(request: JsonObject): string | undefined {
  const token = own(request, 'clientToken');
  if (token === undefined) return undefined;
  if (typeof token !== 'string' || Buffer.byteLength(token, 'utf8') > MAX_CLIENT_TOKEN_BYTES)
    throw new ShadowError(400, 'Invalid clientToken');
  return token;
}

/**
 * The clientToken of a request whose body is otherwise ignored (get, delete), so it can be echoed.
 * An empty body is allowed.
 */
export function parseTokenOnlyRequest(payload: Buffer): { clientToken?: string } {
  const request = parsePayload(payload);
  if (request === undefined) return {};
  if (!isObject(request)) throw invalidJson();
  const clientToken = clientTokenOf(request);
  return clientToken === undefined ? {} : { clientToken };
}

/**
 * The clientToken a request carries, if it can be read at all: rejected responses echo it even
 * when the request itself is invalid.
 */
export function clientTokenIn(payload: Buffer): string | undefined {
  try {
    const request = JSON.parse(payload.toString('utf8')) as unknown;
    const token = isObject(request) ? own(request, 'clientToken') : undefined;
    return typeof token === 'string' && Buffer.byteLength(token) <= MAX_CLIENT_TOKEN_BYTES
      ? token
      : undefined;
  } catch {
    return undefined;
  }
}

/** Levels of nesting of a container: `{"a": 1}` is 1, `{"a": {"b": 1}}` and `{"a": [1]}` are 2. */
function depthOf(value: JsonObject | JsonValue[]): number {
  let deepest = 0;
  for (const child of Object.values(value) as JsonValue[]) {
    if (typeof child === 'object' && child !== null) deepest = Math.max(deepest, depthOf(child));
  }
  return deepest + 1;
}

/** Arrays are values, replaced whole; a null inside one would mean nothing, so it is refused. */
function hasNullInArray(value: JsonValue, inArray: boolean): boolean {
  if (value === null) return inArray;
  if (Array.isArray(value)) return value.some((element) => hasNullInArray(element, true));
  if (isObject(value)) return Object.values(value).some((child) => hasNullInArray(child, inArray));
  return false;
}

/** Validates an update request (§5.2, §5.3) without looking at the stored shadow. */
export function parseUpdateRequest(payload: Buffer, limits: DocumentLimits): UpdateRequest {
  const request = parsePayload(payload);
  if (!isObject(request)) throw invalidJson();
  const clientToken = clientTokenOf(request);
  const version = own(request, 'version');
  if (version !== undefined && !(Number.isSafeInteger(version) && (version as number) >= 0))
    throw new ShadowError(400, 'Invalid version');
  const base = {
    ...(clientToken !== undefined ? { clientToken } : {}),
    ...(version !== undefined ? { version: version as number } : {}),
  };
  if (!Object.hasOwn(request, 'state')) throw new ShadowError(400, 'Missing required node: state');
  const state = request.state;
  if (state === null) return { ...base, state: null };
  if (!isObject(state)) throw new ShadowError(400, 'State node must be an object');
  const sections: Partial<Record<Section, JsonObject | null>> = {};
  for (const [key, value] of Object.entries(state)) {
    if (key !== 'desired' && key !== 'reported')
      throw new ShadowError(400, 'State contains an invalid node');
    if (value !== null && !isObject(value))
      throw new ShadowError(
        400,
        key === 'desired' ? 'Desired node must be an object' : 'Reported node must be an object',
      );
    if (value !== null && depthOf(value) > limits.maxDepth)
      throw new ShadowError(
        400,
        `JSON contains too many levels of nesting; maximum is ${limits.maxDepth}`,
      );
    if (value !== null && hasNullInArray(value, false)) throw invalidJson();
    sections[key] = value;
  }
  return { ...base, state: sections };
}

/** Metadata mirroring a value: `{timestamp}` at each leaf, per element for arrays. */
function metadataOf(value: JsonValue, timestamp: number): JsonValue {
  if (Array.isArray(value)) return value.map((element) => metadataOf(element, timestamp));
  if (isObject(value)) {
    const metadata: JsonObject = {};
    for (const [key, child] of Object.entries(value))
      put(metadata, key, metadataOf(child, timestamp));
    return metadata;
  }
  return { timestamp };
}

/** Merges `patch` into `target` and its metadata: objects recursively, `null` deletes, the rest replaces. */
function mergeInto(
  target: JsonObject,
  metadata: JsonObject,
  patch: JsonObject,
  timestamp: number,
): void {
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete target[key];
      delete metadata[key];
    } else if (isObject(value)) {
      const existing = own(target, key);
      const existingMetadata = own(metadata, key);
      const child = isObject(existing) ? existing : {};
      const childMetadata =
        isObject(existing) && isObject(existingMetadata) ? existingMetadata : {};
      mergeInto(child, childMetadata, value, timestamp);
      put(target, key, child);
      put(metadata, key, childMetadata);
    } else {
      put(target, key, structuredClone(value));
      put(metadata, key, metadataOf(value, timestamp));
    }
  }
}

function stateBytes(state: Sections): number {
  return SECTIONS.reduce(
    (total, section) =>
      total + (state[section] ? Buffer.byteLength(JSON.stringify(state[section]), 'utf8') : 0),
    0,
  );
}

/**
 * The shadow after an update: version + 1 (the caller has checked the request's version), each
 * section merged, a section that ends up empty dropped. Refuses a result past the size limit (413).
 */
export function applyUpdate(
  current: ShadowDocument | undefined,
  baseVersion: number,
  request: UpdateRequest,
  nowMs: number,
  limits: DocumentLimits,
): ShadowDocument {
  const timestamp = epochSeconds(nowMs);
  const state: Sections = structuredClone(current?.state ?? {});
  const metadata: Sections = structuredClone(current?.metadata ?? {});
  if (request.state === null) {
    return { state: {}, metadata: {}, version: baseVersion + 1 };
  }
  for (const section of SECTIONS) {
    if (!Object.hasOwn(request.state, section)) continue;
    const patch = request.state[section];
    if (patch === null || patch === undefined) {
      delete state[section];
      delete metadata[section];
      continue;
    }
    const target = state[section] ?? {};
    const targetMetadata = metadata[section] ?? {};
    mergeInto(target, targetMetadata, patch, timestamp);
    if (Object.keys(target).length === 0) {
      delete state[section];
      delete metadata[section];
    } else {
      state[section] = target;
      metadata[section] = targetMetadata;
    }
  }
  if (stateBytes(state) > limits.maxStateBytes)
    throw new ShadowError(413, 'The payload exceeds the maximum size allowed');
  return { state, metadata, version: baseVersion + 1 };
}

/**
 * Desired fields that reported does not match (§5.2): absent from reported, or different (arrays
 * compared by value); objects recurse and keep their path. Metadata is desired's for those fields.
 */
export function deltaOf(
  desired: JsonObject,
  reported: JsonObject,
  desiredMetadata: JsonObject,
): { state: JsonObject; metadata: JsonObject } | undefined {
  const state: JsonObject = {};
  const metadata: JsonObject = {};
  for (const [key, wanted] of Object.entries(desired)) {
    const actual = own(reported, key);
    const wantedMetadata = own(desiredMetadata, key) ?? {};
    if (isObject(wanted) && isObject(actual)) {
      const nested = deltaOf(wanted, actual, isObject(wantedMetadata) ? wantedMetadata : {});
      if (nested) {
        put(state, key, nested.state);
        put(metadata, key, nested.metadata);
      }
    } else if (actual === undefined || !isDeepStrictEqual(wanted, actual)) {
      put(state, key, wanted);
      put(metadata, key, wantedMetadata);
    }
  }
  return Object.keys(state).length > 0 ? { state, metadata } : undefined;
}

/** A shadow's delta, when desired has fields reported does not match. */
export function shadowDelta(
  shadow: ShadowDocument,
): { state: JsonObject; metadata: JsonObject } | undefined {
  if (!shadow.state.desired) return undefined;
  return deltaOf(shadow.state.desired, shadow.state.reported ?? {}, shadow.metadata.desired ?? {});
}

function withToken<T extends object>(document: T, clientToken: string | undefined): T {
  return clientToken === undefined ? document : { ...document, clientToken };
}

/** GET: the whole document, with the delta (§5.1 `/get/accepted`). */
export function getResponse(
  shadow: ShadowDocument,
  nowMs: number,
  clientToken: string | undefined,
): object {
  const delta = shadowDelta(shadow);
  return withToken(
    {
      state: { ...shadow.state, ...(delta ? { delta: delta.state } : {}) },
      metadata: shadow.metadata,
      version: shadow.version,
      timestamp: epochSeconds(nowMs),
    },
    clientToken,
  );
}

/** `/update/accepted`: only what the request sent, with the metadata of what it touched. */
export function acceptedResponse(request: UpdateRequest, version: number, nowMs: number): object {
  const timestamp = epochSeconds(nowMs);
  const metadata: JsonObject = {};
  for (const section of SECTIONS) {
    if (request.state === null || !Object.hasOwn(request.state, section)) continue;
    const sent = request.state[section];
    put(metadata, section, sent ? metadataOf(sent, timestamp) : { timestamp });
  }
  return withToken({ state: request.state, metadata, version, timestamp }, request.clientToken);
}

/** `/update/delta`: every desired field reported does not match, after this update. */
export function deltaResponse(
  shadow: ShadowDocument,
  nowMs: number,
  clientToken: string | undefined,
): object | undefined {
  const delta = shadowDelta(shadow);
  if (!delta) return undefined;
  return withToken(
    {
      version: shadow.version,
      timestamp: epochSeconds(nowMs),
      state: delta.state,
      metadata: delta.metadata,
    },
    clientToken,
  );
}

function snapshot(shadow: ShadowDocument): object {
  return {
    state: { ...shadow.state },
    metadata: { ...shadow.metadata },
    version: shadow.version,
  };
}

/** `/update/documents`: the shadow before and after, neither with a delta; no previous for a new shadow. */
export function documentsResponse(
  previous: ShadowDocument | undefined,
  current: ShadowDocument,
  nowMs: number,
  clientToken: string | undefined,
): object {
  return withToken(
    {
      previous: previous ? snapshot(previous) : null,
      current: snapshot(current),
      timestamp: epochSeconds(nowMs),
    },
    clientToken,
  );
}

/** `/delete/accepted` and DeleteThingShadow's body. */
export function deletedResponse(
  version: number,
  nowMs: number,
  clientToken: string | undefined,
): object {
  return withToken({ version, timestamp: epochSeconds(nowMs) }, clientToken);
}

/** The `/rejected` document and the HTTPS error body (§5.3). */
export function errorResponse(
  error: ShadowError,
  nowMs: number,
  clientToken: string | undefined,
): object {
  return withToken(
    { code: error.status, message: error.message, timestamp: epochSeconds(nowMs) },
    clientToken,
  );
}
