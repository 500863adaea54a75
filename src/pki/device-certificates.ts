import { randomUUID, X509Certificate } from 'node:crypto';
import { isBulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import type { Store } from '../store/index.js';
import { CA_CERTIFICATES_TABLE, CERTIFICATES_TABLE } from './migrations.js';
import {
  caRecord,
  certificateRecord,
  insertCertificate,
  pkiWrite,
  readCertificate,
  type AutoRegistrationStatus,
  type CaRecord,
  type CaStatus,
  type CertificateMode,
  type CertificateRecord,
  type CertificateStatus,
} from './records.js';
import { certificateIdOf, issuedBy, pemOf } from './x509.js';

/** What the broker needs to know of a device certificate, synchronously. */
export interface KnownCertificate {
  certificateId: string;
  status: CertificateStatus;
  /** The registered CA that issued it; absent for Bulwark's own and CA-less registrations. */
  caCertificateId?: string;
  /** Epoch ms. */
  notAfter: number;
}

/** What the broker needs to know of a registered CA, synchronously. */
export interface KnownCa {
  caCertificateId: string;
  status: CaStatus;
  autoRegistrationStatus: AutoRegistrationStatus;
  /** Device certificates registered under this CA take its mode. */
  certificateMode: CertificateMode;
  certificate: X509Certificate;
}

/** Which CA signed a certificate: Bulwark's device CA, or a CA registered with RegisterCACertificate. */
export type Issuer = { kind: 'bulwark' } | ({ kind: 'registered' } & KnownCa);

/** A certificate or a CA that left ACTIVE (its live connections must go). */
export type StatusChange =
  | { kind: 'certificate'; certificateId: string; status: CertificateStatus | 'DELETED' }
  | { kind: 'ca'; caCertificateId: string; status: CaStatus | 'DELETED' };

/** Published on `$aws/events/certificates/registered/{caCertificateId}` (just-in-time registration). */
export interface CertificateRegisteredEvent {
  certificateId: string;
  caCertificateId: string;
  /** Epoch ms. */
  timestamp: number;
  certificateStatus: 'PENDING_ACTIVATION';
  awsAccountId: string;
  /** AWS sends null here (measured). */
  certificateRegistrationTimestamp: null;
}

export interface DeviceCertificatesOptions {
  store: Store;
  accountId: string;
  /** Bulwark's device CA certificate (PEM). */
  deviceCaPem: string;
  clock?: () => number;
  logger?: Logger;
}

/**
 * The broker's synchronous view of device certificates and CAs: status by certificate id, which
 * CA issued a certificate, the CA certificates the TLS listener trusts, and a signal when a
 * certificate or CA leaves ACTIVE. Loaded from the store at start and kept current by this
 * process's writes (the pki services report each write here once it commits).
 */
export class DeviceCertificates {
  private readonly store: Store;
  private readonly accountId: string;
  private readonly clock: () => number;
  private readonly logger: Logger | undefined;
  private readonly deviceCa: X509Certificate;
  private readonly deviceCaPem: string;
  private readonly certificates = new Map<string, KnownCertificate>();
  private readonly cas = new Map<string, KnownCa>();
  private readonly listeners = new Set<(change: StatusChange) => void>();

  private constructor(options: DeviceCertificatesOptions) {
    this.store = options.store;
    this.accountId = options.accountId;
    this.clock = options.clock ?? Date.now;
    this.logger = options.logger;
    this.deviceCaPem = options.deviceCaPem;
    this.deviceCa = new X509Certificate(options.deviceCaPem);
  }

  static async load(options: DeviceCertificatesOptions): Promise<DeviceCertificates> {
    const directory = new DeviceCertificates(options);
    for (const row of await options.store.list(CERTIFICATES_TABLE))
      directory.noteCertificate(certificateRecord(row));
    for (const row of await options.store.list(CA_CERTIFICATES_TABLE))
      directory.noteCa(caRecord(row));
    return directory;
  }

  /** The certificate's status; undefined when it is not registered. */
  status(certificateId: string): CertificateStatus | undefined {
    return this.certificates.get(certificateId)?.status;
  }

  certificate(certificateId: string): KnownCertificate | undefined {
    return this.certificates.get(certificateId);
  }

  ca(caCertificateId: string): KnownCa | undefined {
    return this.cas.get(caCertificateId);
  }

  /**
   * True when a device may connect with this certificate: it is registered and ACTIVE, and so is
   * the registered CA that issued it, if any.
   */
  isActive(certificateId: string): boolean {
    const known = this.certificates.get(certificateId);
    if (known?.status !== 'ACTIVE') return false;
    return (
      known.caCertificateId === undefined ||
      this.cas.get(known.caCertificateId)?.status === 'ACTIVE'
    );
  }

  /** Which CA issued `certificate` (names chain and the signature verifies); undefined: none known. */
  issuerOf(certificate: X509Certificate): Issuer | undefined {
    if (issuedBy(certificate, this.deviceCa)) return { kind: 'bulwark' };
    for (const ca of this.cas.values())
      if (issuedBy(certificate, ca.certificate)) return { kind: 'registered', ...ca };
    return undefined;
  }

  /** What the TLS listener should trust: the device CA and every ACTIVE registered CA. */
  trustedCaPems(): string[] {
    return [
      this.deviceCaPem,
      ...[...this.cas.values()]
        .filter((ca) => ca.status === 'ACTIVE')
        .map((ca) => pemOf(ca.certificate)),
    ];
  }

  /**
   * Calls `listener` (synchronously, after the write committed) whenever a certificate or CA
   * leaves ACTIVE or is deleted. Returns a function that stops the calls.
   */
  onStatusChange(listener: (change: StatusChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Just-in-time registration: an unknown, currently valid certificate issued by an ACTIVE
   * registered CA whose auto-registration is ENABLE is stored PENDING_ACTIVATION. Returns the
   * event to publish for a new registration and again while it stays pending (AWS repeats it on
   * each connect); undefined when the certificate is not for JITR (the connection is refused
   * either way until an operator activates it).
   */
  async registerPendingActivation(
    certificate: X509Certificate,
  ): Promise<CertificateRegisteredEvent | undefined> {
    const certificateId = certificateIdOf(certificate);
    const known = this.certificates.get(certificateId);
    if (known) {
      return known.status === 'PENDING_ACTIVATION' && known.caCertificateId
        ? this.registeredEvent(certificateId, known.caCertificateId)
        : undefined;
    }
    const issuer = this.issuerOf(certificate);
    if (issuer?.kind !== 'registered') return undefined;
    if (issuer.status !== 'ACTIVE' || issuer.autoRegistrationStatus !== 'ENABLE') return undefined;
    const now = this.clock();
    if (Date.parse(certificate.validFrom) > now || Date.parse(certificate.validTo) < now)
      return undefined;
    const record: CertificateRecord = {
      certificateId,
      status: 'PENDING_ACTIVATION',
      caCertificateId: issuer.caCertificateId,
      certificateMode: issuer.certificateMode,
      generationId: randomUUID(),
      customerVersion: 1,
      notBefore: Date.parse(certificate.validFrom),
      notAfter: Date.parse(certificate.validTo),
      createdAt: now,
      updatedAt: now,
    };
    try {
      await pkiWrite(this.store, this.clock, async (tx) => {
        if (await readCertificate(tx, certificateId)) return;
        await insertCertificate(tx, record, pemOf(certificate));
      });
    } catch (error) {
      if (!isBulwarkError(error)) throw error;
      this.logger?.error({ err: error, certificateId }, 'just-in-time registration failed');
      return undefined;
    }
    this.noteCertificate(record);
    return this.registeredEvent(certificateId, issuer.caCertificateId);
  }

  private registeredEvent(
    certificateId: string,
    caCertificateId: string,
  ): CertificateRegisteredEvent {
    return {
      certificateId,
      caCertificateId,
      timestamp: this.clock(),
      certificateStatus: 'PENDING_ACTIVATION',
      awsAccountId: this.accountId,
      certificateRegistrationTimestamp: null,
    };
  }

  // ---- kept current by the pki services after each committed write ----

  /** @internal A certificate was stored or changed. */
  noteCertificate(record: CertificateRecord): void {
    const before = this.certificates.get(record.certificateId);
    this.certificates.set(record.certificateId, {
      certificateId: record.certificateId,
      status: record.status,
      ...(record.caCertificateId !== undefined ? { caCertificateId: record.caCertificateId } : {}),
      notAfter: record.notAfter,
    });
    if (before?.status === 'ACTIVE' && record.status !== 'ACTIVE')
      this.emit({
        kind: 'certificate',
        certificateId: record.certificateId,
        status: record.status,
      });
  }

  /** @internal A certificate was deleted. */
  forgetCertificate(certificateId: string): void {
    if (this.certificates.delete(certificateId))
      this.emit({ kind: 'certificate', certificateId, status: 'DELETED' });
  }

  /** @internal A CA was registered or changed. */
  noteCa(record: CaRecord): void {
    const before = this.cas.get(record.certificateId);
    this.cas.set(record.certificateId, {
      caCertificateId: record.certificateId,
      status: record.status,
      autoRegistrationStatus: record.autoRegistrationStatus,
      certificateMode: record.certificateMode,
      certificate: before?.certificate ?? new X509Certificate(record.certificatePem),
    });
    if (before?.status === 'ACTIVE' && record.status !== 'ACTIVE')
      this.emit({ kind: 'ca', caCertificateId: record.certificateId, status: record.status });
  }

  /** @internal A CA was deleted. */
  forgetCa(caCertificateId: string): void {
    if (this.cas.delete(caCertificateId))
      this.emit({ kind: 'ca', caCertificateId, status: 'DELETED' });
  }

  private emit(change: StatusChange): void {
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (error) {
        this.logger?.error({ err: error, change }, 'a certificate status listener failed');
      }
    }
  }
}
