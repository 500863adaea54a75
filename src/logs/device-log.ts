import { randomUUID } from 'node:crypto';
import {
  Verbosity,
  type BrokerEvent,
  type BrokerEvents,
  type ClientEventLog,
  type ClientIdentity,
} from '../broker/events.js';
import type { Store } from '../store/index.js';
import {
  emptyTargetLevels,
  LEVEL_NAME_OF,
  resolveVerbosity,
  type LoggingOptions,
  type LogLevelName,
  type NamedTargetType,
  type TargetLevels,
} from './levels.js';
import type { Logger } from './logger.js';
import { deleteLevel, loadSettings, saveLevel, saveOptions } from './settings.js';
import type { LineSink } from './sinks.js';
import { GROUPS_TTL_MS, ThingGroupCache, type ThingGroupSource } from './thing-groups.js';

/** How often the settings are read again, so changes made through another node reach this one. */
const RELOAD_MS = 10_000;

export interface DeviceLogOptions {
  store: Store;
  accountId: string;
  /** The default level until SetV2LoggingOptions sets one: the configuration's `log.deviceLevel`. */
  configuredLevel: LogLevelName;
  /** Where entries go (the operational log's stream, a rotating file). */
  sinks: LineSink[];
  /** The groups of a client's thing, for THING_GROUP levels; none: such levels match nobody. */
  thingGroups?: ThingGroupSource;
  logger: Logger;
  /** Epoch ms; tests may pin it. */
  clock?: () => number;
}

/** AWS's timestamp: `YYYY-MM-DD HH:MM:SS.mmm`, UTC. */
export function awsTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 23);
}

/**
 * The device log: AWS IoT's v2 logging (a default level, levels per target, all logs off) over
 * the broker's events, written as AWS IoT's log entries (JSON lines, CloudWatch's field names).
 * Each client's level is worked out once and again only when something it depends on changes
 * (a `generation` counter), so the broker's per-message question is a comparison.
 */
export class DeviceLog implements BrokerEvents {
  private readonly store: Store;
  private readonly accountId: string;
  private readonly configuredLevel: LogLevelName;
  private readonly sinks: LineSink[];
  private readonly logger: Logger;
  private readonly clock: () => number;
  private readonly groups: ThingGroupCache | undefined;
  /** The stored options; undefined until set, when the configured level is the default. */
  private stored: LoggingOptions | undefined;
  private levels: TargetLevels = emptyTargetLevels();
  /** Bumped whenever a client's level may have changed; each client log compares it with its own. */
  generation = 0;
  private readonly traces = new WeakMap<object, string>();
  private readonly timers: NodeJS.Timeout[] = [];
  /** Writes through the API and reloads, one after another. */
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(options: DeviceLogOptions) {
    this.store = options.store;
    this.accountId = options.accountId;
    this.configuredLevel = options.configuredLevel;
    this.sinks = options.sinks;
    this.logger = options.logger.child({ component: 'device-log' });
    this.clock = options.clock ?? Date.now;
    this.groups = options.thingGroups
      ? new ThingGroupCache(
          options.thingGroups,
          () => this.generation++,
          (error, thingName) =>
            this.logger.error(
              { err: error, thingName },
              'could not read the thing groups of a thing for its log level',
            ),
        )
      : undefined;
  }

  /** Loads the stored settings and starts following changes made elsewhere. */
  static async open(options: DeviceLogOptions): Promise<DeviceLog> {
    const log = new DeviceLog(options);
    await log.reload();
    const reload = setInterval(() => {
      void log
        .reload()
        .catch((error: unknown) =>
          log.logger.error({ err: error }, 'could not read the logging settings again'),
        );
    }, RELOAD_MS);
    // Live clients look at their thing's groups again (membership changes): their cached groups
    // are read again once older than GROUPS_TTL_MS, so a change shows within 1.5 × that.
    const regroup = setInterval(() => {
      if (log.levels.THING_GROUP.size > 0) log.generation++;
    }, GROUPS_TTL_MS / 2);
    reload.unref();
    regroup.unref();
    log.timers.push(reload, regroup);
    return log;
  }

