// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { Store } from '../store/index.js';
import { SERVER_IDENTITY_TABLE } from './migrations.js';

x509.cryptoProvider.set(webcrypto as never);

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const CA_YEARS = 10;
const SERVER_DAYS = 397;

export interface ServerIdentity {
  caCertificatePem: string;
  certificatePem: string;
  privateKeyPem: string;
}

/** Where clients find the CA certificate that signs Bulwark's server certificates. */
export function serverCaPath(dataDir: string): string {
  return join(dataDir, 'pki', 'server-ca.pem');
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}

async function privateKeyPem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`;
}

async function generateKeys(): Promise<webcrypto.CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    'sign',
    'verify',
  ])) as unknown as webcrypto.CryptoKeyPair;
}

async function issue(hostNames: string[]): Promise<{
  ca: x509.X509Certificate;
  caKeys: webcrypto.CryptoKeyPair;
  cert: x509.X509Certificate;
  keys: webcrypto.CryptoKeyPair;
}> {
  const now = new Date();
  const caKeys = await generateKeys();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: 'CN=Bulwark Server CA',
    notBefore: now,
    notAfter: new Date(now.getTime() + CA_YEARS * 365 * 86_400_000),
    keys: caKeys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = await generateKeys();
  const names = [...new Set(['localhost', '127.0.0.1', '::1', ...hostNames])];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: 'CN=localhost',
    issuer: ca.subject,
    notBefore: now,
    notAfter: new Date(now.getTime() + SERVER_DAYS * 86_400_000),
    signingKey: caKeys.privateKey,
    publicKey: keys.publicKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        names.map((name) => ({ type: isIP(name) ? 'ip' : 'dns', value: name })),
      ),
      await x509.AuthorityKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  return { ca, caKeys, cert, keys };
}

/**
 * The server CA and server certificate, created on first start. Both private keys are sealed in
 * the store; only the CA certificate is written out, for clients to trust.
 */
export async function ensureServerIdentity(
  store: Store,
  dataDir: string,
  hostNames: string[],
): Promise<ServerIdentity> {
  let row = await store.get(SERVER_IDENTITY_TABLE, { id: 'server' });
  if (!row) {
    const { ca, caKeys, cert, keys } = await issue(hostNames);
    row = {
      id: 'server',
      created_at: Date.now(),
      ca_certificate_pem: ca.toString('pem') + '\n',
      ca_private_key_pem: await privateKeyPem(caKeys.privateKey),
      certificate_pem: cert.toString('pem') + '\n',
      private_key_pem: await privateKeyPem(keys.privateKey),
    };
    await store.put(SERVER_IDENTITY_TABLE, row);
  }
  mkdirSync(join(dataDir, 'pki'), { recursive: true, mode: 0o700 });
  writeFileSync(serverCaPath(dataDir), row.ca_certificate_pem as string, { mode: 0o644 });
  return {
    caCertificatePem: row.ca_certificate_pem as string,
    certificatePem: row.certificate_pem as string,
    privateKeyPem: row.private_key_pem as string,
  };
}
