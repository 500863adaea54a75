import { z } from 'zod';

/** A URL with one of `protocols` and no user name or password in it (they would end up in logs). */
function isUrlWithout(value: string, protocols: string[]): boolean {
  try {
    const url = new URL(value);
    return protocols.includes(url.protocol) && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}

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
        /** The CA's CRL: a file (DER or PEM; reloaded when it changes) or an https:// URL. */
        crl: z
          .string()
          .min(1)
          .refine(
            (value) => !looksLikeUrl(value) || isUrlWithout(value, ['https:']),
            'a file path or an https:// URL without credentials',
          )
          .optional(),
        /** The CA's OCSP responder: an http(s):// URL, or `aia` for the one each certificate names. */
        ocsp: z
          .string()
          .min(1)
          .refine(
            (value) => value === 'aia' || isUrlWithout(value, ['http:', 'https:']),
            '"aia" or an http:// or https:// URL without credentials',
          )
          .optional(),
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