  /** Reads the settings from the store; clients are told only when something changed. */
  private reload(): Promise<void> {
    return this.serially(async () => {
      const { options, levels } = await loadSettings(this.store);
      const fingerprint = (o: LoggingOptions | undefined, l: TargetLevels) =>
        JSON.stringify([o, Object.entries(l).map(([type, map]) => [type, [...map].sort()])]);
      if (fingerprint(options, levels) === fingerprint(this.stored, this.levels)) return;
      this.stored = options;
      this.levels = levels;
      this.generation++;
    });
  }

  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.writes.catch(() => undefined);
    await Promise.all(this.sinks.map((sink) => sink.close()));
  }

  // ---- the settings (the v2 logging API) ----

  /** The options in force: the stored ones, or the configured level with logging on. */
  get options(): LoggingOptions {
    return this.stored ?? { defaultLogLevel: this.configuredLevel, disableAllLogs: false };
  }

  /** Every level set on a target, as ListV2LoggingLevels shows them. */
  targetLevels(): { type: NamedTargetType; name: string; level: LogLevelName }[] {
    return (Object.entries(this.levels) as [NamedTargetType, Map<string, LogLevelName>][]).flatMap(
      ([type, map]) => [...map].map(([name, level]) => ({ type, name, level })),
    );
  }

  get targetCount(): number {
    return Object.values(this.levels).reduce((sum, map) => sum + map.size, 0);
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const result = this.writes.then(work);
    this.writes = result.catch(() => undefined);
    return result;
  }

  async setOptions(options: LoggingOptions): Promise<void> {
    await this.serially(async () => {
      await saveOptions(this.store, options);
      this.stored = options;
      this.generation++;
    });
  }

  /** False when the target is new and `maxTargets` are already set. */
  async setLevel(
    type: NamedTargetType,
    name: string,
    level: LogLevelName,
    maxTargets: number,
  ): Promise<boolean> {
    return this.serially(async () => {
      if (!(await saveLevel(this.store, type, name, level, maxTargets))) return false;
      this.levels[type].set(name, level);
      this.generation++;
      return true;
    });
  }

  async deleteLevel(type: NamedTargetType, name: string): Promise<void> {
    await this.serially(async () => {
      await deleteLevel(this.store, type, name);
      this.levels[type].delete(name);
      this.generation++;
    });
  }

  // ---- the broker's side ----

  /** One client's verbosity now; its thing's groups from the cache, read in the background if stale. */
  verbosityOf(client: ClientIdentity): Verbosity {
    const chains =
      this.groups && this.levels.THING_GROUP.size > 0
        ? (this.groups.peek(client.clientId, this.clock()) ?? [])
        : [];
    return resolveVerbosity(this.options, this.levels, client, chains);
  }

  forClient(client: ClientIdentity): ClientEventLog | Promise<ClientEventLog> {
    const log = new ClientLog(this, client);
    // With levels on thing groups, the client's groups are read before its first entry.
    if (!this.groups || this.levels.THING_GROUP.size === 0) return log;
    return this.groups.get(client.clientId, this.clock()).then(() => log);
  }

  /** Writes one entry, AWS IoT's fields in AWS's order; never a payload. */
  write(client: ClientIdentity, event: BrokerEvent): void {
    const entry = {
      timestamp: awsTimestamp(this.clock()),
      logLevel: LEVEL_NAME_OF[event.level],
      traceId: event.trace ? this.traceOf(event.trace) : randomUUID(),
      accountId: this.accountId,
      status: event.status,
      eventType: event.eventType,
      protocol: 'MQTT',
      ...(event.deviceShadowName !== undefined ? { deviceShadowName: event.deviceShadowName } : {}),
      ...(event.topicName !== undefined ? { topicName: event.topicName } : {}),
      clientId: client.clientId,
      ...(client.principalId !== undefined ? { principalId: client.principalId } : {}),
      sourceIp: client.sourceIp,
      ...(client.sourcePort !== undefined ? { sourcePort: client.sourcePort } : {}),
      ...(event.reason !== undefined ? { reason: event.reason } : {}),
      ...(event.details !== undefined ? { details: event.details } : {}),
      ...(event.disconnectReason !== undefined ? { disconnectReason: event.disconnectReason } : {}),
    };
    const line = JSON.stringify(entry) + '\n';
    for (const sink of this.sinks) sink.write(line);
  }

  /** One traceId per message, shared by its Publish-In and Publish-Out entries. */
  private traceOf(trace: object): string {
    let id = this.traces.get(trace);
    if (id === undefined) {
      id = randomUUID();
      this.traces.set(trace, id);
    }
    return id;
  }
}

/** One client's log: its verbosity, kept until the device log's generation moves on. */
class ClientLog implements ClientEventLog {
  private seen = -1;
  private level: Verbosity = Verbosity.DISABLED;

  constructor(
    private readonly owner: DeviceLog,
    private readonly client: ClientIdentity,
  ) {}

  verbosity(): Verbosity {
    if (this.seen !== this.owner.generation) {
      this.seen = this.owner.generation;
      this.level = this.owner.verbosityOf(this.client);
    }
    return this.level;
  }

  write(event: BrokerEvent): void {
    this.owner.write(this.client, event);
  }
}
