import { constants } from 'node:crypto';
import type { SecureContextOptions } from 'node:tls';

/**
 * Named TLS security policies, chosen per listener. A policy's content is frozen under its name
 * (as AWS IoT's are): a stricter set later gets a new name, so upgrading Bulwark never changes
 * what a configured listener accepts. Nothing here goes below TLS 1.2.
 */

/** The protocol versions a policy may enable, oldest first. */
const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

/** The server certificate's key type; a TLS 1.2 suite can only be used with the one it names. */
export type CertificateKeyType = 'ECDSA' | 'RSA';

/** Key-exchange groups by the names OpenSSL (and Node's `ecdhCurve`) take. */
export type KeyExchangeGroup = 'X25519' | 'P-256' | 'P-384';

export interface Tls12Suite {
  /** The OpenSSL name, as Node's `ciphers` option and sslscan spell it. */
  name: string;
  certificate: CertificateKeyType;
}

export interface TlsPolicy {
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
  /** OpenSSL names, in the server's order of preference. */
  tls13Suites: readonly string[];
  /** In the server's order of preference. */
  tls12Suites: readonly Tls12Suite[];
  groups: readonly KeyExchangeGroup[];
}

export const BULWARK_TLS_POLICY_NAMES = ['Bulwark-TLS12-2026', 'Bulwark-TLS13-2026'] as const;
export type BulwarkTlsPolicyName = (typeof BULWARK_TLS_POLICY_NAMES)[number];

/** AWS IoT Core's predefined policy names (section 3 of the data-protection reference). */
export const AWS_IOT_TLS_POLICY_NAMES = [
  'IoTSecurityPolicy_TLS13_1_3_2022_10',
  'IoTSecurityPolicy_TLS13_1_2_2022_10',
  'IoTSecurityPolicy_TLS12_1_2_2022_10',
  'IoTSecurityPolicy_TLS12_1_0_2016_01',
  'IoTSecurityPolicy_TLS12_1_0_2015_01',
  'IoTSecurityPolicy_TLS13_1_2_2022_01',
] as const;
export type AwsIotTlsPolicyName = (typeof AWS_IOT_TLS_POLICY_NAMES)[number];

/** Every name a listener's policy setting accepts. */
export const TLS_POLICY_NAMES = [...BULWARK_TLS_POLICY_NAMES, ...AWS_IOT_TLS_POLICY_NAMES] as const;
export type TlsPolicyName = (typeof TLS_POLICY_NAMES)[number];

export const DEFAULT_TLS_POLICY: BulwarkTlsPolicyName = 'Bulwark-TLS12-2026';

/** All AEAD with forward secrecy by construction; the CCM suites are left out, as Mozilla does. */
const TLS13_SUITES = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
];

/**
 * Mozilla "intermediate" without its DHE-RSA suites: ECDHE only (forward secrecy), AEAD only (no
 * CBC, no SHA-1 MAC), no static RSA. DHE is left out because Bulwark's server certificate is
 * ECDSA, so DHE-RSA could never be negotiated, and any TLS 1.2 client of the last decade has ECDHE.
 */
const TLS12_ECDHE_AEAD_SUITES: Tls12Suite[] = [
  { name: 'ECDHE-ECDSA-AES128-GCM-SHA256', certificate: 'ECDSA' },
  { name: 'ECDHE-RSA-AES128-GCM-SHA256', certificate: 'RSA' },
  { name: 'ECDHE-ECDSA-AES256-GCM-SHA384', certificate: 'ECDSA' },
  { name: 'ECDHE-RSA-AES256-GCM-SHA384', certificate: 'RSA' },
  { name: 'ECDHE-ECDSA-CHACHA20-POLY1305', certificate: 'ECDSA' },
  { name: 'ECDHE-RSA-CHACHA20-POLY1305', certificate: 'RSA' },
];

const GROUPS: KeyExchangeGroup[] = ['X25519', 'P-256', 'P-384'];

/**
 * Handshake signatures the server makes and accepts (client certificates too). SHA-1 and SHA-224
 * are absent, so refusing them does not depend on OpenSSL's security level.
 */
export const SIGNATURE_ALGORITHMS = [
  'ecdsa_secp256r1_sha256',
  'ecdsa_secp384r1_sha384',
  'ecdsa_secp521r1_sha512',
  'ed25519',
  'ed448',
  'rsa_pss_rsae_sha256',
  'rsa_pss_rsae_sha384',
  'rsa_pss_rsae_sha512',
  'rsa_pss_pss_sha256',
  'rsa_pss_pss_sha384',
  'rsa_pss_pss_sha512',
  'rsa_pkcs1_sha256',
  'rsa_pkcs1_sha384',
  'rsa_pkcs1_sha512',
] as const;

