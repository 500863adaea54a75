// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import {
  BasicOCSPResponse,
  CertID,
  id_kp_OCSPSigning,
  id_pkix_ocsp_basic,
  id_pkix_ocsp_nonce,
  Nonce,
  OCSPRequest,
  OCSPResponse,
  OCSPResponseStatus,
  Request,
  TBSRequest,
} from '@peculiar/asn1-ocsp';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { AlgorithmIdentifier, Certificate, CRLReasons, Extension } from '@peculiar/asn1-x509';
import * as x509 from '@peculiar/x509';
import { createHash, randomBytes, verify, X509Certificate } from 'node:crypto';
import { issuedBy } from '../x509.js';
import { RevocationFailure } from './verdicts.js';

/**
 * OCSP (RFC 6960) for a client certificate: the request Bulwark sends and the checks it makes of
 * the answer before believing it. ASN.1 through @peculiar/asn1-ocsp, signatures through
 * node:crypto.
 */

/** The CertID hash: SHA-1, the one every responder must support (RFC 5019 §2.1.1); not a signature. */
const CERT_ID_HASH = { oid: '1.3.14.3.2.26', name: 'sha1' } as const;

/** Signature algorithms accepted on a response, with the hash node:crypto verifies them with. */
const SIGNATURE_HASHES: Record<string, string | null> = {
  '1.2.840.113549.1.1.11': 'sha256', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.3.2': 'sha256', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.3.101.112': null, // Ed25519
};

/** How far a responder's clock may run ahead of ours, and how old an answer with no nextUpdate may be. */
const CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface OcspQuery {
  /** The DER OCSPRequest to POST. */
  der: Buffer;
  certId: CertID;
  nonce: Buffer;
}

export type OcspAnswer =
  | { status: 'good'; thisUpdate: number; nextUpdate: number | undefined }
  | { status: 'revoked'; reason: string; thisUpdate: number; nextUpdate: number | undefined }
  | { status: 'unknown'; thisUpdate: number; nextUpdate: number | undefined };

function failure(message: string): RevocationFailure {
  return new RevocationFailure('OCSP_VERIFY_FAILED', message);
}

function hash(name: string, data: ArrayBuffer | Buffer): Buffer {
  return createHash(name)
    .update(Buffer.from(data as ArrayBuffer))
    .digest();
}

/** The responder URLs (http or https) a certificate's Authority Information Access names. */
export function aiaOcspUrls(certificate: X509Certificate): string[] {
  const aia = new x509.X509Certificate(certificate.raw).getExtension(
    x509.AuthorityInfoAccessExtension,
  );
  return (aia?.ocsp ?? [])
    .filter((name) => name.type === 'url' && /^https?:\/\//i.test(name.value))
    .map((name) => name.value);
}

/** A request for one certificate's status, with a fresh nonce (RFC 8954: 32 octets). */
export function ocspQueryFor(certificate: X509Certificate, issuer: X509Certificate): OcspQuery {
  const subject = AsnConvert.parse(certificate.raw, Certificate).tbsCertificate;
  const ca = AsnConvert.parse(issuer.raw, Certificate).tbsCertificate;
  const certId = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithm: CERT_ID_HASH.oid, parameters: null }),
    issuerNameHash: new OctetString(hash(CERT_ID_HASH.name, AsnConvert.serialize(subject.issuer))),
    issuerKeyHash: new OctetString(
      hash(CERT_ID_HASH.name, ca.subjectPublicKeyInfo.subjectPublicKey),
    ),
    serialNumber: subject.serialNumber,
  });
  const nonce = randomBytes(32);
  const request = new OCSPRequest({
    tbsRequest: new TBSRequest({
      requestList: [new Request({ reqCert: certId })],
      requestExtensions: [
        new Extension({
          extnID: id_pkix_ocsp_nonce,
          critical: false,
          extnValue: new OctetString(AsnConvert.serialize(new Nonce(nonce))),
        }),
      ],
    }),
  });
  return { der: Buffer.from(AsnConvert.serialize(request)), certId, nonce };
}

function sameCertId(a: CertID, b: CertID): boolean {
  const bytes = (value: ArrayBuffer | OctetString) =>
    Buffer.from(value instanceof OctetString ? value.buffer : value);
  return (
    a.hashAlgorithm.algorithm === b.hashAlgorithm.algorithm &&
    bytes(a.issuerNameHash).equals(bytes(b.issuerNameHash)) &&
    bytes(a.issuerKeyHash).equals(bytes(b.issuerKeyHash)) &&
    bytes(a.serialNumber).equals(bytes(b.serialNumber))
  );
}

/**
 * The certificate that signed the response, if the responder may answer for `issuer` (RFC 6960
 * §4.2.2.2): the CA itself, or a certificate the CA issued for OCSP signing (id-kp-OCSPSigning),
 * valid at `now`, carried in the response.
 */
