import { BulwarkError } from '../../errors.js';
import {
  DEFAULT_SESSION_SECONDS,
  isTemporaryKey,
  MAX_SESSION_SECONDS,
  MIN_SESSION_SECONDS,
} from '../sessions.js';
import type { QueryAction, QueryContext, QueryParams } from './action.js';
import { integerParam, MFA_SERIAL_NUMBER, MFA_TOKEN_CODE, optionalParam } from './params.js';
import type { IamQueryServices } from './services.js';

function mfaFailed(reason: string): BulwarkError {
  return new BulwarkError('AccessDenied', `MultiFactorAuthentication failed${reason}`);
}

/**
 * GetSessionToken's MFA check: both SerialNumber and TokenCode, or neither. Returns whether the
 * caller proved MFA; refuses (AccessDenied, as STS does) a code that is wrong, replayed or locked.
 */
async function checkMfa(
  params: QueryParams,
  context: QueryContext,
  services: IamQueryServices,
): Promise<boolean> {
  const serialNumber = optionalParam(params, 'SerialNumber', MFA_SERIAL_NUMBER);
  const tokenCode = optionalParam(params, 'TokenCode', MFA_TOKEN_CODE);
  if (serialNumber === undefined && tokenCode === undefined) return false;
  if (serialNumber === undefined || tokenCode === undefined)
    throw mfaFailed(', must provide both MFA serial number and one time pass code.');
  if (!services.mfaVerifier)
    throw mfaFailed(': this server has no MFA devices to check the code against.');
  const verdict = await services.mfaVerifier.verify(
    context.caller.userName,
    serialNumber,
    tokenCode,
  );
  if (verdict === 'locked')
    throw mfaFailed(': too many failed attempts for this MFA device; try again later.');
  if (verdict !== 'ok') throw mfaFailed(' with invalid MFA one time pass code. ');
  return true;
}

/** GetCallerIdentity and GetSessionToken: authentication operations, open to every caller. */
export function stsActions(services: IamQueryServices): QueryAction[] {
  return [
    {
      service: 'sts',
      name: 'GetCallerIdentity',
      readOnly: true,
      withoutAuthorization: true,
      async handle(_params, context) {
        return {
          Arn: context.caller.arn,
          UserId: context.caller.principalId,
          Account: context.accountId,
        };
      },
    },
    {
      service: 'sts',
      name: 'GetSessionToken',
      readOnly: false,
      withoutAuthorization: true,
      async handle(params, context) {
        // As STS: session credentials come from long-term keys only.
        if (isTemporaryKey(context.caller.accessKeyId))
          throw new BulwarkError(
            'AccessDenied',
            'Cannot call GetSessionToken with session credentials',
          );
        const durationSeconds =
          integerParam(params, 'DurationSeconds', {
            min: MIN_SESSION_SECONDS,
            max: MAX_SESSION_SECONDS,
          }) ?? DEFAULT_SESSION_SECONDS;
        const withMfa = await checkMfa(params, context, services);
        const credentials = await services.sessions.issue(
          context.caller.userName,
          durationSeconds,
          withMfa,
        );
        return {
          Credentials: {
            AccessKeyId: credentials.accessKeyId,
            SecretAccessKey: credentials.secretAccessKey,
            SessionToken: credentials.sessionToken,
            Expiration: credentials.expiration,
          },
        };
      },
    },
  ];
}
