import { z } from 'zod';
import { DETECTOR_CATEGORIES, SEVERITIES } from './detector.js';

const detectorId = z
  .string()
  .regex(/^[A-Z][A-Z0-9_]{1,63}$/, 'an upper-case detector id such as EMAIL_ADDRESS');

/** What the free-form field guard does with a match in one class of fields. */
export const FIELD_MODES = ['deny', 'warn', 'off'] as const;
export type FieldMode = (typeof FIELD_MODES)[number];

/** The validators a custom detector may name (src/guard/detectors/custom.ts). */
export const CUSTOM_VALIDATORS = ['luhn', 'mod97', 'entropy'] as const;

/** A detector an operator defines: a regex plus, optionally, keywords and a validator. */
const customDetectorSchema = z
  .object({
    id: detectorId,
    description: z.string().min(1).max(200),
    severity: z.enum(SEVERITIES).default('MEDIUM'),
    category: z.enum(DETECTOR_CATEGORIES).default('CUSTOM'),
    /** A JavaScript regular expression (without slashes); group 1, if any, is the sensitive part. */
    pattern: z
      .string()
      .min(1)
      .max(1000)
      .refine((source) => {
        try {
          new RegExp(source, 'gu');
          return true;
        } catch {
          return false;
        }
      }, 'a valid JavaScript regular expression'),
    /** Case-insensitive words one of which must appear within keywordDistance characters before a match. */
    keywords: z.array(z.string().min(1).max(64)).max(50).default([]),
    keywordDistance: z.number().int().min(1).max(1000).default(50),
    validator: z.enum(CUSTOM_VALIDATORS).optional(),
  })
  .strict();

export type CustomDetectorSetting = z.infer<typeof customDetectorSchema>;

/**
 * `guard`: the sensitive-data guard (src/guard). Detectors run over free-form fields when they are
 * written, over operational logs and audit events before they are written, over stored device
 * data in discovery scans, and (when configured) over MQTT payloads.
 */
export const guardSettingsSchema = z
  .object({
    detectors: z
      .object({
        /** Built-in detectors turned off everywhere, by id (e.g. IP_ADDRESS). */
        disabled: z.array(detectorId).default([]),
        custom: z.array(customDetectorSchema).max(100).default([]),
        /**
         * High-entropy secrets near a keyword: Shannon entropy (bits per character) at or above
         * which a base64 or hex string counts, and the shortest string considered.
         */
        entropy: z
          .object({
            base64Limit: z.number().min(1).max(6).default(4.5),
            hexLimit: z.number().min(1).max(4).default(3.0),
            minLength: z.number().int().min(8).max(256).default(20),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /**
     * The free-form field guard, per class of field: `deny` refuses the request
     * (InvalidRequestException naming the field and detector, never the value), `warn` accepts
     * it with an `x-bulwark-sensitive-data-warning` header and an audit record, `off` does not look.
     */
    fields: z
      .object({
        names: z.enum(FIELD_MODES).default('deny'),
        tags: z.enum(FIELD_MODES).default('deny'),
        descriptions: z.enum(FIELD_MODES).default('warn'),
        attributes: z.enum(FIELD_MODES).default('warn'),
        /** Credentials (keys, tokens, passwords) are refused in every class not `off`, even in warn mode. */
        denyCredentials: z.boolean().default(true),
      })
      .strict()
      .prefault({}),
    /** URLs the operator configures (CRL and OCSP sources, webhooks, sinks). */
    urls: z
      .object({
        /** Accept `http://` to a loopback address (127.0.0.0/8, ::1, localhost); otherwise https only. */
        allowLoopbackHttp: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    /** Operational logs and audit events: matches become `[REDACTED:<detector>]`. */
    redaction: z
      .object({
        enabled: z.boolean().default(true),
        /**
         * Detectors not applied to logs and audit events: source addresses and access key ids
         * are what an investigation needs (CloudTrail records both).
         */
        skip: z.array(detectorId).default(['IP_ADDRESS', 'AWS_ACCESS_KEY_ID']),
      })
      .strict()
      .prefault({}),
    /** Discovery scans over stored device data. */
    scan: z
      .object({
        /** Start a scan this often (and resume an unfinished one at start); null: on request only. */
        intervalHours: z.number().min(0.01).max(8760).nullable().default(null),
        /** Items read per page while scanning; bounds memory. */
        pageSize: z.number().int().min(1).max(10_000).default(200),
      })
      .strict()
      .prefault({}),
    /**
     * Inline checks of MQTT payloads: publishes on `topics` (MQTT filters) whose payload matches
     * one of `detectors` are flagged (delivered, logged, audited) or refused (MQTT 5: PUBACK 0x99
     * Payload format invalid; MQTT 3.1.1, which has no negative acknowledgement: not delivered,
     * and the connection closed, as for a publish its policy denies).
     */
    inline: z
      .array(
        z
          .object({
            topics: z.array(z.string().min(1).max(256)).min(1),
            detectors: z.array(detectorId).min(1),
            action: z.enum(['flag', 'refuse']).default('flag'),
          })
          .strict(),
      )
      .max(100)
      .default([]),
  })
  .strict()
  .prefault({});

export type GuardSettings = z.infer<typeof guardSettingsSchema>;
