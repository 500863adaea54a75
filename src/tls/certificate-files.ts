import { X509Certificate } from 'node:crypto';
import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { createSecureContext } from 'node:tls';

export interface CertificatePair {
  certificatePem: string;
  privateKeyPem: string;
}

export interface CertificateFiles {
  certificateFile: string;
  privateKeyFile: string;
}

/** Reads an operator's certificate and key; throws unless they parse and belong together. */
export function readCertificatePair(files: CertificateFiles): CertificatePair {
  const certificatePem = readFileSync(files.certificateFile, 'utf8');
  const privateKeyPem = readFileSync(files.privateKeyFile, 'utf8');
  new X509Certificate(certificatePem);
  // OpenSSL refuses a key that does not match the certificate ("key values mismatch").
  createSecureContext({ cert: certificatePem, key: privateKeyPem });
  return { certificatePem, privateKeyPem };
}

/**
 * Watches the pair (polling, so an atomic rename is seen too) and hands each new valid pair to
 * `onChange`. A half-written or mismatched pair goes to `onError` and the old one stays in use;
 * the next change of either file is checked again.
 */
export function watchCertificatePair(
  files: CertificateFiles,
  current: CertificatePair,
  onChange: (pair: CertificatePair) => void,
  onError: (error: Error) => void,
  intervalMs = 1000,
): () => void {
  let served = current;
  const check = () => {
    try {
      const next = readCertificatePair(files);
      if (
        next.certificatePem === served.certificatePem &&
        next.privateKeyPem === served.privateKeyPem
      )
        return;
      served = next;
      onChange(next);
    } catch (error) {
      onError(error as Error);
    }
  };
  watchFile(files.certificateFile, { interval: intervalMs, persistent: false }, check);
  watchFile(files.privateKeyFile, { interval: intervalMs, persistent: false }, check);
  return () => {
    unwatchFile(files.certificateFile, check);
    unwatchFile(files.privateKeyFile, check);
  };
}
