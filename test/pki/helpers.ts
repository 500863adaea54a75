// Keys, CSRs and certificates made at test time for the pki tests; nothing is committed.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import {
  createPrivateKey,
  createPublicKey,
  randomBytes,
  webcrypto,
  X509Certificate,
} from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TestCa } from '../helpers/certificates.js';

x509.cryptoProvider.set(webcrypto as never);

const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  return bytes.toString('hex');
}

/** A PKCS #10 request for a new key (EC P-256 unless RSA bits are given). */
export async function createCsr(
  subject: string,
  rsaBits?: number,
): Promise<{ csrPem: string; keys: webcrypto.CryptoKeyPair }> {
  const algorithm =
    rsaBits === undefined
      ? EC_P256
      : {
          name: 'RSASSA-PKCS1-v1_5',
          hash: 'SHA-256',
          publicExponent: new Uint8Array([1, 0, 1]),
          modulusLength: rsaBits,
        };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: subject,
    keys: keys as never,
    signingAlgorithm: algorithm,
  });
  return { csrPem: csr.toString('pem') + '\n', keys };
}

/** A certificate with subject CN=`commonName` signed by `ca` (the verification certificate AWS asks for). */
export async function issueByCa(
  ca: TestCa,
  commonName: string,
  options: { notAfter?: Date } = {},
): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey(EC_P256, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: `CN=${commonName}`,
    issuer: ca.certificate.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: options.notAfter ?? new Date(Date.now() + 86_400_000),
    signingKey: ca.keys.privateKey as never,
    publicKey: keys.publicKey as never,
    signingAlgorithm: EC_P256,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  return certificate.toString('pem') + '\n';
}

/** The SubjectPublicKeyInfo (DER) of a PEM private key, to compare with a certificate's. */
export function publicKeyOfPrivate(privateKeyPem: string): Buffer {
  return createPublicKey(createPrivateKey(privateKeyPem)).export({ type: 'spki', format: 'der' });
}

export function publicKeyOfCertificate(certificatePem: string): Buffer {
  return new X509Certificate(certificatePem).publicKey.export({ type: 'spki', format: 'der' });
}

/** The base64 body of a PEM block, on one line. */
export function pemBody(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}

/** Every file under `dir`, recursively, as raw bytes. */
export function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [{ path, bytes: readFileSync(path) }];
  });
}

/**
 * The files under `dir` holding any 48-character piece of `pem`'s base64 body, or its DER bytes:
 * a stored copy in any layout (one line, 64-column lines, raw) is found.
 */
export function filesHolding(dir: string, pem: string): string[] {
  const body = pemBody(pem);
  const der = Buffer.from(body, 'base64');
  const pieces: string[] = [];
  for (let at = 0; at + 48 <= body.length; at += 48) pieces.push(body.slice(at, at + 48));
  return filesUnder(dir)
    .filter(({ bytes }) => {
      const text = bytes.toString('latin1');
      return bytes.includes(der.subarray(0, 64)) || pieces.some((piece) => text.includes(piece));
    })
    .map(({ path }) => path);
}
