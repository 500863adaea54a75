import { z } from 'zod';

const port = z.number().int().min(0).max(65535);

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
    log: z
      .object({
        level: z.enum(LOG_LEVELS).default('INFO'),
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
    shutdownGraceMs: z.number().int().min(0).max(600_000).default(10_000),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
