// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { createPublicKey, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { BulwarkError } from '../errors.js';

x509.cryptoProvider.set(webcrypto as never);

/**
 * Reading and checking X.509 certificates and CSRs handed to the API: one PEM block each, keys
 * and signature algorithms AWS IoT accepts (RSA of 2048 bits or more, EC P-256 or P-384; SHA-256,
 * SHA-384 or SHA-512), validity, issuer signatures. Messages never quote the PEM.
 */

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const CSR_BLOCK =
  /-----BEGIN (?:NEW )?CERTIFICATE REQUEST-----[\s\S]*?-----END (?:NEW )?CERTIFICATE REQUEST-----/g;
const ACCEPTED_HASHES = new Set(['SHA-256', 'SHA-384', 'SHA-512']);
const ACCEPTED_CURVES = new Set(['prime256v1', 'secp384r1']);
const MIN_RSA_BITS = 2048;

export function certificateValidation(message: string): BulwarkError {
  return new BulwarkError('CertificateValidation', message);
}

/** AWS IoT's certificate id: the lowercase hex SHA-256 of the DER certificate. */
export function certificateIdOf(certificate: X509Certificate): string {
  // OpenSSL's SHA-256 fingerprint is that hash: reading `raw` instead would leave a copy of the
  // certificate cached on the object, which a live connection keeps (about 1 KiB each).
  return certificate.fingerprint256.replace(/:/g, '').toLowerCase();
}

/** A PEM certificate as Node reads it, with a trailing newline as AWS returns it. */
export function pemOf(certificate: X509Certificate): string {
  return certificate.toString().trimEnd() + '\n';
}

/** Exactly one PEM certificate; anything else is AWS's CertificateValidationException. */
export function parseCertificatePem(pem: string, what: string): X509Certificate {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length !== 1)
    throw certificateValidation(`The ${what} must hold exactly one PEM-encoded X.509 certificate`);
  try {
    return new X509Certificate(blocks[0] as string);
  } catch {
    throw certificateValidation(`The ${what} is not a valid X.509 certificate`);
  }
}

/** Why a public key is not one AWS IoT accepts; undefined when it is. */
export function keyProblem(key: KeyObject): string | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss') {
    return (details.modulusLength ?? 0) >= MIN_RSA_BITS
      ? undefined
      : `RSA keys must have at least ${MIN_RSA_BITS} bits`;
  }
  if (key.asymmetricKeyType === 'ec') {
    return ACCEPTED_CURVES.has(details.namedCurve ?? '')
      ? undefined
      : 'EC keys must be on the NIST P-256 or P-384 curve';
  }
  return 'The key must be an RSA or EC key';
}

/** Why a signature's hash is not one AWS IoT (and Bulwark) accepts; undefined when it is. */
export function hashProblem(algorithm: x509.HashedAlgorithm): string | undefined {
  const hash = (algorithm.hash as { name?: string } | undefined)?.name ?? '';
  return ACCEPTED_HASHES.has(hash)
    ? undefined
    : 'The signature algorithm must use SHA-256, SHA-384 or SHA-512';
}

/**
 * Checks what AWS IoT checks of a certificate it is asked to register or trust: an accepted key
 * and signature algorithm, and a validity period that includes `now`.
 */
export function checkCertificate(certificate: X509Certificate, what: string, now: number): void {
  const problem = keyProblem(certificate.publicKey);
  if (problem) throw certificateValidation(`The ${what} is not supported: ${problem}`);
  let signature: x509.HashedAlgorithm;
  try {
    signature = new x509.X509Certificate(certificate.raw).signatureAlgorithm;
  } catch {
    throw certificateValidation(`The ${what} is signed with an unsupported algorithm`);
  }
  const hash = hashProblem(signature);
  if (hash) throw certificateValidation(`The ${what} is not supported: ${hash}`);
  if (Date.parse(certificate.validFrom) > now)
    throw certificateValidation(`The ${what} is not yet valid`);
  if (Date.parse(certificate.validTo) < now) throw certificateValidation(`The ${what} has expired`);
}

/** True when `issuer` issued `certificate`: names chain and the signature verifies. */
export function issuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** The subject's first common name, if any. */
export function commonNameOf(certificate: X509Certificate): string | undefined {
  return new x509.X509Certificate(certificate.raw).subjectName.getField('CN')[0];
}

export interface CertificateRequest {
  /** The subject as the CSR names it, to copy into the certificate. */
  subject: x509.Name;
  /** SubjectPublicKeyInfo, DER. */
  publicKeySpki: ArrayBuffer;
}

/** A PKCS #10 request whose self-signature verifies and whose key AWS IoT accepts. */
export async function parseCertificateRequest(pem: string): Promise<CertificateRequest> {
  const blocks = pem.match(CSR_BLOCK) ?? [];
  if (blocks.length !== 1)
    throw new BulwarkError(
      'InvalidRequest',
      'The certificate signing request must be one PEM-encoded PKCS #10 request',
    );
  let request: x509.Pkcs10CertificateRequest;
  try {
    request = new x509.Pkcs10CertificateRequest((blocks[0] as string).replace(/NEW /g, ''));
  } catch {
    throw new BulwarkError('InvalidRequest', 'The certificate signing request is not valid');
  }
  let verified = false;
  try {
    verified = await request.verify();
  } catch {
    verified = false;
  }
  if (!verified)
    throw new BulwarkError(
      'InvalidRequest',
      'The certificate signing request is not signed by the key it holds',
    );
  const publicKeySpki = request.publicKey.rawData;
  const key = createPublicKey({ key: Buffer.from(publicKeySpki), format: 'der', type: 'spki' });
  const problem = keyProblem(key) ?? hashProblem(request.signatureAlgorithm);
  if (problem)
    throw new BulwarkError(
      'InvalidRequest',
      `The certificate signing request is not supported: ${problem}`,
    );
  return { subject: request.subjectName, publicKeySpki };
}
