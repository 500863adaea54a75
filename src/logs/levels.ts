import { isIP, SocketAddress } from 'node:net';
import { Verbosity } from '../broker/events.js';
import type { ClientIdentity } from '../broker/events.js';

/**
 * AWS IoT's log levels and log targets (SetV2LoggingLevel), and the rule that picks one client's
 * level. The rule, as Bulwark applies it:
 *
 * - `disableAllLogs` (SetV2LoggingOptions) silences every entry, whatever the levels.
 * - A client is matched by the levels set on its CLIENT_ID, its SOURCE_IP, its PRINCIPAL_ID and
 *   the THING_GROUPs of the thing named by its client id (AWS: a client is in a thing group's
 *   logging when it connects with its thing's name as client id).
 * - Within one thing-group hierarchy the nearest group with a level wins: a child group's level
 *   overrides its parent's, and a level on a parent covers its whole hierarchy (AWS Developer
 *   Guide, "Configure resource-specific logging").
 * - When several targets match (a client id and a group, or groups of several hierarchies), the
 *   most verbose of their levels applies; a matching DISABLED counts as the least verbose.
 * - When no target matches, the default level applies (SetV2LoggingOptions' defaultLogLevel, or
 *   the configuration's `log.deviceLevel` until one is set).
 */

/** In the API model's order. */
export const LOG_LEVEL_NAMES = ['DEBUG', 'INFO', 'ERROR', 'WARN', 'DISABLED'] as const;
export type LogLevelName = (typeof LOG_LEVEL_NAMES)[number];

export const LOG_TARGET_TYPES = [
  'DEFAULT',
  'THING_GROUP',
  'CLIENT_ID',
  'SOURCE_IP',
  'PRINCIPAL_ID',
] as const;
export type LogTargetType = (typeof LOG_TARGET_TYPES)[number];
/** The target types that name something; DEFAULT stands for every client. */
export type NamedTargetType = Exclude<LogTargetType, 'DEFAULT'>;

export const VERBOSITY_OF: Record<LogLevelName, Verbosity> = {
  DISABLED: Verbosity.DISABLED,
  ERROR: Verbosity.ERROR,
  WARN: Verbosity.WARN,
  INFO: Verbosity.INFO,
  DEBUG: Verbosity.DEBUG,
};

/** The level name of an entry written at `verbosity`. */
export const LEVEL_NAME_OF: readonly LogLevelName[] = [
  'DISABLED',
  'ERROR',
  'WARN',
  'INFO',
  'DEBUG',
];

/** The account's options (SetV2LoggingOptions). */
export interface LoggingOptions {
  roleArn?: string;
  defaultLogLevel: LogLevelName;
  disableAllLogs: boolean;
}

/** Every level set with SetV2LoggingLevel, by target type, then target name. */
export type TargetLevels = Record<NamedTargetType, Map<string, LogLevelName>>;

export function emptyTargetLevels(): TargetLevels {
  return {
    THING_GROUP: new Map(),
    CLIENT_ID: new Map(),
    SOURCE_IP: new Map(),
    PRINCIPAL_ID: new Map(),
  };
}

/**
 * An IP address as sockets report it, so a SOURCE_IP target matches however it was written:
 * IPv6 compressed and lower-case, IPv4-mapped IPv6 as plain IPv4. Undefined when not an address.
 */
export function canonicalIp(value: string): string | undefined {
  const unmapped = value.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  const family = isIP(unmapped);
  if (family === 4) return unmapped;
  if (family === 6) return new SocketAddress({ address: unmapped, family: 'ipv6' }).address;
  return undefined;
}

/**
 * The verbosity for one client. `groupChains` holds, for each thing group the client's thing is
 * in, that group and its ancestors, nearest first.
 */
export function resolveVerbosity(
  options: LoggingOptions,
  levels: TargetLevels,
  client: ClientIdentity,
  groupChains: readonly (readonly string[])[],
): Verbosity {
  if (options.disableAllLogs) return Verbosity.DISABLED;
  let best = -1;
  const consider = (level: LogLevelName | undefined) => {
    if (level !== undefined) best = Math.max(best, VERBOSITY_OF[level]);
  };
  consider(levels.CLIENT_ID.get(client.clientId));
  consider(levels.SOURCE_IP.get(client.sourceIp));
  if (client.principalId !== undefined) consider(levels.PRINCIPAL_ID.get(client.principalId));
  for (const chain of groupChains) {
    const nearest = chain.find((group) => levels.THING_GROUP.has(group));
    if (nearest !== undefined) consider(levels.THING_GROUP.get(nearest));
  }
  return best >= 0 ? (best as Verbosity) : VERBOSITY_OF[options.defaultLogLevel];
}
