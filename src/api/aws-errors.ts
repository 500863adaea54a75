import type { FastifyReply } from 'fastify';
import { BulwarkError, isBulwarkError } from '../errors.js';
import { storeBusyError } from '../store/index.js';

/** What Fastify itself throws (body too large, bad content length, …): a status, no AWS type. */
interface HttpError {
  statusCode?: number;
  message: string;
}

/**
 * Any error thrown while serving a request, as the BulwarkError the client is told about;
 * `internal` when it was not meant for the client (a bug, an outage) and must be logged.
 */
export function asAwsError(
  error: unknown,
  bodyLimit: number,
): { error: BulwarkError; internal: boolean } {
  if (isBulwarkError(error)) return { error, internal: error.httpStatus >= 500 };
  const busy = storeBusyError(error);
  if (busy) return { error: busy, internal: true };
  const status = (error as HttpError | undefined)?.statusCode;
  if (status === 413)
    return {
      error: new BulwarkError(
        'RequestEntityTooLarge',
        `The request body is larger than the limit of ${bodyLimit} bytes.`,
        { limit: bodyLimit },
      ),
      internal: false,
    };
  if (typeof status === 'number' && status >= 400 && status < 500)
    return {
      error: new BulwarkError('InvalidRequest', (error as HttpError).message),
      internal: false,
    };
  return {
    error: new BulwarkError('InternalFailure', 'An internal error occurred.'),
    internal: true,
  };
}

/** AWS restJson1's error form: status, `x-amzn-ErrorType`, `{"message": …, …details}`. */
export function sendAwsError(reply: FastifyReply, error: BulwarkError): FastifyReply {
  return reply
    .code(error.httpStatus)
    .header('x-amzn-ErrorType', error.awsType)
    .header('content-type', 'application/json')
    .send(JSON.stringify({ message: error.message, ...error.details }));
}
