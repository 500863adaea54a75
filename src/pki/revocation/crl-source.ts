import type { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile } from 'node:fs';
import type { Logger } from '../../logs/logger.js';
import { verifiedCrl, type VerifiedCrl } from './crl.js';
import { describeUrl, fetchBytes } from './fetch.js';
import { normalSerial, RevocationFailure, type RevocationStatus } from './verdicts.js';

/** Where a CRL comes from: a file (polled, so an atomic rename is seen) or an HTTPS URL. */
export type CrlLocation = { file: string } | { url: URL };

const DOWNLOAD_LIMITS = { timeoutMs: 30_000, maxBytes: 64 * 1024 * 1024 };
/** After a failed load, the next try comes this soon (or at refreshSeconds, if sooner). */
const RETRY_MS = 30_000;
/** A CRL is fetched again this long before its nextUpdate (at most a tenth of its lifetime). */
const EARLY_REFRESH_MS = 5 * 60 * 1000;
const FILE_POLL_MS = 1000;

/**
 * One CA's CRL, kept current: loaded at start, fetched again before its nextUpdate (or every
 * `refreshMs`), and reloaded when its file changes. A new CRL replaces the one in use only when
 * it verifies and is not older; while none is usable, every certificate of the CA is refused
 * with the reason the last load gave. `onNewlyRevoked` hears the serials each new CRL adds.
 */
export class CrlSource {
  readonly where: string;
  private readonly location: CrlLocation;
  private readonly ca: X509Certificate;
  private readonly refreshMs: number;
  private readonly logger: Logger;
  private readonly onNewlyRevoked: (serials: Set<string>) => void;
  private current: VerifiedCrl | undefined;
  private lastBytes: Buffer | undefined;
  private problem: RevocationFailure | undefined;
  private loading: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly firstLoad: Promise<void>;
  private closed = false;
  private readonly onFileChange = () => void this.load();

  constructor(options: {
    location: CrlLocation;
    ca: X509Certificate;
    refreshMs: number;
    logger: Logger;
    onNewlyRevoked: (serials: Set<string>) => void;
  }) {
    this.location = options.location;
    this.ca = options.ca;
    this.refreshMs = options.refreshMs;
    this.logger = options.logger;
    this.onNewlyRevoked = options.onNewlyRevoked;
    this.where = 'file' in this.location ? this.location.file : describeUrl(this.location.url);
    if ('file' in this.location)
      watchFile(
        this.location.file,
        { interval: FILE_POLL_MS, persistent: false },
        this.onFileChange,
      );
    this.firstLoad = this.load();
  }

  /** Resolves once the first load has succeeded or failed. */
  ready(): Promise<void> {
    return this.firstLoad;
  }

  /** The status of a serial this CA issued, from the CRL in use (synchronous: no I/O). */
  status(serialNumber: string, now: number): RevocationStatus {
    const crl = this.current;
    if (!crl)
      return (
        this.problem ?? new RevocationFailure('UNABLE_TO_GET_CRL', 'the CRL is not loaded yet')
      ).status;
    if (crl.nextUpdate !== undefined && crl.nextUpdate < now)
      return {
        good: false,
        reason: 'CRL_HAS_EXPIRED',
        detail:
          `the CRL ${this.where} passed its nextUpdate ${new Date(crl.nextUpdate).toISOString()}` +
          (this.problem ? `; the last refresh failed: ${this.problem.message}` : ''),
      };
    const reason = crl.revoked.get(normalSerial(serialNumber));
    if (reason !== undefined)
      return {
        good: false,
        reason: 'CERT_REVOKED',
        detail: `listed in the CRL ${this.where} (${reason})`,
      };
    return { good: true };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    if ('file' in this.location) unwatchFile(this.location.file, this.onFileChange);
  }

  private load(): Promise<void> {
    this.loading ??= this.refresh().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async fetch(): Promise<Buffer> {
    if ('url' in this.location)
      return fetchBytes(
        this.location.url,
        { method: 'GET', accept: 'application/pkix-crl, application/x-pkcs7-crl' },
        DOWNLOAD_LIMITS,
      );
    return readFile(this.location.file);
  }

  private async refresh(): Promise<void> {
    try {
      let bytes: Buffer;
      try {
        bytes = await this.fetch();
      } catch (error) {
        throw new RevocationFailure(
          'UNABLE_TO_GET_CRL',
          `cannot get the CRL ${this.where}: ${(error as Error).message}`,
        );
      }
      // A file polled for changes often comes back unchanged (touched, or rewritten alike).
      if (this.current && this.lastBytes?.equals(bytes)) return;
      const crl = await verifiedCrl(bytes, this.ca, Date.now()).catch((error: unknown) => {
        if (error instanceof RevocationFailure)
          throw new RevocationFailure(error.reason, `the CRL ${this.where}: ${error.message}`);
        throw error;
      });
      const before = this.current;
      if (before && crl.thisUpdate < before.thisUpdate)
        throw new RevocationFailure(
          'UNABLE_TO_GET_CRL',
          `the CRL ${this.where} is older than the one in use (thisUpdate ${new Date(crl.thisUpdate).toISOString()})`,
        );
      const added = new Set(
        [...crl.revoked.keys()].filter((serial) => !before?.revoked.has(serial)),
      );
      this.current = crl;
      this.lastBytes = bytes;
      this.problem = undefined;
      this.logger.info(
        {
          crl: this.where,
          revoked: crl.revoked.size,
          newlyRevoked: added.size,
          nextUpdate: crl.nextUpdate && new Date(crl.nextUpdate).toISOString(),
        },
        'CRL loaded',
      );
      if (added.size > 0) this.onNewlyRevoked(added);
    } catch (error) {
      this.problem =
        error instanceof RevocationFailure
          ? error
          : new RevocationFailure('UNABLE_TO_GET_CRL', (error as Error).message);
      this.logger.error(
        { crl: this.where, reason: this.problem.reason, detail: this.problem.message },
        this.current
          ? 'CRL could not be refreshed; the one in use stays until its nextUpdate'
          : 'CRL could not be loaded; certificates of its CA are refused until it is',
      );
    } finally {
      this.schedule();
    }
  }

  /** The next fetch: before nextUpdate, within refreshMs, and soon after a failure. */
  private schedule(): void {
    if (this.closed) return;
    const now = Date.now();
    let at = now + this.refreshMs;
    const nextUpdate = this.current?.nextUpdate;
    if (nextUpdate !== undefined && this.current) {
      const lifetime = nextUpdate - this.current.thisUpdate;
      at = Math.min(at, nextUpdate - Math.min(EARLY_REFRESH_MS, lifetime / 10));
    }
    if (this.problem) at = Math.min(at, now + RETRY_MS);
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.load(), Math.max(1000, at - now));
    this.timer.unref();
  }
}