function authorisedSigner(
  basic: BasicOCSPResponse,
  issuer: X509Certificate,
  now: number,
): X509Certificate {
  const { responderID } = basic.tbsResponseData;
  const matches = (candidate: X509Certificate) => {
    const tbs = AsnConvert.parse(candidate.raw, Certificate).tbsCertificate;
    if (responderID.byName)
      return Buffer.from(AsnConvert.serialize(responderID.byName)).equals(
        Buffer.from(AsnConvert.serialize(tbs.subject)),
      );
    if (responderID.byKey)
      return Buffer.from(responderID.byKey.buffer).equals(
        hash('sha1', tbs.subjectPublicKeyInfo.subjectPublicKey),
      );
    return false;
  };
  if (matches(issuer)) return issuer;
  for (const carried of basic.certs ?? []) {
    const candidate = new X509Certificate(Buffer.from(AsnConvert.serialize(carried)));
    if (!matches(candidate)) continue;
    if (!issuedBy(candidate, issuer))
      throw failure('the responder certificate was not issued by the CA');
    if (!(candidate.keyUsage ?? []).includes(id_kp_OCSPSigning))
      throw failure('the responder certificate is not for OCSP signing (id-kp-OCSPSigning)');
    if (Date.parse(candidate.validFrom) > now || Date.parse(candidate.validTo) < now)
      throw failure('the responder certificate is not valid now');
    return candidate;
  }
  throw failure('the response is signed by neither the CA nor a responder the CA authorised');
}

function nonceOf(basic: BasicOCSPResponse): Buffer | undefined {
  const extension = basic.tbsResponseData.responseExtensions?.find(
    (candidate) => candidate.extnID === id_pkix_ocsp_nonce,
  );
  if (!extension) return undefined;
  return Buffer.from(AsnConvert.parse(extension.extnValue.buffer, Nonce).buffer);
}

/**
 * Reads a responder's answer to `query` and checks it before believing it: a successful basic
 * response, signed (SHA-256 or stronger, or Ed25519) by the CA or a responder it authorised,
 * about the certificate asked for, with our nonce if it echoes one, and current at `now` (one
 * without nextUpdate must be fresh, or carry our nonce). Any failure is a RevocationFailure.
 */
export function readOcspResponse(
  der: Buffer,
  query: OcspQuery,
  issuer: X509Certificate,
  now: number,
): OcspAnswer {
  let response: OCSPResponse;
  let basic: BasicOCSPResponse;
  try {
    response = AsnConvert.parse(der, OCSPResponse);
  } catch {
    throw failure('the answer is not an OCSP response');
  }
  if (response.responseStatus !== OCSPResponseStatus.successful)
    throw failure(
      `the responder answered ${OCSPResponseStatus[response.responseStatus] ?? response.responseStatus}`,
    );
  if (response.responseBytes?.responseType !== id_pkix_ocsp_basic)
    throw failure('the response is not a basic OCSP response');
  try {
    basic = AsnConvert.parse(response.responseBytes.response.buffer, BasicOCSPResponse);
  } catch {
    throw failure('the basic OCSP response cannot be read');
  }
  const algorithm = basic.signatureAlgorithm.algorithm;
  const digest = SIGNATURE_HASHES[algorithm];
  if (digest === undefined)
    throw failure(`the response is signed with ${algorithm}, which is not accepted`);
  const signer = authorisedSigner(basic, issuer, now);
  if (
    !basic.tbsResponseDataRaw ||
    !verify(
      digest,
      Buffer.from(basic.tbsResponseDataRaw),
      signer.publicKey,
      Buffer.from(basic.signature),
    )
  )
    throw failure("the response's signature does not verify");
  const echoed = nonceOf(basic);
  if (echoed && !echoed.equals(query.nonce))
    throw failure('the response carries another request’s nonce');
  const single = basic.tbsResponseData.responses.find((candidate) =>
    sameCertId(candidate.certID, query.certId),
  );
  if (!single) throw failure('the response does not answer for this certificate');
  const thisUpdate = single.thisUpdate.getTime();
  const nextUpdate = single.nextUpdate?.getTime();
  if (thisUpdate > now + CLOCK_SKEW_MS) throw failure('the response is dated in the future');
  if (nextUpdate !== undefined && nextUpdate < now) throw failure('the response has expired');
  if (nextUpdate === undefined && !echoed && thisUpdate < now - CLOCK_SKEW_MS)
    throw failure('the response has no nextUpdate, no nonce, and is not fresh');
  const { certStatus } = single;
  if (certStatus.revoked) {
    const code = certStatus.revoked.revocationReason?.reason ?? CRLReasons.unspecified;
    return { status: 'revoked', reason: CRLReasons[code] ?? 'unspecified', thisUpdate, nextUpdate };
  }
  if (certStatus.good !== undefined) return { status: 'good', thisUpdate, nextUpdate };
  return { status: 'unknown', thisUpdate, nextUpdate };
}
