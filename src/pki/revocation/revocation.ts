import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BulwarkError } from '../../errors.js';
import type { Logger } from '../../logs/logger.js';
import { issuedBy } from '../x509.js';
import { CrlSource, type CrlLocation } from './crl-source.js';
import { OcspSource } from './ocsp-source.js';
import type { RevocationSetting } from './schema.js';
import { normalSerial, type RevocationStatus } from './verdicts.js';

const GOOD: RevocationStatus = { good: true };
const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** Serials a new CRL added for one CA: the certificates whose live connections must go. */
export interface NewlyRevoked {
  /** Where the CRL came from (for the log). */
  crl: string;
  count: number;
  /** True for a certificate the CA issued whose serial the CRL added. */
  covers(certificate: X509Certificate): boolean;
}

export interface RevocationOptions {
  settings: RevocationSetting[];
  /** The PEM of `mqtt.deviceCaFile`, for entries whose `ca` is `deviceCaFile`. */
  deviceCaPem: string | undefined;
  /** A registered CA's certificate by caCertificateId; undefined while it is not registered. */
  registeredCa(caCertificateId: string): X509Certificate | undefined;
  logger: Logger;
}

/** One configured CA and its sources; a registered CA is looked up until it is registered. */
class CaRevocation {
  readonly name: string;
  private readonly setting: RevocationSetting;
  private readonly lookUp: () => X509Certificate | undefined;
  private readonly logger: Logger;
  private readonly onNewlyRevoked: (revoked: NewlyRevoked) => void;
  private ca: X509Certificate | undefined;
  private crl: CrlSource | undefined;
  private readonly ocsp: OcspSource | undefined;

  constructor(
    name: string,
    setting: RevocationSetting,
    lookUp: () => X509Certificate | undefined,
    logger: Logger,
    onNewlyRevoked: (revoked: NewlyRevoked) => void,
  ) {
    this.name = name;
    this.setting = setting;
    this.lookUp = lookUp;
    this.logger = logger;
    this.onNewlyRevoked = onNewlyRevoked;
    if (setting.ocsp !== undefined)
      this.ocsp = new OcspSource({
        responder: setting.ocsp === 'aia' ? 'aia' : new URL(setting.ocsp),
        refreshMs: setting.refreshSeconds * 1000,
        logger,
      });
  }

  /** The CA certificate once known; its CRL starts loading then. */
  certificate(): X509Certificate | undefined {
    if (this.ca) return this.ca;
    const ca = this.lookUp();
    if (!ca) return undefined;
    this.ca = ca;
    if (this.setting.crl !== undefined) {
      // http:// only where the config allowed it (a loopback host, guard.urls.allowLoopbackHttp).
      const location: CrlLocation = /^https?:\/\//i.test(this.setting.crl)
        ? { url: new URL(this.setting.crl) }
        : { file: resolve(this.setting.crl) };
      const source: CrlSource = new CrlSource({
        location,
        ca,
        refreshMs: this.setting.refreshSeconds * 1000,
        logger: this.logger.child({ revocation: this.name }),
        onNewlyRevoked: (serials) =>
          this.onNewlyRevoked({
            crl: source.where,
            count: serials.size,
            covers: (certificate) =>
              serials.has(normalSerial(certificate.serialNumber)) && issuedBy(certificate, ca),
          }),
      });
      this.crl = source;
    }
    return ca;
  }

  /** Resolves when the CRL's first load is over (at once without a CRL or a known CA). */
  async ready(): Promise<void> {
    await this.crl?.ready();
  }

  async status(certificate: X509Certificate, ca: X509Certificate): Promise<RevocationStatus> {
    if (this.crl) {
      await this.crl.ready();
      const fromCrl = this.crl.status(certificate.serialNumber, Date.now());
      if (!fromCrl.good) return fromCrl;
    }
    return this.ocsp ? this.ocsp.status(certificate, ca) : GOOD;
  }

  close(): void {
    this.crl?.close();
  }
}

function configInvalid(index: number, ca: string, problem: string): BulwarkError {
  return new BulwarkError(
    'ConfigInvalid',
    `invalid configuration: mqtt.revocation[${index}].ca = ${JSON.stringify(ca)}: ${problem}`,
  );
}

