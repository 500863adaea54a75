import type { QoS } from 'mqtt-packet';
import type { Migration, Store } from '../store/index.js';
import type { Message, MessageProperties } from './message.js';

export const RETAINED_TABLE = 'broker_retained';

export const retainedMigrations: Migration[] = [
  {
    id: 'broker-0001-retained',
    steps: [
      {
        createTable: {
          name: RETAINED_TABLE,
          columns: {
            topic: { type: 'text' },
            qos: { type: 'integer' },
            updated_at: { type: 'integer' },
            expires_at: { type: 'integer', nullable: true },
          },
          primaryKey: ['topic'],
          // The topic stays plaintext (it is the lookup key); payload and properties are sealed.
          sealed: ['payload', 'properties'],
        },
      },
    ],
  },
];

interface StoredProperties extends Omit<MessageProperties, 'correlationData'> {
  correlationData?: string;
}

function toStored(properties: MessageProperties): StoredProperties {
  const { correlationData, ...rest } = properties;
  return correlationData ? { ...rest, correlationData: correlationData.toString('base64') } : rest;
}

function fromStored(stored: StoredProperties): MessageProperties {
  const { correlationData, ...rest } = stored;
  return correlationData
    ? { ...rest, correlationData: Buffer.from(correlationData, 'base64') }
    : rest;
}

/**
 * One retained message per topic (§3.3.1.3), held in memory for delivery on subscribe and kept
 * sealed in the store, so a retained message the broker acknowledged survives a restart.
 */
export class RetainedMessages {
  private readonly store: Store;
  private readonly byTopic = new Map<string, Message>();

  private constructor(store: Store) {
    this.store = store;
  }

  static async load(store: Store): Promise<RetainedMessages> {
    const retained = new RetainedMessages(store);
    let after: { topic: string } | undefined;
    for (;;) {
      const rows = await store.list(RETAINED_TABLE, { limit: 1000, ...(after ? { after } : {}) });
      for (const row of rows) {
        retained.byTopic.set(row.topic as string, {
          topic: row.topic as string,
          payload: row.payload as Buffer,
          qos: row.qos as QoS,
          retain: true,
          properties: fromStored(row.properties as StoredProperties),
          ...(row.expires_at !== null ? { expiresAt: row.expires_at as number } : {}),
        });
      }
      if (rows.length < 1000) return retained;
      after = { topic: rows[rows.length - 1]?.topic as string };
    }
  }

  /** Stores or, for an empty payload, deletes the topic's retained message [MQTT-3.3.1-6] [MQTT-3.3.1-7]. */
  async set(message: Message): Promise<void> {
    if (message.payload.length === 0) {
      this.byTopic.delete(message.topic);
      await this.store.delete(RETAINED_TABLE, { topic: message.topic });
      return;
    }
    const retained = { ...message, retain: true };
    delete retained.publisherClientId;
    this.byTopic.set(message.topic, retained);
    await this.store.put(RETAINED_TABLE, {
      topic: message.topic,
      qos: message.qos,
      updated_at: Date.now(),
      expires_at: message.expiresAt ?? null,
      payload: message.payload,
      properties: toStored(message.properties),
    });
  }

  /** Whether storing a message on `topic` would add a retained topic beyond `limit`. */
  wouldExceed(topic: string, limit: number): boolean {
    return !this.byTopic.has(topic) && this.byTopic.size >= limit;
  }

  get(topic: string): Message | undefined {
    return this.byTopic.get(topic);
  }

  all(): IterableIterator<Message> {
    return this.byTopic.values();
  }
}
