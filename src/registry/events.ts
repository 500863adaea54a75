import { randomUUID } from 'node:crypto';
import type { Store } from '../store/index.js';
import { EVENT_CONFIGURATIONS_TABLE } from './migrations.js';

/** Where registry events go: the app wires this to the broker (`$aws/events/…` topics). */
export interface RegistryEventSink {
  publish(topic: string, payload: Buffer): void;
}

/** AWS IoT's event types (UpdateEventConfigurations keys); all disabled until enabled, as in AWS. */
export const EVENT_TYPES = [
  'THING',
  'THING_GROUP',
  'THING_TYPE',
  'THING_GROUP_MEMBERSHIP',
  'THING_GROUP_HIERARCHY',
  'THING_TYPE_ASSOCIATION',
  'JOB',
  'JOB_EXECUTION',
  'POLICY',
  'CERTIFICATE',
  'CA_CERTIFICATE',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export function isEventType(value: string): value is EventType {
  return (EVENT_TYPES as readonly string[]).includes(value);
}

/** An event a registry write produced; published once the write has committed. */
export interface RegistryEvent {
  type: EventType;
  topic: string;
  payload: Record<string, unknown>;
}

export interface EventConfigurationsDescription {
  eventConfigurations: Record<EventType, { Enabled: boolean }>;
  /** Epoch ms; absent until the configuration was first changed. */
  creationDate?: number;
  lastModifiedDate?: number;
}

/**
 * Which registry events are published (DescribeEventConfigurations / UpdateEventConfigurations),
 * and their publication. The configuration is read from the store at each publication, so every
 * node sharing the database follows a change at once.
 */
export class RegistryEvents {
  private readonly store: Store;
  private readonly sink: RegistryEventSink | undefined;
  private readonly clock: () => number;
  readonly accountId: string;

  constructor(options: {
    store: Store;
    sink: RegistryEventSink | undefined;
    accountId: string;
    clock: () => number;
  }) {
    this.store = options.store;
    this.sink = options.sink;
    this.accountId = options.accountId;
    this.clock = options.clock;
  }

  /** The fields every registry event starts with (registry-events.md). */
  envelope(eventType: string, operation: string): Record<string, unknown> {
    return {
      eventType,
      eventId: randomUUID(),
      timestamp: this.clock(),
      operation,
      accountId: this.accountId,
    };
  }

  async describe(): Promise<EventConfigurationsDescription> {
    const rows = await this.store.list(EVENT_CONFIGURATIONS_TABLE);
    const enabled = new Map(rows.map((row) => [row.event_type as string, row.enabled === true]));
    const eventConfigurations = Object.fromEntries(
      EVENT_TYPES.map((type) => [type, { Enabled: enabled.get(type) ?? false }]),
    ) as Record<EventType, { Enabled: boolean }>;
    if (rows.length === 0) return { eventConfigurations };
    return {
      eventConfigurations,
      creationDate: Math.min(...rows.map((row) => row.created_at as number)),
      lastModifiedDate: Math.max(...rows.map((row) => row.updated_at as number)),
    };
  }

  async update(changes: Partial<Record<EventType, boolean>>): Promise<void> {
    const now = this.clock();
    await this.store.transaction(async (tx) => {
      for (const [type, enabled] of Object.entries(changes)) {
        const existing = await tx.get(EVENT_CONFIGURATIONS_TABLE, { event_type: type });
        await tx.put(EVENT_CONFIGURATIONS_TABLE, {
          event_type: type,
          enabled,
          created_at: (existing?.created_at as number | undefined) ?? now,
          updated_at: now,
        });
      }
    });
  }

  /** Publishes the events whose type is enabled now. */
  async publish(events: RegistryEvent[]): Promise<void> {
    if (!this.sink || events.length === 0) return;
    const rows = await this.store.list(EVENT_CONFIGURATIONS_TABLE, { where: { enabled: true } });
    const enabled = new Set(rows.map((row) => row.event_type as string));
    for (const event of events) {
      if (enabled.has(event.type))
        this.sink.publish(event.topic, Buffer.from(JSON.stringify(event.payload)));
    }
  }
}
