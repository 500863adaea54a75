import type { IamUserCaller, Operation } from '../api/operation.js';
import { isBulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import type { IamSessions } from './sessions.js';
import { verifySigV4, type ReceivedRequest, type SigningNames } from './sigv4.js';
import type { IamUser, IamUsers } from './users.js';

/**
 * Where a request is served: IoT's control or data plane, IAM's or STS's Query API, or
 * CloudTrail's JSON API (LookupEvents).
 */
export type Plane = Operation['plane'] | 'iam' | 'sts' | 'cloudtrail';

/**
 * The signing names real clients put in the credential scope (aws-iot-behaviour.md §12): the
 * AWS CLI v2 signs the control plane as `execute-api`, the CLI v1 and the JS SDK v3 as `iot`;
 * every client signs the data plane as `iotdata`, and WebSocket URLs as `iotdevicegateway`.
 * IAM and STS sign as `iam` and `sts`; both are global services, signed in us-east-1 unless a
 * client names the configured region.
 */
export const SIGNING_NAMES: Record<Plane, SigningNames> = {
  control: { header: ['iot', 'execute-api'], presigned: ['iot', 'execute-api'] },
  data: { header: ['iotdata'], presigned: ['iotdata', 'iotdevicegateway'] },
  iam: { header: ['iam'], presigned: ['iam'], globalRegion: 'us-east-1' },
  sts: { header: ['sts'], presigned: ['sts'], globalRegion: 'us-east-1' },
  cloudtrail: { header: ['cloudtrail'], presigned: ['cloudtrail'] },
};

/** GetAccessKeyLastUsed's ServiceName for a request on each plane. */
const SERVICE_NAMES: Record<Plane, string> = {
  control: 'iot',
  data: 'iot',
  iam: 'iam',
  sts: 'sts',
  cloudtrail: 'cloudtrail',
};

/** Establishes who sent a request on `plane`, or throws the AWS error saying why not. */
export type Authenticate = (request: ReceivedRequest, plane: Plane) => Promise<IamUserCaller>;

export function callerOf(
  user: IamUser,
  accessKeyId: string,
  accountId: string,
  mfaAuthenticatedAt?: number,
  sessionCreatedAt?: number,
): IamUserCaller {
  return {
    type: 'IAMUser',
    userName: user.userName,
    arn: `arn:aws:iam::${accountId}:user/${user.userName}`,
    accessKeyId,
    principalId: user.userId,
    mfaAuthenticated: mfaAuthenticatedAt !== undefined,
    ...(mfaAuthenticatedAt !== undefined ? { mfaAuthenticatedAt } : {}),
    ...(sessionCreatedAt !== undefined ? { sessionCreatedAt } : {}),
  };
}

/**
 * Who signed: the user, and for temporary credentials when they were issued and when the user
 * proved MFA to obtain them (if they did).
 */
interface Signer {
  user: IamUser;
  mfaAuthenticatedAt?: number;
  sessionCreatedAt?: number;
}

export interface SigV4AuthenticatorOptions {
  users: IamUsers;
  /** Temporary credentials (ASIA… with X-Amz-Security-Token). */
  sessions: IamSessions;
  account: { region: string; accountId: string };
  logger: Logger;
  now?: () => number;
}

/**
 * SigV4 against the access keys and sessions in the store, looked up on every request. Long-term
 * keys carry no MFA context; session credentials carry the MFA context they were issued with.
 */
export function sigV4Authenticator(options: SigV4AuthenticatorOptions): Authenticate {
  const { users, sessions, account, logger, now } = options;
  return async (request, plane) => {
    let temporary = false;
    const verified = await verifySigV4<Signer>(request, {
      region: account.region,
      signingNames: SIGNING_NAMES[plane],
      ...(now ? { now } : {}),
      async resolve(accessKeyId, sessionToken) {
        try {
          if (sessionToken !== undefined) {
            temporary = true;
            const session = await sessions.resolve(accessKeyId, sessionToken);
            return (
              session && {
                secretAccessKey: session.secretAccessKey,
                principal: {
                  user: session.user,
                  sessionCreatedAt: session.createdAt,
                  ...(session.mfaAuthenticatedAt !== undefined
                    ? { mfaAuthenticatedAt: session.mfaAuthenticatedAt }
                    : {}),
                },
              }
            );
          }
          const key = await users.findActiveKey(accessKeyId);
          return key && { secretAccessKey: key.secretAccessKey, principal: { user: key.user } };
        } catch (error) {
          if (isBulwarkError(error, 'ExpiredToken')) throw error;
          // A secret that cannot be opened (its KMS key disabled, say) is the server's fault, not
          // the caller's: a 500 that is logged, and nothing about keys told to the client.
          throw new Error(`cannot read access key ${accessKeyId}`, { cause: error });
        }
      },
    });
    // Only long-term keys have a last use to report (GetAccessKeyLastUsed).
    if (!temporary)
      users
        .recordKeyUse(verified.accessKeyId, SERVICE_NAMES[plane], verified.signingRegion)
        .catch((error: unknown) =>
          logger.error(
            { err: error, accessKeyId: verified.accessKeyId },
            'could not record the last use of an access key',
          ),
        );
    const { user, mfaAuthenticatedAt, sessionCreatedAt } = verified.principal;
    return callerOf(
      user,
      verified.accessKeyId,
      account.accountId,
      mfaAuthenticatedAt,
      sessionCreatedAt,
    );
  };
}
