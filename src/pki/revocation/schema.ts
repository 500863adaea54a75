import { z } from 'zod';
import type { OperatorUrl } from '../../guard/url-guard.js';

/** Anything with a scheme is a URL; the rest is a file path. */
const looksLikeUrl = (value: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(value);

/**
 * `mqtt.revocation`: the revocation sources of operators' own CAs. Each entry names one CA and
 * where its revocation status comes from; a certificate that CA issued is refused whenever its
 * status cannot be established (fail closed).
 */
export const revocationSettingsSchema = z
  .array(
    z
      .object({
        /**
         * The CA: a registered CA's caCertificateId, `deviceCaFile` (the one CA in
         * mqtt.deviceCaFile), or the path of a PEM file holding that one CA certificate.
         */
        ca: z.string().min(1),
        /**
         * The CA's CRL: a file (DER or PEM; reloaded when it changes) or an https:// URL. URLs are
         * checked by the URL guard with the rest of the config (revocationUrls, below).
         */
        crl: z.string().min(1).optional(),
        /** The CA's OCSP responder: an http(s):// URL, or `aia` for the one each certificate names. */
        ocsp: z.string().min(1).optional(),
        /**
         * The longest a CRL or an OCSP answer is used before it is fetched again; a CRL is also
         * fetched again shortly before its nextUpdate, and an OCSP answer is kept no later than its own.
         */
        refreshSeconds: z.number().int().min(10).max(604_800).default(3600),
      })
      .strict()
      .refine(
        (source) => source.crl !== undefined || source.ocsp !== undefined,
        'a CRL (crl), an OCSP responder (ocsp), or both',
      ),
  )
  .default([]);

export type RevocationSetting = z.infer<typeof revocationSettingsSchema>[number];

/**
 * The URLs among the revocation sources, for the URL guard (src/guard/url-guard.ts), by their
 * path inside `mqtt.revocation`. A CRL is fetched over https (or from a file). OCSP keeps plain
 * http, as responders are published (RFC 6960 and the CAs' AIA URLs use http: an answer is
 * signed by the CA, so TLS would add nothing to its integrity); credentials are refused in both.
 */
export function revocationUrls(sources: readonly RevocationSetting[]): OperatorUrl[] {
  return sources.flatMap((source, index): OperatorUrl[] => [
    ...(source.crl !== undefined && looksLikeUrl(source.crl)
      ? [
          {
            path: [index, 'crl'],
            value: source.crl,
            rules: { schemes: ['https:'], expected: 'a file path or an https:// URL' },
          },
        ]
      : []),
    ...(source.ocsp !== undefined && source.ocsp !== 'aia'
      ? [
          {
            path: [index, 'ocsp'],
            value: source.ocsp,
            rules: {
              schemes: ['http:', 'https:'],
              expected: '"aia" or an http:// or https:// URL',
            },
          },
        ]
      : []),
  ]);
}
