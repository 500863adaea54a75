import type { OperationRequest } from '../../api/operation.js';
import {
  checkPageSize,
  optionalQueryString,
  queryInteger,
  requiredString,
  type StringRule,
} from '../../api/validation.js';
import { MAX_PAGE_SIZE } from '../service-context.js';

/** PolicyName in the AWS IoT API model. */
export const POLICY_NAME: StringRule = { min: 1, max: 128, pattern: '[\\w+=,.@-]+' };
/** PolicyVersionId in the AWS IoT API model. */
export const POLICY_VERSION_ID: StringRule = { min: 1, max: 128, pattern: '[0-9]+' };
/** PolicyDocument: the model's bound on the string; the 2048-character rule is the parser's. */
export const POLICY_DOCUMENT: StringRule = { min: 0, max: 404_600 };
export const MARKER: StringRule = { min: 1, max: 1024 };
export const TARGET: StringRule = { min: 1, max: 2048 };

export { controlOperation, epochSeconds } from '../../api/operation.js';

export function policyNameOf(request: OperationRequest): string {
  return requiredString(request.params.policyName, 'policyName', POLICY_NAME);
}

export function versionIdOf(request: OperationRequest): string {
  return requiredString(request.params.policyVersionId, 'policyVersionId', POLICY_VERSION_ID);
}

/** `marker` and `pageSize` from the query (pageSize 1–250, default 250). */
export function markerPage(request: OperationRequest): { marker?: string; pageSize: number } {
  const marker = optionalQueryString(request.query, 'marker', MARKER);
  const pageSize = checkPageSize(
    queryInteger(request.query, 'pageSize') ?? MAX_PAGE_SIZE,
    'pageSize',
    MAX_PAGE_SIZE,
  );
  return { ...(marker !== undefined ? { marker } : {}), pageSize };
}
