export { ADMIN_USER_NAME, adminCredentialsPath, ensureAdministrator } from './administrator.js';
export { IamArns } from './arns.js';
export {
  SIGNING_NAMES,
  callerOf,
  sigV4Authenticator,
  type Authenticate,
  type Plane,
  type SigV4AuthenticatorOptions,
} from './authenticate.js';
export { IamAuthorizer, type AuthorizationDecision, type Authorizer } from './authorize.js';
export { IamGroups, type IamGroup } from './groups.js';
export { IamInlinePolicies, type InlinePolicy, type PolicyHolder } from './inline-policies.js';
export { IamManagedPolicies, type ManagedPolicy } from './managed-policies.js';
export type { MfaVerifier } from './mfa-verifier.js';
export { iamMigrations } from './migrations.js';
export { IamSessions, isTemporaryKey, type SessionCredentials } from './sessions.js';
export {
  MAX_CLOCK_SKEW_MS,
  verifySigV4,
  type ReceivedRequest,
  type SigningNames,
  type VerifiedRequest,
} from './sigv4.js';
export {
  IamUsers,
  MAX_ACCESS_KEYS_PER_USER,
  type AccessKeyMetadata,
  type IamUser,
  type NewAccessKey,
  type UserReference,
} from './users.js';
