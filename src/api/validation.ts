import { BulwarkError } from '../errors.js';

/**
 * Request validation in AWS's words, for every capability's operations. AWS reports a constraint violation as
 * `1 validation error detected: Value 'x' at 'field' failed to satisfy constraint: …`; Bulwark
 * says the same but never echoes the value, which may be long or sensitive.
 */

/** A string constraint from the AWS IoT API model: length bounds and a pattern. */
export interface StringRule {
  min?: number;
  max: number;
  /** The pattern as the API reference writes it; matched against the whole value. */
  pattern?: string;
  /** Unicode-aware pattern (tag keys use \p{L}, \p{Z}, \p{N}). */
  unicode?: boolean;
}

const compiled = new Map<string, RegExp>();

function matches(value: string, rule: StringRule): boolean {
  if (!rule.pattern) return true;
  const key = `${rule.unicode ? 'u' : ''}${rule.pattern}`;
  let regex = compiled.get(key);
  if (!regex) {
    regex = new RegExp(`^(?:${rule.pattern})$`, rule.unicode ? 'u' : '');
    compiled.set(key, regex);
  }
  return regex.test(value);
}

/** Thing, thing type and thing group names (ThingName, ThingTypeName, ThingGroupName). */
export const RESOURCE_NAME: StringRule = { min: 1, max: 128, pattern: '[a-zA-Z0-9:_-]+' };
export const ARN: StringRule = { min: 1, max: 2048 };
export const NEXT_TOKEN: StringRule = { min: 1, max: 1024 };

export function invalid(message: string): BulwarkError {
  return new BulwarkError('InvalidRequest', message);
}

/** AWS's validation message for one failed constraint on `field`. */
export function constraintError(field: string, constraint: string): BulwarkError {
  return invalid(
    `1 validation error detected: Value at '${field}' failed to satisfy constraint: ${constraint}`,
  );
}

/** Which constraint `value` breaks, in AWS's words; undefined when it satisfies the rule. */
export function violation(value: string, rule: StringRule): string | undefined {
  // Length in UTF-16 code units, as the AWS model's Java services count it.
  if (rule.min !== undefined && value.length < rule.min)
    return `Member must have length greater than or equal to ${rule.min}`;
  if (value.length > rule.max) return `Member must have length less than or equal to ${rule.max}`;
  if (!matches(value, rule))
    return `Member must satisfy regular expression pattern: ${rule.pattern as string}`;
  return undefined;
}

export function checkString(value: string, field: string, rule: StringRule): string {
  const broken = violation(value, rule);
  if (broken) throw constraintError(field, broken);
  return value;
}

export function optionalString(
  value: unknown,
  field: string,
  rule: StringRule,
): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw constraintError(field, 'Member must be a string');
  return checkString(value, field, rule);
}

export function requiredString(value: unknown, field: string, rule: StringRule): string {
  const checked = optionalString(value, field, rule);
  if (checked === undefined) throw constraintError(field, 'Member must not be null');
  return checked;
}

export function optionalBoolean(value: unknown, field: string): boolean | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'boolean') throw constraintError(field, 'Member must be a boolean');
  return value;
}

export function optionalInteger(value: unknown, field: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value))
    throw constraintError(field, 'Member must be an integer');
  return value;
}

/** A JSON object member (or the body itself); absent stays undefined. */
export function optionalObject(value: unknown, field: string): Record<string, unknown> | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value))
    throw constraintError(field, 'Member must be an object');
  return value as Record<string, unknown>;
}

export function optionalArray(value: unknown, field: string): unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value)) throw constraintError(field, 'Member must be a list');
  return value;
}

/** The request body; restJson1 bodies are JSON objects. */
export function bodyObject(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body) || Buffer.isBuffer(body))
    throw invalid('The request body must be a JSON object');
  return body as Record<string, unknown>;
}

/** One query parameter (the first, if repeated). */
export function queryValue(
  query: Record<string, string | string[]>,
  name: string,
): string | undefined {
  const value = query[name];
  return Array.isArray(value) ? value[0] : value;
}

/** A query parameter checked as a string member: undefined when absent. */
export function optionalQueryString(
  query: Record<string, string | string[]>,
  name: string,
  rule: StringRule,
): string | undefined {
  return optionalString(queryValue(query, name), name, rule);
}

export function queryBoolean(
  query: Record<string, string | string[]>,
  name: string,
): boolean | undefined {
  const value = queryValue(query, name);
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw constraintError(name, 'Member must be a boolean (true or false)');
}

export function queryInteger(
  query: Record<string, string | string[]>,
  name: string,
): number | undefined {
  const value = queryValue(query, name);
  if (value === undefined) return undefined;
  if (!/^-?\d{1,15}$/.test(value)) throw constraintError(name, 'Member must be an integer');
  return Number(value);
}

/** A page size or count from 1 to `max`, in AWS's words when it is outside. */
export function checkPageSize(value: number, field: string, max: number): number {
  if (value < 1) throw constraintError(field, 'Member must have value greater than or equal to 1');
  if (value > max)
    throw constraintError(field, `Member must have value less than or equal to ${max}`);
  return value;
}

/**
 * nextToken is opaque to clients: the list it belongs to and the key to resume after. A token
 * from another list, or one that does not decode, is refused rather than silently restarting.
 */
export function encodeToken(list: string, after: string): string {
  return Buffer.from(JSON.stringify({ l: list, a: after }), 'utf8').toString('base64url');
}

export function decodeToken(token: string | undefined, list: string): string | undefined {
  if (token === undefined) return undefined;
  checkString(token, 'nextToken', NEXT_TOKEN);
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    throw invalid('The nextToken is not valid');
  }
  const { l, a } = (decoded ?? {}) as { l?: unknown; a?: unknown };
  if (l !== list || typeof a !== 'string') throw invalid('The nextToken is not valid');
  return a;
}
