import type { Logger } from '../logs/logger.js';
import type { Store } from '../store/index.js';
import { CaCertificateService } from './ca-certificates.js';
import { DeviceCertificateService, type DeviceCertificateOptions } from './certificates.js';
import type { DeviceCa } from './device-ca.js';
import { DeviceCertificates } from './device-certificates.js';
import { IotArns } from '../api/iot-arns.js';

export interface PkiOptions extends DeviceCertificateOptions {
  store: Store;
  region: string;
  accountId: string;
  deviceCa: DeviceCa;
  logger?: Logger;
  /** Epoch ms; tests may pin it. */
  clock?: () => number;
}

/**
 * Device identity: device certificates, operators' CAs, and the synchronous directory the broker
 * consults on every handshake.
 */
export class Pki {
  readonly arns: IotArns;
  readonly directory: DeviceCertificates;
  readonly certificates: DeviceCertificateService;
  readonly caCertificates: CaCertificateService;

  private constructor(options: PkiOptions, directory: DeviceCertificates) {
    const clock = options.clock ?? Date.now;
    this.arns = new IotArns(options.region, options.accountId);
    this.directory = directory;
    const context = {
      store: options.store,
      arns: this.arns,
      accountId: options.accountId,
      deviceCa: options.deviceCa,
      directory,
      clock,
    };
    this.certificates = new DeviceCertificateService(context, options);
    this.caCertificates = new CaCertificateService(context);
  }

  /** Loads the directory from the store. */
  static async open(options: PkiOptions): Promise<Pki> {
    const directory = await DeviceCertificates.load({
      store: options.store,
      accountId: options.accountId,
      deviceCaPem: options.deviceCa.certificatePem,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
    });
    return new Pki(options, directory);
  }
}
