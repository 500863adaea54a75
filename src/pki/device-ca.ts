// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto, X509Certificate } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isBulwarkError } from '../errors.js';
import type { Store } from '../store/index.js';
import { DEVICE_CA_TABLE } from './migrations.js';

x509.cryptoProvider.set(webcrypto as never);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/**
 * AWS IoT's own device certificates are valid until the end of 2049; Bulwark's are too, so the
 * device CA that signs them lives exactly as long.
 */
export const DEVICE_CERTIFICATE_NOT_AFTER = new Date(Date.UTC(2049, 11, 31, 23, 59, 59));

/** The CA that signs the certificates CreateKeysAndCertificate and CreateCertificateFromCsr issue. */
export interface DeviceCa {
  certificatePem: string;
  certificate: X509Certificate;
  /** Non-extractable: it signs, and it never leaves the process again. */
  signingKey: webcrypto.CryptoKey;
}

/** Where operators find the device CA certificate (the private key stays sealed in the store). */
export function deviceCaPath(dataDir: string): string {
  return join(dataDir, 'pki', 'device-ca.pem');
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}

function pkcs8Pem(der: ArrayBuffer): string {
  return `-----BEGIN PRIVATE KEY-----\n${Buffer.from(der)
    .toString('base64')
    .replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

function pkcs8Der(pem: string): Buffer {
  return Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
}

async function createDeviceCa(): Promise<{ certificatePem: string; privateKeyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    'sign',
    'verify',
  ])) as unknown as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: 'CN=Bulwark Device CA',
    notBefore: new Date(),
    notAfter: DEVICE_CERTIFICATE_NOT_AFTER,
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certificatePem: certificate.toString('pem') + '\n',
    privateKeyPem: pkcs8Pem(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)),
  };
}

/**
 * The device CA, created on first start (a CA of its own, apart from the server CA): its private
 * key is sealed in the store, its certificate written to `deviceCaPath` for operators to see.
 */
export async function ensureDeviceCa(store: Store, dataDir: string): Promise<DeviceCa> {
  let row = await store.get(DEVICE_CA_TABLE, { id: 'device' });
  if (!row) {
    const created = await createDeviceCa();
    try {
      await store.insert(DEVICE_CA_TABLE, {
        id: 'device',
        created_at: Date.now(),
        certificate_pem: created.certificatePem,
        private_key_pem: created.privateKeyPem,
      });
    } catch (error) {
      // Another process initialising the same data dir got there first; its CA stands.
      if (!isBulwarkError(error, 'StoreConstraint')) throw error;
    }
    row = await store.get(DEVICE_CA_TABLE, { id: 'device' });
    if (!row) throw new Error('the device CA could not be stored');
  }
  const certificatePem = row.certificate_pem as string;
  mkdirSync(join(dataDir, 'pki'), { recursive: true, mode: 0o700 });
  writeFileSync(deviceCaPath(dataDir), certificatePem, { mode: 0o644 });
  const signingKey = await webcrypto.subtle.importKey(
    'pkcs8',
    pkcs8Der(row.private_key_pem as string),
    { name: 'ECDSA', namedCurve: 'P-256' },
    false,
    ['sign'],
  );
  return { certificatePem, certificate: new X509Certificate(certificatePem), signingKey };
}

/**
 * A device certificate for `publicKeySpki` (DER), signed by the device CA, for TLS client
 * authentication, valid until the end of 2049 as AWS IoT's are.
 */
export async function issueDeviceCertificate(
  ca: DeviceCa,
  subject: string | x509.Name,
  publicKeySpki: ArrayBuffer,
): Promise<X509Certificate> {
  const caCertificate = new x509.X509Certificate(ca.certificate.raw);
  const issued = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject,
    issuer: caCertificate.subjectName,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: DEVICE_CERTIFICATE_NOT_AFTER,
    signingKey: ca.signingKey,
    publicKey: publicKeySpki,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
      await x509.SubjectKeyIdentifierExtension.create(publicKeySpki),
      await x509.AuthorityKeyIdentifierExtension.create(caCertificate.publicKey),
    ],
  });
  return new X509Certificate(issued.toString('pem'));
}
