import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import {
  acceptedSuites,
  acceptedVersions,
  SIGNATURE_ALGORITHMS,
  TLS_POLICIES,
  bulwarkPolicyName,
  type CertificateKeyType,
  type KeyExchangeGroup,
  type TlsPolicyName,
} from '../../src/tls/policies.js';

/** What Debian's sslscan 2.0.x found on one port, from its XML report. */
export interface SslscanReport {
  /** Every version sslscan probed (SSLv2 … TLSv1.3) and whether the server took it. */
  protocols: Record<string, boolean>;
  /** Accepted suites per version, in the order sslscan found them: the server's preference. */
  suites: Record<string, string[]>;
  /** The suite the server picked when offered every suite sslscan knows, per version. */
  preferred: Record<string, string>;
  /** Key-exchange groups the server accepted when offered one at a time, per version. */
  groups: Record<string, string[]>;
  /** Handshake signature algorithms the server used, per version (sslscan probes TLS 1.3 only). */
  signatureAlgorithms: Record<string, string[]>;
  renegotiationSupported: boolean;
  heartbleedVulnerable: boolean;
}

/** IANA code points of the groups Bulwark's policies name; sslscan reports others by theirs too. */
const GROUP_BY_CODE_POINT: Record<number, KeyExchangeGroup> = {
  0x001d: 'X25519',
  0x0017: 'P-256',
  0x0018: 'P-384',
};

function elements(xml: string, name: string): Record<string, string>[] {
  return [...xml.matchAll(new RegExp(`<${name}\\s([^>]*?)/>`, 'g'))].map((match) =>
    Object.fromEntries(
      [...(match[1] as string).matchAll(/([\w-]+)="([^"]*)"/g)].map((attribute) => [
        attribute[1],
        attribute[2],
      ]),
    ),
  );
}

function push(map: Record<string, string[]>, key: string, value: string): void {
  (map[key] ??= []).push(value);
}

/** Scans 127.0.0.1:port; asynchronous, so a server in this same process can answer. */
export async function sslscan(port: number): Promise<SslscanReport> {
  const { stdout: xml } = await promisify(execFile)(
    'sslscan',
    ['--no-colour', '--show-sigs', '--xml=-', `127.0.0.1:${port}`],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.doesNotMatch(xml, /<error>/, `sslscan reported an error: ${xml}`);
  assert.match(xml, /<ssltest /, `sslscan wrote no result: ${xml}`);

  const report: SslscanReport = {
    protocols: {},
    suites: {},
    preferred: {},
    groups: {},
    signatureAlgorithms: {},
    renegotiationSupported: elements(xml, 'renegotiation').some((r) => r.supported === '1'),
    heartbleedVulnerable: elements(xml, 'heartbleed').some((h) => h.vulnerable === '1'),
  };
  for (const protocol of elements(xml, 'protocol')) {
    const name = `${protocol.type === 'ssl' ? 'SSLv' : 'TLSv'}${protocol.version}`;
    report.protocols[name] = protocol.enabled === '1';
  }
  for (const cipher of elements(xml, 'cipher')) {
    const version = cipher.sslversion as string;
    push(report.suites, version, cipher.cipher as string);
    if (cipher.status === 'preferred') report.preferred[version] = cipher.cipher as string;
  }
  for (const group of elements(xml, 'group')) {
    const codePoint = Number.parseInt(group.id as string, 16);
    push(report.groups, group.sslversion as string, GROUP_BY_CODE_POINT[codePoint] ?? group.name!);
  }
  for (const signature of elements(xml, 'connection-signature-algorithm'))
    push(report.signatureAlgorithms, signature.sslversion as string, signature.name as string);
  return report;
}

/** ECDHE key exchange, AEAD cipher: no CBC, no SHA-1 MAC, no static RSA, no DHE. */
const ECDHE_AEAD_TLS12_SUITE =
  /^ECDHE-(ECDSA|RSA)-(AES128-GCM-SHA256|AES256-GCM-SHA384|CHACHA20-POLY1305)$/;

/**
 * The scan equals the policy's table in both directions: every version, suite and group it names
 * is accepted, and nothing else is.
 */
export function assertScanMatchesPolicy(
  scan: SslscanReport,
  policyName: TlsPolicyName,
  certificate: CertificateKeyType,
  certificateCurve?: KeyExchangeGroup,
): void {
  const policy = TLS_POLICIES[bulwarkPolicyName(policyName)];
  const versions = acceptedVersions(policyName);
  const expectedSuites = acceptedSuites(policyName, certificate);

  assert.deepEqual(
    Object.keys(scan.protocols).filter((version) => scan.protocols[version]),
    versions,
    'enabled protocol versions',
  );
  for (const old of ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1'])
    assert.equal(scan.protocols[old], false, `${old} was probed and refused`);

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    const expected = expectedSuites[version];
    assert.deepEqual(scan.suites[version] ?? [], expected, `${version} suites, in server order`);
    if (expected.length > 0)
      assert.equal(scan.preferred[version], expected[0], `${version}: the server's order wins`);
  }
  for (const suite of scan.suites['TLSv1.2'] ?? [])
    assert.match(suite, ECDHE_AEAD_TLS12_SUITE, 'TLS 1.2 suites are ECDHE with AEAD only');

  if (versions.includes('TLSv1.3')) {
    assert.deepEqual(
      [...(scan.groups['TLSv1.3'] ?? [])].sort(),
      [...policy.groups].sort(),
      'TLS 1.3 key-exchange groups',
    );
    for (const signature of scan.signatureAlgorithms['TLSv1.3'] ?? [])
      assert.ok(
        (SIGNATURE_ALGORITHMS as readonly string[]).includes(signature),
        `TLS 1.3 signature algorithm ${signature} is in the policy`,
      );
  }
  // In TLS 1.2 the client's group list also bounds the curve of an ECDSA certificate, so a probe
  // offering one group succeeds only for the certificate's own curve.
  const tls12Groups = certificateCurve ? [certificateCurve] : [...policy.groups];
  assert.deepEqual(
    [...(scan.groups['TLSv1.2'] ?? [])].sort(),
    versions.includes('TLSv1.2') ? tls12Groups.sort() : [],
    'TLS 1.2 key-exchange groups',
  );
  assert.equal(scan.renegotiationSupported, false, 'renegotiation is refused');
  assert.equal(scan.heartbleedVulnerable, false);
}
