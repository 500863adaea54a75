import type { Config } from '../config/index.js';
import type { Logger } from '../logs/logger.js';
import type { Store } from '../store/index.js';
import { ConsoleSignIn } from './console-sign-in.js';
import { VirtualMfaDevices } from './mfa.js';
import { DEFAULT_SCRYPT } from './password-hash.js';
import { LoginProfiles } from './passwords.js';
import { IamUsers } from './users.js';

/** Operators' second factors and passwords, and the console sign-in built on them. */
export interface CredentialServices {
  /** Also the MfaVerifier STS GetSessionToken checks codes with. */
  mfaDevices: VirtualMfaDevices;
  loginProfiles: LoginProfiles;
  consoleSignIn: ConsoleSignIn;
}

/** The credential services over one data dir's store, as `config.iam` sets them. */
export function createCredentialServices(
  store: Store,
  config: Pick<Config, 'accountId' | 'iam'>,
  logger: Logger,
  now: () => number = Date.now,
): CredentialServices {
  const { lockout } = config.iam;
  const users = new IamUsers(store);
  const mfaDevices = new VirtualMfaDevices({
    store,
    accountId: config.accountId,
    users,
    lockout,
    logger,
    now,
  });
  const loginProfiles = new LoginProfiles({
    store,
    users,
    policy: config.iam.passwordPolicy,
    hashing: { ...DEFAULT_SCRYPT, ln: config.iam.passwordScryptLogN },
    lockout,
    logger,
    now,
  });
  const consoleSignIn = new ConsoleSignIn({
    profiles: loginProfiles,
    mfaDevices,
    users,
    requireMfa: config.iam.requireMfaForConsole,
    sourceLimit: {
      failuresPerWindow: lockout.sourceFailuresPerWindow,
      windowMs: lockout.sourceWindowMs,
    },
    logger,
    now,
  });
  return { mfaDevices, loginProfiles, consoleSignIn };
}