/** The one CA certificate of a PEM text, or the problem with it. */
function oneCertificate(pem: string, what: string): X509Certificate | string {
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (blocks.length !== 1)
    return `${what} holds ${blocks.length} certificates; a revocation source names exactly one CA (put each CA in a PEM file of its own and name that file)`;
  try {
    const certificate = new X509Certificate(blocks[0] as string);
    return certificate.ca ? certificate : `${what} is not a CA certificate`;
  } catch {
    return `${what} is not a valid certificate`;
  }
}

/**
 * Revocation for operators' own CAs: each CA named in `mqtt.revocation` has a CRL and/or an OCSP
 * responder, and a certificate it issued is good only while they say so. Fail closed: when the
 * status cannot be established (no current CRL, a bad signature, an unreachable or unsure
 * responder) the certificate is refused with the reason. Certificates of other CAs are not
 * concerned. Each new CRL's added serials go to `onNewlyRevoked` listeners, which cut those
 * certificates' live connections.
 */
export class Revocation {
  private readonly cas: CaRevocation[];
  private readonly listeners = new Set<(revoked: NewlyRevoked) => void>();
  private readonly logger: Logger;

  private constructor(options: RevocationOptions) {
    this.logger = options.logger;
    this.cas = options.settings.map((setting, index) => {
      const name = `mqtt.revocation[${index}]`;
      return new CaRevocation(
        name,
        setting,
        this.caLookUp(setting.ca, index, options),
        options.logger,
        (revoked) => this.emit(revoked),
      );
    });
  }

  /**
   * Resolves every configured CA (a bad `ca` stops start-up with ConfigInvalid) and waits for
   * the first load of each CRL whose CA is known; a CRL that cannot be loaded is logged and
   * refuses its CA's certificates until it can, without stopping start-up.
   */
  static async start(options: RevocationOptions): Promise<Revocation> {
    const revocation = new Revocation(options);
    await Promise.all(
      revocation.cas.map((ca) => {
        if (!ca.certificate())
          options.logger.warn(
            { revocation: ca.name },
            'the CA of this revocation source is not registered (yet); its CRL is loaded once it is',
          );
        return ca.ready();
      }),
    );
    return revocation;
  }

  private caLookUp(
    ca: string,
    index: number,
    options: RevocationOptions,
  ): () => X509Certificate | undefined {
    if (/^[0-9a-f]{64}$/.test(ca)) return () => options.registeredCa(ca);
    let certificate: X509Certificate | string;
    if (ca === 'deviceCaFile') {
      if (options.deviceCaPem === undefined)
        throw configInvalid(index, ca, 'mqtt.deviceCaFile is not set');
      certificate = oneCertificate(options.deviceCaPem, 'mqtt.deviceCaFile');
    } else {
      let pem: string;
      try {
        pem = readFileSync(ca, 'utf8');
      } catch (error) {
        throw configInvalid(
          index,
          ca,
          `neither a registered CA's caCertificateId (64 hex digits), nor deviceCaFile, nor a readable PEM file (${(error as Error).message})`,
        );
      }
      certificate = oneCertificate(pem, 'the file');
    }
    if (typeof certificate === 'string') throw configInvalid(index, ca, certificate);
    return () => certificate;
  }

  /**
   * The revocation status of a client certificate whose chain has been accepted: good unless a
   * configured CA issued it and its sources say revoked or cannot say.
   */
  async statusOf(certificate: X509Certificate): Promise<RevocationStatus> {
    for (const entry of this.cas) {
      const ca = entry.certificate();
      if (!ca || !issuedBy(certificate, ca)) continue;
      const status = await entry.status(certificate, ca);
      if (!status.good) return status;
    }
    return GOOD;
  }

  /** Calls `listener` with the serials each newly loaded CRL adds. Returns a function that stops it. */
  onNewlyRevoked(listener: (revoked: NewlyRevoked) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    for (const entry of this.cas) entry.close();
    this.listeners.clear();
  }

  private emit(revoked: NewlyRevoked): void {
    for (const listener of this.listeners) {
      try {
        listener(revoked);
      } catch (error) {
        this.logger.error({ err: error, crl: revoked.crl }, 'a revocation listener failed');
      }
    }
  }
}
