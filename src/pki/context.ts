import type { Store, StoreWriter } from '../store/index.js';
import type { DeviceCa } from './device-ca.js';
import type { DeviceCertificates } from './device-certificates.js';
import type { IotArns } from '../api/iot-arns.js';
import { pkiWrite } from './records.js';

/** What the pki services share. */
export interface PkiContext {
  store: Store;
  arns: IotArns;
  accountId: string;
  deviceCa: DeviceCa;
  directory: DeviceCertificates;
  clock: () => number;
}

/** A pki write in one locked transaction (see `pkiWrite`). */
export function writeWith<T>(
  context: PkiContext,
  work: (tx: StoreWriter) => Promise<T>,
): Promise<T> {
  return pkiWrite(context.store, context.clock, work);
}
