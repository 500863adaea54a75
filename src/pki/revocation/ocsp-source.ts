import type { X509Certificate } from 'node:crypto';
import type { Logger } from '../../logs/logger.js';
import { certificateIdOf } from '../x509.js';
import { describeUrl, fetchBytes } from './fetch.js';
import { aiaOcspUrls, ocspQueryFor, readOcspResponse, type OcspAnswer } from './ocsp.js';
import { RevocationFailure, type RevocationStatus } from './verdicts.js';

/** A handshake waits this long at most for the responder. */
const QUERY_LIMITS = { timeoutMs: 5000, maxBytes: 1024 * 1024 };
/** Answers kept at once; the oldest goes first beyond it. */
const MAX_CACHED_ANSWERS = 100_000;

/**
 * One CA's OCSP responder: a fixed URL, or the one each certificate names in its Authority
 * Information Access (`aia`; only certificates the CA is known to have issued get here, so the
 * URL is the CA's word). Verified answers are kept until their nextUpdate, at most `refreshMs`;
 * failures are not kept, and concurrent handshakes of one certificate share one query.
 */
export class OcspSource {
  private readonly responder: URL | 'aia';
  private readonly refreshMs: number;
  private readonly logger: Logger;
  private readonly answers = new Map<string, { answer: OcspAnswer; until: number; url: string }>();
  private readonly pending = new Map<string, Promise<RevocationStatus>>();

  constructor(options: { responder: URL | 'aia'; refreshMs: number; logger: Logger }) {
    this.responder = options.responder;
    this.refreshMs = options.refreshMs;
    this.logger = options.logger;
  }

  async status(certificate: X509Certificate, ca: X509Certificate): Promise<RevocationStatus> {
    const key = certificateIdOf(certificate);
    const cached = this.answers.get(key);
    if (cached && cached.until > Date.now()) return statusOf(cached.answer, cached.url);
    let query = this.pending.get(key);
    if (!query) {
      query = this.query(key, certificate, ca).finally(() => this.pending.delete(key));
      this.pending.set(key, query);
    }
    return query;
  }

  private responderFor(certificate: X509Certificate): URL {
    if (this.responder !== 'aia') return this.responder;
    const [url] = aiaOcspUrls(certificate);
    if (url === undefined)
      throw new RevocationFailure(
        'OCSP_VERIFY_FAILED',
        'the certificate names no OCSP responder (Authority Information Access)',
      );
    return new URL(url);
  }

  private async query(
    key: string,
    certificate: X509Certificate,
    ca: X509Certificate,
  ): Promise<RevocationStatus> {
    let where = 'the OCSP responder';
    try {
      const url = this.responderFor(certificate);
      where = describeUrl(url);
      const query = ocspQueryFor(certificate, ca);
      let der: Buffer;
      try {
        der = await fetchBytes(
          url,
          {
            method: 'POST',
            accept: 'application/ocsp-response',
            contentType: 'application/ocsp-request',
            body: query.der,
          },
          QUERY_LIMITS,
        );
      } catch (error) {
        throw new RevocationFailure('OCSP_VERIFY_FAILED', (error as Error).message);
      }
      const now = Date.now();
      const answer = readOcspResponse(der, query, ca, now);
      const until = Math.min(answer.nextUpdate ?? Infinity, now + this.refreshMs);
      if (this.answers.size >= MAX_CACHED_ANSWERS)
        this.answers.delete(this.answers.keys().next().value as string);
      this.answers.set(key, { answer, until, url: where });
      return statusOf(answer, where);
    } catch (error) {
      const failure =
        error instanceof RevocationFailure
          ? error
          : new RevocationFailure('OCSP_VERIFY_FAILED', (error as Error).message);
      this.logger.warn(
        { ocsp: where, reason: failure.reason, detail: failure.message },
        'OCSP status could not be established; the certificate is refused',
      );
      return { good: false, reason: failure.reason, detail: `OCSP ${where}: ${failure.message}` };
    }
  }
}

function statusOf(answer: OcspAnswer, where: string): RevocationStatus {
  switch (answer.status) {
    case 'good':
      return { good: true };
    case 'revoked':
      return {
        good: false,
        reason: 'CERT_REVOKED',
        detail: `the OCSP responder ${where} says revoked (${answer.reason})`,
      };
    case 'unknown':
      return {
        good: false,
        reason: 'OCSP_CERT_UNKNOWN',
        detail: `the OCSP responder ${where} does not know the certificate`,
      };
  }
}
