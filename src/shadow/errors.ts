import { BulwarkError, type ErrorCode } from '../errors.js';

/**
 * The Device Shadow service's errors (aws-iot-behaviour §5.3): an HTTP status and AWS's message
 * text. Over MQTT they become the `/rejected` document `{code, message, timestamp, clientToken}`;
 * over HTTPS the status, AWS's exception name and the same body.
 */
export class ShadowError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'ShadowError';
    this.status = status;
  }
}

/** The iot-data error each status is reported as over HTTPS (SDK-data error registry). */
const ERROR_OF_STATUS: Record<number, ErrorCode> = {
  400: 'InvalidRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'ResourceNotFound',
  409: 'Conflict',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedDocumentEncoding',
  429: 'Throttling',
  500: 'InternalFailure',
};

/** The HTTPS form: AWS's exception, with the shadow service's `{code, message}` body. */
export function asApiError(error: ShadowError): BulwarkError {
  return new BulwarkError(ERROR_OF_STATUS[error.status] ?? 'InternalFailure', error.message, {
    code: error.status,
  });
}

export const invalidJson = (): ShadowError => new ShadowError(400, 'Invalid JSON');
export const versionConflict = (): ShadowError => new ShadowError(409, 'Version conflict');
export const tooManyRequests = (): ShadowError => new ShadowError(429, 'Too Many Requests');
export const internalFailure = (): ShadowError => new ShadowError(500, 'Internal service failure');

/** AWS names the missing shadow: the thing name for the classic shadow, else the shadow's name. */
export function noSuchShadow(thingName: string, shadowName: string | undefined): ShadowError {
  return new ShadowError(404, `No shadow exists with name: '${shadowName ?? thingName}'`);
}
