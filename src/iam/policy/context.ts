import type { ContextReader } from '../../policy/context-keys.js';

/**
 * What an IAM policy can know about an API call: the request context (IAM
 * reference_policies_evaluation-logic "request context"; reference_policies_condition-keys for
 * the global keys). The caller fills it from the authenticated request; everything it leaves
 * out stays absent, so conditions on it take IAM's absent-key semantics.
 */

/** `aws:PrincipalType` values (reference_policies_condition-keys#condition-keys-principaltype). */
export type IamPrincipalType = 'Account' | 'User' | 'FederatedUser' | 'AssumedRole' | 'Anonymous';

export interface IamPrincipal {
  /** `aws:PrincipalArn`, e.g. `arn:aws:iam::123456789012:user/alice`; also `aws:PrincipalAccount`. */
  arn: string;
  /** `aws:userid`: an IAM user's unique id (`AIDA…`). */
  userId: string;
  /** `aws:username`: present for IAM users only. */
  userName?: string;
  type: IamPrincipalType;
}

/**
 * How the request was signed. Long-term access keys carry no MFA context at all:
 * `aws:MultiFactorAuthPresent` is then absent, not "false" — which is why AWS's examples deny
 * with `BoolIfExists … "false"`. Temporary credentials carry "true" when they were issued with
 * MFA (GetSessionToken with SerialNumber and TokenCode), "false" otherwise.
 */
export type IamCredentials =
  | { type: 'long-term' }
  | {
      type: 'temporary';
      /** When the session's MFA code was verified; absent: issued without MFA. */
      mfaAuthenticatedAt?: Date;
    };

export interface IamRequestContext {
  /** `aws:CurrentTime` and `aws:EpochTime`, and the reference for `aws:MultiFactorAuthAge`. */
  currentTime: Date;
  principal?: IamPrincipal;
  credentials?: IamCredentials;
  /** `aws:SourceIp`: the caller's address. */
  sourceIp?: string;
  /** `aws:SecureTransport`: whether the request came over TLS. */
  secureTransport?: boolean;
  /** `aws:RequestedRegion`: the region the request was signed for. */
  requestedRegion?: string;
  /**
   * Any further condition keys of the request (service keys such as `iot:thingName`,
   * `aws:RequestTag/…`), by name, matched case-insensitively as IAM matches key names. The keys
   * the fields above provide are read from those fields only: an entry here cannot stand in for
   * them (a long-term key's absent `aws:MultiFactorAuthPresent` stays absent).
   */
  keys?: Readonly<Record<string, string | readonly string[]>>;
}

type IamReader = ContextReader<IamRequestContext>;

/** `2026-11-28T19:37:42Z`: ISO 8601 to the second, as AWS renders `aws:CurrentTime`. */
function isoSeconds(time: Date): string {
  return time.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function mfaAuthenticatedAt(context: IamRequestContext): Date | undefined {
  const credentials = context.credentials;
  return credentials?.type === 'temporary' ? credentials.mfaAuthenticatedAt : undefined;
}

/** The global keys the request context's fields provide, by lower-case name. */
const GLOBAL_KEYS = new Map<string, IamReader>([
  ['aws:currenttime', (context) => isoSeconds(context.currentTime)],
  ['aws:epochtime', (context) => String(Math.floor(context.currentTime.getTime() / 1000))],
  [
    'aws:multifactorauthpresent',
    (context) =>
      context.credentials?.type === 'temporary'
        ? String(mfaAuthenticatedAt(context) !== undefined)
        : undefined,
  ],
  [
    'aws:multifactorauthage',
    (context) => {
      const at = mfaAuthenticatedAt(context);
      if (at === undefined) return undefined;
      return String(Math.max(0, Math.floor((context.currentTime.getTime() - at.getTime()) / 1000)));
    },
  ],
  ['aws:sourceip', (context) => context.sourceIp],
  [
    'aws:securetransport',
    (context) =>
      context.secureTransport === undefined ? undefined : String(context.secureTransport),
  ],
  ['aws:requestedregion', (context) => context.requestedRegion],
  ['aws:username', (context) => context.principal?.userName],
  ['aws:userid', (context) => context.principal?.userId],
  ['aws:principalarn', (context) => context.principal?.arn],
  ['aws:principaltype', (context) => context.principal?.type],
  ['aws:principalaccount', (context) => context.principal?.arn.split(':')[4]],
  // No service calls Bulwark on a principal's behalf; AWS always sets the key (e.g. the
  // "deny outside these IP ranges" example conditions on it being false).
  ['aws:viaawsservice', () => 'false'],
]);

/** A request key by name, case-insensitively. */
function requestKey(name: string): IamReader {
  const lower = name.toLowerCase();
  return (context) => {
    const keys = context.keys;
    if (keys === undefined) return undefined;
    if (Object.hasOwn(keys, name)) return keys[name];
    for (const [key, value] of Object.entries(keys)) if (key.toLowerCase() === lower) return value;
    return undefined;
  };
}

/** IAM's condition keys and policy variables (a ContextKeys<IamRequestContext>). */
export function iamContextReader(key: string): IamReader {
  return GLOBAL_KEYS.get(key.toLowerCase()) ?? requestKey(key);
}
