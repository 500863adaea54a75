import type { IamUserCaller, Operation } from '../api/operation.js';
import { verifySigV4, type ReceivedRequest, type SigningNames } from './sigv4.js';
import type { IamUser, IamUsers } from './users.js';

export type Plane = Operation['plane'];

/**
 * The signing names real clients put in the credential scope (aws-iot-behaviour.md §12): the
 * AWS CLI v2 signs the control plane as `execute-api`, the CLI v1 and the JS SDK v3 as `iot`;
 * every client signs the data plane as `iotdata`, and WebSocket URLs as `iotdevicegateway`.
 */
export const SIGNING_NAMES: Record<Plane, SigningNames> = {
  control: { header: ['iot', 'execute-api'], presigned: ['iot', 'execute-api'] },
  data: { header: ['iotdata'], presigned: ['iotdata', 'iotdevicegateway'] },
};

/** Establishes who sent a request on `plane`, or throws the AWS error saying why not. */
export type Authenticate = (request: ReceivedRequest, plane: Plane) => Promise<IamUserCaller>;

export function callerOf(user: IamUser, accessKeyId: string, accountId: string): IamUserCaller {
  return {
    type: 'IAMUser',
    userName: user.userName,
    arn: `arn:aws:iam::${accountId}:user/${user.userName}`,
    accessKeyId,
    principalId: user.userId,
    mfaAuthenticated: false,
  };
}

/** SigV4 against the access keys in the store, looked up on every request. */
export function sigV4Authenticator(
  users: IamUsers,
  account: { region: string; accountId: string },
  now?: () => number,
): Authenticate {
  return async (request, plane) => {
    const verified = await verifySigV4(request, {
      region: account.region,
      signingNames: SIGNING_NAMES[plane],
      ...(now ? { now } : {}),
      async resolve(accessKeyId, sessionToken) {
        // No temporary credentials are issued yet, so a session token cannot be valid.
        if (sessionToken !== undefined) return undefined;
        let key;
        try {
          key = await users.findActiveKey(accessKeyId);
        } catch (error) {
          // A secret that cannot be opened (its KMS key disabled, say) is the server's fault, not
          // the caller's: a 500 that is logged, and nothing about keys told to the client.
          throw new Error(`cannot read access key ${accessKeyId}`, { cause: error });
        }
        return key && { secretAccessKey: key.secretAccessKey, principal: key.user };
      },
    });
    return callerOf(verified.principal, verified.accessKeyId, account.accountId);
  };
}
