import type { IamUserCaller } from '../api/operation.js';
import { ADMIN_USER_NAME } from './administrator.js';

export interface AuthorizationDecision {
  allowed: boolean;
  /** Why not, in AWS's words (`because no identity-based policy allows the … action`). */
  reason?: string;
}

/**
 * The one authorization seam every API call by an IAM user passes through: may `caller` perform
 * `action` (`iot:CreateThing`) on `resource` (an ARN, or `*`)? IAM policy evaluation plugs in
 * here. (Devices calling the data plane with a certificate are judged by their IoT policies.)
 */
export interface Authorizer {
  authorize(
    caller: IamUserCaller,
    action: string,
    resource: string,
  ): Promise<AuthorizationDecision>;
}

/**
 * Until IAM policies exist: the administrator created at init may do everything, anyone else
 * nothing (deny by default).
 */
export const administratorOnly: Authorizer = {
  async authorize(caller, action) {
    if (caller.userName === ADMIN_USER_NAME) return { allowed: true };
    return {
      allowed: false,
      reason: `because no identity-based policy allows the ${action} action`,
    };
  },
};
