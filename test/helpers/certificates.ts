import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

x509.cryptoProvider.set(webcrypto as never);
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface TestCa {
  certificatePem: string;
  keys: webcrypto.CryptoKeyPair;
  certificate: x509.X509Certificate;
}

export interface TestCertificate {
  certificatePem: string;
  privateKeyPem: string;
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
}

async function pkcs8Pem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

/** A device CA made for one test run; nothing is committed. */
export async function createTestCa(name = 'Test Device CA'): Promise<TestCa> {
  const keys = await keyPair();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    keys: keys as never,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  return { certificatePem: certificate.toString('pem') + '\n', keys, certificate };
}

async function issueCertificate(
  ca: TestCa,
  commonName: string,
  extensions: x509.Extension[],
): Promise<TestCertificate> {
  const keys = await keyPair();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${commonName}`,
    issuer: ca.certificate.subject,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    signingKey: ca.keys.privateKey as never,
    publicKey: keys.publicKey as never,
    signingAlgorithm: ALGORITHM,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true), ...extensions],
  });
  return {
    certificatePem: certificate.toString('pem') + '\n',
    privateKeyPem: await pkcs8Pem(keys.privateKey),
  };
}

/** A device certificate; `extensions` adds to clientAuth (e.g. an OCSP responder in its AIA). */
export function issueClientCertificate(
  ca: TestCa,
  commonName: string,
  extensions: x509.Extension[] = [],
): Promise<TestCertificate> {
  return issueCertificate(ca, commonName, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ...extensions,
  ]);
}

/** A certificate `ca` delegates OCSP signing to (id-kp-OCSPSigning, RFC 6960 §4.2.2.2). */
export function issueOcspSigningCertificate(
  ca: TestCa,
  commonName: string,
): Promise<TestCertificate> {
  return issueCertificate(ca, commonName, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.ocspSigning]),
  ]);
}

/** A server certificate for localhost and 127.0.0.1, as an operator might bring their own. */
export function issueServerCertificate(ca: TestCa, commonName: string): Promise<TestCertificate> {
  return issueCertificate(ca, commonName, [
    new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension([
      { type: 'dns', value: 'localhost' },
      { type: 'ip', value: '127.0.0.1' },
    ]),
  ]);
}

/** Writes PEMs to files, for command-line clients such as mosquitto_pub. */
export function writePems(
  dir: string,
  name: string,
  certificate: TestCertificate,
): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt.pem`);
  const key = join(dir, `${name}.key.pem`);
  writeFileSync(cert, certificate.certificatePem);
  writeFileSync(key, certificate.privateKeyPem, { mode: 0o600 });
  return { cert, key };
}
