import type { Store } from '../../store/index.js';
import { IamArns } from '../arns.js';
import { IamGroups } from '../groups.js';
import { IamInlinePolicies } from '../inline-policies.js';
import { IamManagedPolicies } from '../managed-policies.js';
import type { MfaVerifier } from '../mfa-verifier.js';
import { IamSessions } from '../sessions.js';
import { IamUsers, type UserReference } from '../users.js';

/** What the IAM and STS Query actions work on. */
export interface IamQueryServices {
  arns: IamArns;
  users: IamUsers;
  groups: IamGroups;
  inlinePolicies: IamInlinePolicies;
  managedPolicies: IamManagedPolicies;
  sessions: IamSessions;
  /** Checks GetSessionToken's MFA codes; without it, GetSessionToken refuses SerialNumber. */
  mfaVerifier?: MfaVerifier;
}

export interface IamQueryServicesOptions {
  /** Other modules' rows that refer to users (MFA devices, login profiles): DeleteUser waits for them. */
  userReferences?: readonly UserReference[];
  mfaVerifier?: MfaVerifier;
  now?: () => number;
}

/** The IAM stores over one data dir's store, for the Query actions and SigV4. */
export function createIamQueryServices(
  store: Store,
  accountId: string,
  options: IamQueryServicesOptions = {},
): IamQueryServices {
  const now = options.now ?? Date.now;
  const arns = new IamArns(accountId);
  const users = new IamUsers(store, {
    now,
    ...(options.userReferences ? { references: options.userReferences } : {}),
  });
  return {
    arns,
    users,
    groups: new IamGroups(store, users, now),
    inlinePolicies: new IamInlinePolicies(store, now),
    managedPolicies: new IamManagedPolicies(store, arns, now),
    sessions: new IamSessions(store, users, now),
    ...(options.mfaVerifier ? { mfaVerifier: options.mfaVerifier } : {}),
  };
}
