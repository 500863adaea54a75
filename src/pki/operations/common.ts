import type { OperationRequest } from '../../api/operation.js';
import {
  constraintError,
  queryBoolean,
  queryInteger,
  queryValue,
  requiredString,
  type StringRule,
} from '../../api/validation.js';
import { MAX_PAGE_SIZE, type MarkerRequest } from '../pagination.js';

/** AWS IoT's CertificateId: 64 characters of `(0x)?[a-fA-F0-9]+`. */
export const CERTIFICATE_ID: StringRule = { min: 64, max: 64, pattern: '(0x)?[a-fA-F0-9]+' };
/** CertificatePem and the other PEM members: 1–65536 characters. */
export const PEM: StringRule = { min: 1, max: 65536 };
export const MARKER: StringRule = { min: 0, max: 1024 };

/**
 * The certificate id from the path. Ids are stored lowercase (the hex of a SHA-256), so an
 * uppercase spelling names the same certificate.
 */
export function pathCertificateId(request: OperationRequest, param: string): string {
  return requiredString(request.params[param], param, CERTIFICATE_ID).toLowerCase();
}

/** One of `allowed`, or AWS's enum constraint error. */
export function enumValue<T extends string>(
  value: string | undefined,
  field: string,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(value))
    throw constraintError(field, `Member must satisfy enum value set: [${allowed.join(', ')}]`);
  return value as T;
}

export function requiredEnum<T extends string>(
  value: string | undefined,
  field: string,
  allowed: readonly T[],
): T {
  const checked = enumValue(value, field, allowed);
  if (checked === undefined) throw constraintError(field, 'Member must not be null');
  return checked;
}

/** pageSize, marker and isAscendingOrder from the query. */
export function markerRequest(request: OperationRequest): MarkerRequest {
  const pageSize = queryInteger(request.query, 'pageSize');
  if (pageSize !== undefined && pageSize < 1)
    throw constraintError('pageSize', 'Member must have value greater than or equal to 1');
  if (pageSize !== undefined && pageSize > MAX_PAGE_SIZE)
    throw constraintError(
      'pageSize',
      `Member must have value less than or equal to ${MAX_PAGE_SIZE}`,
    );
  const marker = queryValue(request.query, 'marker');
  if (marker !== undefined && marker.length > (MARKER.max as number))
    throw constraintError('marker', `Member must have length less than or equal to ${MARKER.max}`);
  return {
    pageSize: pageSize ?? MAX_PAGE_SIZE,
    ...(marker !== undefined && marker !== '' ? { marker } : {}),
    ascending: queryBoolean(request.query, 'isAscendingOrder') ?? false,
  };
}
