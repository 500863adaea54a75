/**
 * Why a certificate's revocation status refuses it, in OpenSSL's verify-error names so that logs
 * read alike whether OpenSSL or Bulwark refused the handshake (`openssl verify` prints the same).
 */
export type RevocationReason =
  | 'CERT_REVOKED'
  | 'UNABLE_TO_GET_CRL'
  | 'UNABLE_TO_GET_CRL_ISSUER'
  | 'CRL_SIGNATURE_FAILURE'
  | 'CRL_NOT_YET_VALID'
  | 'CRL_HAS_EXPIRED'
  | 'OCSP_VERIFY_FAILED'
  | 'OCSP_CERT_UNKNOWN';

/** A certificate's revocation status: good, or a refusal with its reason and what led to it. */
export type RevocationStatus =
  { good: true } | { good: false; reason: RevocationReason; detail: string };

/** A CRL or OCSP answer that cannot be used, or a source that cannot be reached. */
export class RevocationFailure extends Error {
  readonly reason: RevocationReason;

  constructor(reason: RevocationReason, message: string) {
    super(message);
    this.name = 'RevocationFailure';
    this.reason = reason;
  }

  get status(): RevocationStatus {
    return { good: false, reason: this.reason, detail: this.message };
  }
}

/** Serial numbers compared as OpenSSL prints them apart from case and leading zeros. */
export function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}
