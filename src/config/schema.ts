import { z } from 'zod';
import { DEFAULT_TLS_POLICY, TLS_POLICY_NAMES } from '../tls/policies.js';
import { AWS_LIMITS } from '../broker/limits.js';
import { revocationSettingsSchema, revocationUrls } from '../pki/revocation/schema.js';
import { guardSettingsSchema } from '../guard/schema.js';
import { Guard } from '../guard/guard.js';
import { checkOperatorUrls, type OperatorUrl } from '../guard/url-guard.js';

const port = z.number().int().min(0).max(65535);
const count = (max: number) => z.number().int().min(1).max(max);

/** AWS IoT's log levels (CloudWatch logging options), lowest volume last. */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR', 'DISABLED'] as const;

/**
 * The one configuration schema. Every leaf has a default, so an empty file is a valid config;
 * leaves are reachable from a file, from `BULWARK_<PATH>` environment variables and from flags.
 * Secrets (the root passphrase, database passwords) are deliberately not leaves of this schema:
 * they come from the environment only, so they never sit in a config file.
 */
export const configSchema = z
  .object({
    dataDir: z.string().min(1).default('./data'),
    host: z.string().min(1).default('0.0.0.0'),
    hostNames: z.array(z.string().min(1)).default([]),
    mqttPort: port.default(8883),
    apiPort: port.default(8443),
    devPort: port.nullable().default(null),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS-style region name such as us-east-1')
      .default('us-east-1'),
    /** The AWS account id every ARN carries: `arn:aws:iot:{region}:{accountId}:…`. */
    accountId: z
      .string()
      .regex(/^\d{12}$/, 'a 12-digit AWS account id')
      .default('000000000000'),
    api: z
      .object({
        /**
         * Serve `/metrics` without a signature to clients on a loopback address (a local
         * Prometheus); every other client must sign the request (SigV4) as for any API call.
         */
        metricsOpenOnLoopback: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    tls: z
      .object({
        /**
         * The server certificate and key to serve instead of the one Bulwark issues itself; both
         * or neither. Bulwark reloads them, without a restart, when either file changes.
         */
        certificateFile: z.string().min(1).nullable().default(null),
        privateKeyFile: z.string().min(1).nullable().default(null),
        /** The TLS security policy (src/tls/policies.ts) of every listener not given its own. */
        policy: z.enum(TLS_POLICY_NAMES).default(DEFAULT_TLS_POLICY),
        /** The HTTPS API listener, which also carries MQTT over WSS. */
        apiPolicy: z.enum(TLS_POLICY_NAMES).optional(),
        /** The MQTT/TLS listener. */
        mqttPolicy: z.enum(TLS_POLICY_NAMES).optional(),
      })
      .strict()
      .prefault({}),
    log: z
      .object({
        /** The operational log's level. */
        level: z.enum(LOG_LEVELS).default('INFO'),
        /**
         * The device log's default level until SetV2LoggingOptions sets one. ERROR: failures
         * only (refused connections, denials), since INFO writes two entries per message.
         */
        deviceLevel: z.enum(LOG_LEVELS).default('ERROR'),
        /** Device log entries also go to this file (mode 0600), rotated by size; none: stderr only. */
        file: z.string().min(1).nullable().default(null),
        /** The file is rotated once it reaches this size. */
        maxFileBytes: z
          .number()
          .int()
          .min(4096)
          .default(10 * 1024 * 1024),
        /** Rotated files kept beside the current one (`FILE.1` newest … `FILE.N`). */
        maxFiles: count(100).default(5),
      })
      .strict()
      .prefault({}),
    audit: z
      .object({
        /**
         * The log stream this server writes. Servers sharing a PostgreSQL database may share one
         * (their writes are serialised) or each write their own.
         */
        stream: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and -, at most 63')
          .default('main'),
        /** A signed digest is written this often (and at start and stop), events or not. */
        digestIntervalSeconds: z.number().int().min(1).max(3600).default(300),
        /** Events and digests older than this are pruned, whole digests at a time. */
        retentionDays: z.number().int().min(1).max(3650).default(365),
        /**
         * A file each digest's hash is also appended to; put it where the store's writers cannot
         * rewrite it, so that removing the newest digests shows (`audit verify --expect-digest`).
         */
        witnessFile: z.string().min(1).nullable().default(null),
      })
      .strict()
      .prefault({}),
    mqtt: z
      .object({
        /** PEM file of the CA certificate(s) device certificates must chain to; none: no TLS client is accepted. */
        deviceCaFile: z.string().min(1).nullable().default(null),
        /**
         * The IoT policy under which certificates from `deviceCaFile` act without being registered
         * (one policy for the fleet; policy variables such as the certificate's common name tell
         * devices apart). None: they must be registered like any other certificate.
         */
        deviceCaPolicy: z.string().min(1).nullable().default(null),
        /** Also serve MQTT on the API port to clients negotiating ALPN x-amzn-mqtt-ca, as AWS does on 443. */
        alpnOnApiPort: z.boolean().default(false),
        /** CRLs and OCSP responders of operators' own CAs (src/pki/revocation); fail closed. */
        revocation: revocationSettingsSchema,
        limits: z
          .object({
            maxClientIdBytes: count(65535).default(AWS_LIMITS.maxClientIdBytes),
            maxPayloadBytes: count(256 * 1024 * 1024).default(AWS_LIMITS.maxPayloadBytes),
            maxPacketBytes: count(268_435_455).default(AWS_LIMITS.maxPacketBytes),
            maxTopicBytes: count(65535).default(AWS_LIMITS.maxTopicBytes),
            maxTopicSlashes: count(65535).default(AWS_LIMITS.maxTopicSlashes),
            maxFiltersPerSubscribe: count(65535).default(AWS_LIMITS.maxFiltersPerSubscribe),
            maxSubscriptionsPerConnection: count(1_000_000).default(
              AWS_LIMITS.maxSubscriptionsPerConnection,
            ),
            maxInflight: count(65535).default(AWS_LIMITS.maxInflight),
            maxQueuedMessages: count(1_000_000).default(AWS_LIMITS.maxQueuedMessages),
            maxStoredMessagesPerSession: count(100_000_000).default(
              AWS_LIMITS.maxStoredMessagesPerSession,
            ),
            slowConsumerSeconds: count(86_400).default(AWS_LIMITS.slowConsumerSeconds),
            maxKeepAliveSeconds: count(65535).default(AWS_LIMITS.maxKeepAliveSeconds),
            topicAliasMaximum: z
              .number()
              .int()
              .min(0)
              .max(65535)
              .default(AWS_LIMITS.topicAliasMaximum),
            maxRetainedMessages: count(100_000_000).default(AWS_LIMITS.maxRetainedMessages),
            maxPublishesPerSecond: z
              .number()
              .int()
              .min(0)
              .max(10_000_000)
              .default(AWS_LIMITS.maxPublishesPerSecond),
            maxInboundBytesPerSecond: z
              .number()
              .int()
              .min(0)
              .max(10_000_000_000)
              .default(AWS_LIMITS.maxInboundBytesPerSecond),
            maxSessionExpirySeconds: z
              .number()
              .int()
              .min(0)
              .max(4_294_967_295)
              .default(AWS_LIMITS.maxSessionExpirySeconds),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Device shadows; AWS IoT's quotas are the defaults (aws-iot-behaviour §5.4). */
    shadow: z
      .object({
        /** Bytes of desired + reported state, metadata excluded; beyond it 413. */
        maxStateBytes: count(1024 * 1024).default(8 * 1024),
        /** Levels of nesting inside desired and reported; beyond it 400. */
        maxDepth: count(64).default(6),
        /** Shadow requests one MQTT connection may have in progress; beyond it 429. */
        maxInflightPerConnection: count(10_000).default(10),
      })
      .strict()
      .prefault({}),
    store: z
      .object({
        engine: z.enum(['sqlite', 'postgres']).default('sqlite'),
        sqlite: z
          .object({
            synchronous: z.enum(['full', 'normal']).default('full'),
          })
          .strict()
          .prefault({}),
        postgres: z
          .object({
            /** A user name is fine; a password is refused (URL guard): it comes from PGPASSWORD. */
            url: z.string().default('postgres://127.0.0.1:5432/bulwark'),
            schema: z
              .string()
              .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'a lower-case SQL identifier')
              .default('bulwark'),
            poolSize: z.number().int().min(1).max(200).default(10),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    kms: z
      .object({
        /** Seals after which a process retires its data key (random 96-bit nonces: stay far below 2^32). */
        dataKeyMaxUses: z
          .number()
          .int()
          .min(1)
          .max(2 ** 30)
          .default(2 ** 24),
      })
      .strict()
      .prefault({}),
    /** Operators' console passwords, MFA devices and sign-in lockout (src/iam). */
    iam: z
      .object({
        /** Every console sign-in needs a code from an enabled MFA device besides the password. */
        requireMfaForConsole: z.boolean().default(true),
        /**
         * scrypt's cost for password hashes, as log2 N (r = 8, p = 1): 17 is OWASP's floor and
         * takes 128 MiB per hash. Raising it rehashes each password at its next sign-in.
         */
        passwordScryptLogN: z.number().int().min(14).max(20).default(17),
        /** IAM's account password policy, by AWS's names. */
        passwordPolicy: z
          .object({
            minimumPasswordLength: z.number().int().min(6).max(128).default(14),
            // Off by default: NIST SP 800-63B asks for length, not composition rules.
            requireSymbols: z.boolean().default(false),
            requireNumbers: z.boolean().default(false),
            requireUppercaseCharacters: z.boolean().default(false),
            requireLowercaseCharacters: z.boolean().default(false),
            /**
             * Recent passwords, the current one included, a new one may not repeat (CIS: 24);
             * null: any. Each costs one scrypt evaluation when a password is set.
             */
            passwordReusePrevention: z.number().int().min(1).max(24).nullable().default(24),
            /** Days after which a password must be changed at the next sign-in; null: never. */
            maxPasswordAge: z.number().int().min(1).max(1095).nullable().default(null),
          })
          .strict()
          .prefault({}),
        /**
         * Brute-force protection for passwords and MFA devices, each counted on its own (see
         * src/iam/lockout.ts): from `failuresBeforeDelay` consecutive failures each attempt waits
         * `firstDelayMs`, doubling up to `maxDelayMs`; at `failuresBeforeLock` the credential is
         * locked for `lockDurationMs`, and any failure after that locks it again. Besides, one
         * source address may fail at most `sourceFailuresPerWindow` sign-ins per `sourceWindowMs`.
         */
        lockout: z
          .object({
            failuresBeforeDelay: count(1000).default(5),
            firstDelayMs: z.number().int().min(0).max(3_600_000).default(1000),
            maxDelayMs: z.number().int().min(0).max(3_600_000).default(60_000),
            failuresBeforeLock: count(1000).default(20),
            lockDurationMs: z.number().int().min(1).max(604_800_000).default(900_000),
            sourceFailuresPerWindow: count(1_000_000).default(100),
            sourceWindowMs: z.number().int().min(1).max(86_400_000).default(300_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** The sensitive-data guard (src/guard): detectors, field guard, URL guard, redaction, scans. */
    guard: guardSettingsSchema,
    shutdownGraceMs: z.number().int().min(0).max(600_000).default(10_000),
  })
  .strict()
  // Settings that depend on others: the detectors as configured, and every URL under the URL guard.
  .superRefine((config, ctx) => {
    let guard: Guard;
    try {
      guard = new Guard(config.guard);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        path: ['guard', 'detectors'],
        message: (error as Error).message,
        params: { withholdValue: true },
      });
      return;
    }
    const urls: OperatorUrl[] = [
      ...revocationUrls(config.mqtt.revocation).map((url) => ({
        ...url,
        path: ['mqtt', 'revocation', ...url.path],
      })),
      {
        path: ['store', 'postgres', 'url'],
        value: config.store.postgres.url,
        rules: {
          schemes: ['postgres:', 'postgresql:'],
          allowUserName: true,
          secretAdvice: 'set the password in the environment (PGPASSWORD) instead',
        },
      },
    ];
    const refusals = checkOperatorUrls(urls, {
      allowLoopbackHttp: config.guard.urls.allowLoopbackHttp,
      detectors: guard.detectors,
    });
    for (const { path, refusal } of refusals)
      // The value may hold a secret: the error names the setting, never its value.
      ctx.addIssue({
        code: 'custom',
        path,
        message: refusal.reason,
        params: { withholdValue: true },
      });
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
