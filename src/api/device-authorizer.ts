import type { TLSSocket } from 'node:tls';
import type { CertificateCaller } from './operation.js';

/**
 * The seam through which devices reach the HTTPS data plane (AWS's port 8443 with mutual TLS):
 * a request that carries no SigV4 signature is the device behind its TLS client certificate,
 * and its IoT policies, not IAM, decide each operation. The API server asks; the device access
 * control (src/app) answers, so src/api knows nothing of certificates, things or policies.
 */

/** What a device's request offers to identify it. */
export interface DeviceRequest {
  /** The TLS connection the request came on: its client certificate and OpenSSL's verdict. */
  socket: TLSSocket;
  /** `x-amzn-iot-thingname`: the thing the device acts as, if it is attached to the certificate. */
  thingName?: string;
  /** The client's address (`aws:SourceIp`). */
  sourceIp: string;
}

/** A device whose certificate was accepted, and what its policies allow. */
export interface AuthenticatedDevice {
  caller: CertificateCaller;
  /** Whether its IoT policies allow `action` (e.g. `iot:Publish`) on `resource` (an ARN, or `*`). */
  allows(action: string, resource: string): boolean;
}

export interface DeviceAuthorizer {
  /**
   * The device behind the request's client certificate; undefined when there is none, or one
   * the MQTT listener would refuse (unknown, not ACTIVE, its CA not ACTIVE, expired).
   */
  authenticateDevice(request: DeviceRequest): Promise<AuthenticatedDevice | undefined>;
}
