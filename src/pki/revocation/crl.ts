// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import type { X509Certificate } from 'node:crypto';
import { hashProblem } from '../x509.js';
import { normalSerial, RevocationFailure } from './verdicts.js';

/** A CRL whose signature, issuer and dates have been checked: what the handshake needs of it. */
export interface VerifiedCrl {
  /** Epoch ms. */
  thisUpdate: number;
  /** Epoch ms; undefined when the CRL names none (RFC 5280 requires one; OpenSSL accepts it). */
  nextUpdate: number | undefined;
  /** Normalised serial → the reason the CRL gives (`unspecified` when it gives none). */
  revoked: ReadonlyMap<string, string>;
}

/** Extensions of the CRL itself that a complete, directly issued CRL may carry. */
const UNDERSTOOD_CRL_EXTENSIONS = new Set([
  '2.5.29.20', // cRLNumber
  '2.5.29.35', // authorityKeyIdentifier
]);
/** Extensions of an entry Bulwark reads or may ignore (reason code, invalidity date). */
const UNDERSTOOD_ENTRY_EXTENSIONS = new Set(['2.5.29.21', '2.5.29.24']);
const DELTA_CRL_INDICATOR = '2.5.29.27';
const ISSUING_DISTRIBUTION_POINT = '2.5.29.28';

function decode(bytes: Buffer): x509.X509Crl {
  try {
    const text = bytes.subarray(0, 64).toString('latin1');
    const der = text.includes('-----BEGIN')
      ? x509.PemConverter.decodeFirst(bytes.toString('latin1'))
      : bytes;
    return new x509.X509Crl(der);
  } catch {
    throw new RevocationFailure('UNABLE_TO_GET_CRL', 'not a CRL in DER or PEM form');
  }
}

/**
 * Reads a complete CRL issued by `ca` and checks it as OpenSSL would before trusting it: issued
 * under the CA's name, signed by the CA's key with SHA-256 or stronger, current at `now`, no
 * critical extension Bulwark does not implement (delta and partitioned CRLs are refused rather
 * than misread as complete). Any failure is a RevocationFailure naming the OpenSSL reason.
 */
export async function verifiedCrl(
  bytes: Buffer,
  ca: X509Certificate,
  now: number,
): Promise<VerifiedCrl> {
  const crl = decode(bytes);
  const issuer = new x509.X509Certificate(ca.raw);
  if (
    !Buffer.from(crl.issuerName.toArrayBuffer()).equals(
      Buffer.from(issuer.subjectName.toArrayBuffer()),
    )
  )
    throw new RevocationFailure(
      'UNABLE_TO_GET_CRL_ISSUER',
      `the CRL is issued by "${crl.issuer}", not by the CA "${issuer.subject}"`,
    );
  const hash = hashProblem(crl.signatureAlgorithm);
  if (hash) throw new RevocationFailure('CRL_SIGNATURE_FAILURE', hash);
  let signed = false;
  try {
    signed = await crl.verify({ publicKey: issuer });
  } catch {
    signed = false;
  }
  if (!signed)
    throw new RevocationFailure('CRL_SIGNATURE_FAILURE', "the CRL's signature is not the CA's");
  for (const extension of crl.extensions) {
    if (extension.type === DELTA_CRL_INDICATOR)
      throw new RevocationFailure('UNABLE_TO_GET_CRL', 'delta CRLs are not supported');
    if (extension.critical && !UNDERSTOOD_CRL_EXTENSIONS.has(extension.type))
      throw new RevocationFailure(
        'UNABLE_TO_GET_CRL',
        extension.type === ISSUING_DISTRIBUTION_POINT
          ? 'partitioned CRLs (issuing distribution point) are not supported'
          : `the CRL has a critical extension ${extension.type} that is not supported`,
      );
  }
  const thisUpdate = crl.thisUpdate.getTime();
  const nextUpdate = crl.nextUpdate?.getTime();
  if (thisUpdate > now)
    throw new RevocationFailure(
      'CRL_NOT_YET_VALID',
      `the CRL's thisUpdate ${crl.thisUpdate.toISOString()} is in the future`,
    );
  if (nextUpdate !== undefined && nextUpdate < now)
    throw new RevocationFailure(
      'CRL_HAS_EXPIRED',
      `the CRL's nextUpdate ${new Date(nextUpdate).toISOString()} has passed`,
    );
  const revoked = new Map<string, string>();
  for (const entry of crl.entries) {
    if (entry.extensions.some((e) => e.critical && !UNDERSTOOD_ENTRY_EXTENSIONS.has(e.type)))
      throw new RevocationFailure(
        'UNABLE_TO_GET_CRL',
        'a CRL entry has a critical extension that is not supported (indirect CRLs are not)',
      );
    // OpenSSL's reading too: an entry marked removeFromCRL does not revoke.
    if (entry.reason === x509.X509CrlReason.removeFromCRL) continue;
    revoked.set(
      normalSerial(entry.serialNumber),
      entry.reason === undefined ? 'unspecified' : x509.X509CrlReason[entry.reason],
    );
  }
  return { thisUpdate, nextUpdate, revoked };
}