export const TLS_POLICIES: Readonly<Record<BulwarkTlsPolicyName, TlsPolicy>> = {
  // Mozilla intermediate without DHE: TLS 1.2 and 1.3, ECDHE with AEAD suites only.
  'Bulwark-TLS12-2026': {
    minVersion: 'TLSv1.2',
    maxVersion: 'TLSv1.3',
    tls13Suites: TLS13_SUITES,
    tls12Suites: TLS12_ECDHE_AEAD_SUITES,
    groups: GROUPS,
  },
  // Mozilla modern: TLS 1.3 only.
  'Bulwark-TLS13-2026': {
    minVersion: 'TLSv1.3',
    maxVersion: 'TLSv1.3',
    tls13Suites: TLS13_SUITES,
    tls12Suites: [],
    groups: GROUPS,
  },
};

/**
 * Each AWS IoT policy name is served by the Bulwark policy at least as strict: every connection it
 * allows is at least as strong as the weakest one the AWS policy allows, and nothing below TLS 1.2
 * or without an AEAD, forward-secret suite is ever accepted.
 */
export const AWS_IOT_TLS_POLICY_ALIASES: Readonly<
  Record<AwsIotTlsPolicyName, BulwarkTlsPolicyName>
> = {
  // Identical: TLS 1.3 only, the same three suites.
  IoTSecurityPolicy_TLS13_1_3_2022_10: 'Bulwark-TLS13-2026',
  // AWS's default. Same protocols; its CBC, SHA-1 and static-RSA TLS 1.2 suites are dropped.
  IoTSecurityPolicy_TLS13_1_2_2022_10: 'Bulwark-TLS12-2026',
  // As above, and TLS 1.3 is added: stronger than any TLS 1.2 suite, so no connection weakens.
  IoTSecurityPolicy_TLS12_1_2_2022_10: 'Bulwark-TLS12-2026',
  // As above; its TLS 1.0 and 1.1 are dropped too.
  IoTSecurityPolicy_TLS12_1_0_2016_01: 'Bulwark-TLS12-2026',
  // As above; its DHE-RSA-AES256-SHA is dropped too.
  IoTSecurityPolicy_TLS12_1_0_2015_01: 'Bulwark-TLS12-2026',
  // GovCloud: its AES-CBC suites are dropped. ChaCha20-Poly1305, which it omits only because FIPS
  // does not approve it, is as strong as AES-GCM; restricting to FIPS algorithms is FIPS mode's job.
  IoTSecurityPolicy_TLS13_1_2_2022_01: 'Bulwark-TLS12-2026',
};

function isAwsIotName(name: TlsPolicyName): name is AwsIotTlsPolicyName {
  return Object.hasOwn(AWS_IOT_TLS_POLICY_ALIASES, name);
}

/** The Bulwark policy that serves `name` (itself, or the one an AWS IoT name maps to). */
export function bulwarkPolicyName(name: TlsPolicyName): BulwarkTlsPolicyName {
  return isAwsIotName(name) ? AWS_IOT_TLS_POLICY_ALIASES[name] : name;
}

/**
 * The Node TLS server options that enforce a policy; spread them next to `cert` and `key`.
 * Session resumption is off (as on AWS IoT): `SSL_OP_NO_TICKET` stops TLS 1.2 tickets, and the
 * TLS 1.3 tickets OpenSSL then issues point into a session cache that Node leaves empty unless a
 * `newSession` listener fills it, which Bulwark never adds. With no resumption there is no 0-RTT
 * either (Node has no API to enable early data). Client-initiated renegotiation, a CPU-exhaustion
 * lever, is refused.
 */
export function tlsServerOptions(name: TlsPolicyName): SecureContextOptions {
  const policy = TLS_POLICIES[bulwarkPolicyName(name)];
  return {
    minVersion: policy.minVersion,
    maxVersion: policy.maxVersion,
    ciphers: [...policy.tls13Suites, ...policy.tls12Suites.map((suite) => suite.name)].join(':'),
    ecdhCurve: policy.groups.join(':'),
    sigalgs: SIGNATURE_ALGORITHMS.join(':'),
    honorCipherOrder: true,
    secureOptions: constants.SSL_OP_NO_TICKET | constants.SSL_OP_NO_RENEGOTIATION,
  };
}

/** The protocol versions a listener under `name` accepts, oldest first. */
export function acceptedVersions(name: TlsPolicyName): TlsVersion[] {
  const policy = TLS_POLICIES[bulwarkPolicyName(name)];
  return TLS_VERSIONS.slice(
    TLS_VERSIONS.indexOf(policy.minVersion),
    TLS_VERSIONS.indexOf(policy.maxVersion) + 1,
  );
}

/**
 * Exactly the suites a scanner must find accepted, per version, on a listener under `name` whose
 * certificate has the given key type, in the server's order of preference.
 */
export function acceptedSuites(
  name: TlsPolicyName,
  certificate: CertificateKeyType,
): Record<TlsVersion, string[]> {
  const policy = TLS_POLICIES[bulwarkPolicyName(name)];
  const versions = acceptedVersions(name);
  return {
    'TLSv1.2': versions.includes('TLSv1.2')
      ? policy.tls12Suites
          .filter((suite) => suite.certificate === certificate)
          .map((suite) => suite.name)
      : [],
    'TLSv1.3': versions.includes('TLSv1.3') ? [...policy.tls13Suites] : [],
  };
}
