import type { Operation } from '../../api/operation.js';
import type { Pki } from '../pki.js';
import { caCertificateOperations } from './ca-certificates.js';
import { certificateOperations } from './certificates.js';

/** Every AWS IoT operation the pki serves, for the API server to mount. */
export function pkiOperations(pki: Pki): Operation[] {
  return [...certificateOperations(pki), ...caCertificateOperations(pki)];
}
