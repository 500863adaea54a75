export { ADMIN_USER_NAME, adminCredentialsPath, ensureAdministrator } from './administrator.js';
export {
  SIGNING_NAMES,
  callerOf,
  sigV4Authenticator,
  type Authenticate,
  type Plane,
} from './authenticate.js';
export { administratorOnly, type AuthorizationDecision, type Authorizer } from './authorize.js';
export { iamMigrations } from './migrations.js';
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
} from './users.js';
