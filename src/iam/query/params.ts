import { checkString, constraintError, invalid, type StringRule } from '../../api/validation.js';
import { BulwarkError } from '../../errors.js';
import type { IamArns } from '../arns.js';
import type { PolicyHolder } from '../inline-policies.js';
import { DEFAULT_MAX_ITEMS, type IamPage, type IamPageRequest } from '../pagination.js';
import type { QueryParams } from './action.js';

/**
 * Reading Query parameters with IAM's constraints, reported as IAM does (`1 validation error
 * detected: Value at 'userName' failed to satisfy constraint: …`; the value is never echoed).
 */

/** IAM's user, group and policy names. */
export const USER_NAME: StringRule = { min: 1, max: 64, pattern: '[\\w+=,.@-]+' };
export const GROUP_NAME: StringRule = { min: 1, max: 128, pattern: '[\\w+=,.@-]+' };
export const POLICY_NAME: StringRule = { min: 1, max: 128, pattern: '[\\w+=,.@-]+' };
export const POLICY_DOCUMENT: StringRule = {
  min: 1,
  max: 131_072,
  pattern: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]+',
};
export const POLICY_ARN: StringRule = { min: 20, max: 2048 };
export const POLICY_VERSION_ID: StringRule = {
  max: 128,
  pattern: 'v[1-9][0-9]*(\\.[A-Za-z0-9-]*)?',
};
export const DESCRIPTION: StringRule = {
  max: 1000,
  pattern: '[\\u0009\\u000A\\u000D\\u0020-\\u00FF]*',
};
export const ACCESS_KEY_ID: StringRule = { min: 16, max: 128, pattern: '[\\w]+' };
export const MFA_SERIAL_NUMBER: StringRule = { min: 9, max: 256, pattern: '[\\w+=/:,.@-]+' };
export const MFA_TOKEN_CODE: StringRule = { min: 6, max: 6, pattern: '[\\d]+' };
const MARKER: StringRule = { min: 1, max: 320, pattern: '[\\u0020-\\u00FF]+' };
const PATH_PREFIX: StringRule = { min: 1, max: 512, pattern: '\\u002F[\\u0021-\\u007F]*' };

/** AWS's name for a parameter in validation messages: `UserName` → `userName`. */
function memberName(param: string): string {
  return param.charAt(0).toLowerCase() + param.slice(1);
}

export function optionalParam(
  params: QueryParams,
  name: string,
  rule: StringRule,
): string | undefined {
  const value = params[name];
  return value === undefined ? undefined : checkString(value, memberName(name), rule);
}

export function requiredParam(params: QueryParams, name: string, rule: StringRule): string {
  const value = optionalParam(params, name, rule);
  if (value === undefined) throw constraintError(memberName(name), 'Member must not be null');
  return value;
}

export function enumParam<T extends string>(
  params: QueryParams,
  name: string,
  values: readonly T[],
): T | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (!(values as readonly string[]).includes(value))
    throw constraintError(
      memberName(name),
      `Member must satisfy enum value set: [${values.join(', ')}]`,
    );
  return value as T;
}

export function requiredEnumParam<T extends string>(
  params: QueryParams,
  name: string,
  values: readonly T[],
): T {
  const value = enumParam(params, name, values);
  if (value === undefined) throw constraintError(memberName(name), 'Member must not be null');
  return value;
}

export function booleanParam(params: QueryParams, name: string): boolean | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (value === 'true') return true;
  if (value === 'false') return false;
  throw constraintError(memberName(name), 'Member must be a boolean (true or false)');
}

export function integerParam(
  params: QueryParams,
  name: string,
  range: { min: number; max: number },
): number | undefined {
  const value = params[name];
  if (value === undefined) return undefined;
  if (!/^-?\d{1,15}$/.test(value))
    throw constraintError(memberName(name), 'Member must be an integer');
  const number = Number(value);
  if (number < range.min)
    throw constraintError(
      memberName(name),
      `Member must have value greater than or equal to ${range.min}`,
    );
  if (number > range.max)
    throw constraintError(
      memberName(name),
      `Member must have value less than or equal to ${range.max}`,
    );
  return number;
}

/** `Marker` and `MaxItems` (1–1000, 100 when absent) of IAM's list calls. */
export function pageParams(params: QueryParams): IamPageRequest {
  const marker = optionalParam(params, 'Marker', MARKER);
  return {
    ...(marker !== undefined ? { marker } : {}),
    maxItems: integerParam(params, 'MaxItems', { min: 1, max: 1000 }) ?? DEFAULT_MAX_ITEMS,
  };
}

/** `PathPrefix` of the list calls (`/` when absent). */
export function pathPrefixParam(params: QueryParams): string {
  return optionalParam(params, 'PathPrefix', PATH_PREFIX) ?? '/';
}

/**
 * A page of a list call with `PathPrefix`: every user, group and attached policy has the path
 * `/`, so only a prefix of it matches any, and another gives an empty page.
 */
export async function pageUnderPathPrefix<T>(
  params: QueryParams,
  list: (request: IamPageRequest) => Promise<IamPage<T>>,
): Promise<IamPage<T>> {
  const request = pageParams(params);
  return '/'.startsWith(pathPrefixParam(params)) ? list(request) : { items: [] };
}

/**
 * Parameters Bulwark does not implement yet, refused rather than ignored, so a caller never
 * believes a user was tagged or given a boundary when it was not. Only the path `/` is served.
 */
export function refuseUnsupported(params: QueryParams, names: readonly string[]): void {
  const path = params.Path;
  if (path !== undefined && path !== '/')
    throw new BulwarkError(
      'InvalidInput',
      'Bulwark serves only the path /: leave Path out or set it to /.',
    );
  for (const name of names) {
    const given = Object.keys(params).some(
      (param) => param === name || param.startsWith(`${name}.`),
    );
    if (given) throw invalid(`Bulwark does not support the ${name} parameter yet: leave it out.`);
  }
}

/**
 * The `{Verb}User…` / `{Verb}Group…` pairs of policy calls: the noun in their names, the holder
 * their `UserName` or `GroupName` names, and its ARN (the resource they are authorized on).
 */
export function policyHolderParams(type: PolicyHolder['type'], arns: IamArns) {
  const holderOf = (params: QueryParams): PolicyHolder => ({
    type,
    name:
      type === 'user'
        ? requiredParam(params, 'UserName', USER_NAME)
        : requiredParam(params, 'GroupName', GROUP_NAME),
  });
  return {
    noun: type === 'user' ? 'User' : 'Group',
    holderOf,
    resource: (params: QueryParams): string => {
      const holder = holderOf(params);
      return type === 'user' ? arns.user(holder.name) : arns.group(holder.name);
    },
  };
}
