import type { QoS } from 'mqtt-packet';
import {
  readPage,
  UNREADABLE,
  type Migration,
  type Store,
  type StoreReader,
} from '../store/index.js';
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

/** A retained message, with when it was stored. */
export interface RetainedMessage extends Message {
  /** Epoch ms of the publish that stored it. */
  updatedAt: number;
}

/** One page of retained messages in topic order, and whether more follow the last. */
export interface RetainedPage {
  messages: RetainedMessage[];
  more: boolean;
}

/** Rows read from the store at a time while filling a page. */
const PAGE_SCAN_BATCH = 200;

function isLive(message: Message, now: number): boolean {
  return message.expiresAt === undefined || message.expiresAt > now;
}

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
  private readonly byTopic = new Map<string, RetainedMessage>();

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
          updatedAt: row.updated_at as number,
        });
      }
      if (rows.length < 1000) return retained;
      after = { topic: rows[rows.length - 1]?.topic as string };
    }
  }

  /**
   * Up to `limit` stored retained messages after the topic `after`, in topic order, read from the
   * store as one page (not from a broker's memory, so any process may walk them): the unexpired
   * ones' payloads (messages whose key cannot open them are passed over), and the topic the next
   * page starts after (absent after the last).
   */
  static async storedPage(
    store: StoreReader,
    after: string | undefined,
    limit: number,
    now = Date.now(),
  ): Promise<{ messages: { topic: string; payload: Buffer }[]; next?: string }> {
    const { rows, last } = await readPage(
      store,
      RETAINED_TABLE,
      after === undefined ? undefined : { topic: after },
      limit,
    );
    const messages: { topic: string; payload: Buffer }[] = [];
    for (const row of rows) {
      const expiresAt = row.expires_at as number | null;
      if (UNREADABLE in row || !Buffer.isBuffer(row.payload)) continue;
      if (expiresAt !== null && expiresAt <= now) continue;
      messages.push({ topic: row.topic as string, payload: row.payload });
    }
    return last ? { messages, next: last.topic as string } : { messages };
  }

  /** Stores or, for an empty payload, deletes the topic's retained message [MQTT-3.3.1-6] [MQTT-3.3.1-7]. */
  async set(message: Message): Promise<void> {
    if (message.payload.length === 0) {
      this.byTopic.delete(message.topic);
      await this.store.delete(RETAINED_TABLE, { topic: message.topic });
      return;
    }
    const retained: RetainedMessage = { ...message, retain: true, updatedAt: Date.now() };
    delete retained.publisherClientId;
    this.byTopic.set(message.topic, retained);
    await this.store.put(RETAINED_TABLE, {
      topic: message.topic,
      qos: message.qos,
      updated_at: retained.updatedAt,
      expires_at: message.expiresAt ?? null,
      payload: message.payload,
      properties: toStored(message.properties),
    });
  }

  /** Whether storing a message on `topic` would add a retained topic beyond `limit`. */
  wouldExceed(topic: string, limit: number): boolean {
    return !this.byTopic.has(topic) && this.byTopic.size >= limit;
  }

  /** The topic's retained message, unless there is none or it has expired. */
  get(topic: string, now = Date.now()): RetainedMessage | undefined {
    const message = this.byTopic.get(topic);
    return message && isLive(message, now) ? message : undefined;
  }

  all(): IterableIterator<Message> {
    return this.byTopic.values();
  }

  /**
   * Up to `limit` unexpired retained messages whose topics sort after `after`, in topic order.
   * The store's primary-key index gives the order (no sort of every topic per page); the
   * messages themselves come from memory.
   */
  async page(request: { after?: string; limit: number; now?: number }): Promise<RetainedPage> {
    const now = request.now ?? Date.now();
    const found: RetainedMessage[] = [];
    let after = request.after;
    for (;;) {
      const rows = await this.store.list(RETAINED_TABLE, {
        ...(after !== undefined ? { after: { topic: after } } : {}),
        limit: PAGE_SCAN_BATCH,
        // Only the topic is read here (the message comes from memory), so a sealed value that
        // cannot be opened does not fail the page.
        onUnreadable: 'mark',
      });
      for (const row of rows) {
        const message = this.get(row.topic as string, now);
        if (!message) continue;
        if (found.length === request.limit) return { messages: found, more: true };
        found.push(message);
      }
      if (rows.length < PAGE_SCAN_BATCH) return { messages: found, more: false };
      after = rows[rows.length - 1]?.topic as string;
    }
  }
}
