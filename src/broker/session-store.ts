import type { QoS } from 'mqtt-packet';
import {
  readPage,
  UNREADABLE,
  type Migration,
  type Row,
  type Store,
  type StoreWriter,
} from '../store/index.js';
import type { Principal } from './access.js';
import type { Delivery, MessageProperties } from './message.js';
import type { PendingWill, SubscriptionOptions } from './session.js';

const SESSIONS = 'broker_sessions';
const SESSION_MESSAGES = 'broker_session_messages';

export const sessionMigrations: Migration[] = [
  {
    id: 'broker-0002-sessions',
    steps: [
      {
        createTable: {
          name: SESSIONS,
          columns: {
            client_id: { type: 'text' },
            expiry_seconds: { type: 'integer' },
            disconnected_at: { type: 'integer', nullable: true },
            updated_at: { type: 'integer' },
          },
          primaryKey: ['client_id'],
          sealed: ['state'],
        },
      },
      {
        createTable: {
          name: SESSION_MESSAGES,
          columns: {
            client_id: { type: 'text' },
            seq: { type: 'integer' },
            stage: { type: 'text' },
            packet_id: { type: 'integer', nullable: true },
          },
          primaryKey: ['client_id', 'seq'],
          // Topic, properties and payload are what a device sent: sealed, packed together in
          // `payload` (see packDelivery); `delivery` is unused, kept only as the schema has it.
          sealed: ['delivery', 'payload'],
        },
      },
    ],
  },
];

/** Where a stored delivery stands: waiting behind the window, PUBLISH sent, or PUBREL sent. */
export type StoredStage = 'queued' | 'publish' | 'pubrel';

export interface StoredMessage {
  seq: number;
  stage: StoredStage;
  packetId?: number;
  delivery: Delivery;
}

export interface StoredSession {
  clientId: string;
  expirySeconds: number;
  /** Epoch ms the session went offline; for one that was online at a crash, its last update. */
  offlineSince: number;
  subscriptions: [string, SubscriptionOptions][];
  receivedQos2: number[];
  principal?: Principal;
  will?: PendingWill;
  messages: StoredMessage[];
  /** Deliveries left in the store beyond `messages`, all queued, all newer. */
  spilled: number;
  /** The sequence number after the newest stored delivery. */
  nextSeq: number;
}

/** What of a live session is kept. */
export interface PersistedSessionState {
  clientId: string;
  expirySeconds: number;
  offlineSince: number | undefined;
  subscriptions: Map<string, SubscriptionOptions>;
  receivedQos2: Set<number>;
  principal: Principal | undefined;
  will: PendingWill | undefined;
}

interface SessionStateColumn {
  subscriptions: [string, SubscriptionOptions][];
  receivedQos2: number[];
  principal?: { id: string; kind: Principal['kind'] };
  /** The will message packed as a delivery (packDelivery), base64. */
  will?: { packed: string; delaySeconds: number; dueAt?: number };
}

interface StoredDelivery {
  topic: string;
  qos: QoS;
  retain: boolean;
  messageQos: QoS;
  messageRetain: boolean;
  subscriptionIdentifiers: number[];
  expiresAt?: number;
  properties: Omit<MessageProperties, 'correlationData'> & { correlationData?: string };
}

function toStored(delivery: Delivery): StoredDelivery {
  const { correlationData, ...properties } = delivery.message.properties;
  return {
    topic: delivery.message.topic,
    qos: delivery.qos,
    retain: delivery.retain,
    messageQos: delivery.message.qos,
    messageRetain: delivery.message.retain,
    subscriptionIdentifiers: delivery.subscriptionIdentifiers,
    ...(delivery.message.expiresAt !== undefined ? { expiresAt: delivery.message.expiresAt } : {}),
    properties: correlationData
      ? { ...properties, correlationData: correlationData.toString('base64') }
      : properties,
  };
}

function fromStored(stored: StoredDelivery, payload: Buffer): Delivery {
  const { correlationData, ...properties } = stored.properties;
  return {
    message: {
      topic: stored.topic,
      payload,
      qos: stored.messageQos,
      retain: stored.messageRetain,
      properties: correlationData
        ? { ...properties, correlationData: Buffer.from(correlationData, 'base64') }
        : properties,
      ...(stored.expiresAt !== undefined ? { expiresAt: stored.expiresAt } : {}),
    },
    qos: stored.qos,
    retain: stored.retain,
    subscriptionIdentifiers: stored.subscriptionIdentifiers,
  };
}

/** A delivery as one value: the JSON description's length (4 bytes), the JSON, the payload. */
function packDelivery(delivery: Delivery): Buffer {
  const description = Buffer.from(JSON.stringify(toStored(delivery)), 'utf8');
  const packed = Buffer.allocUnsafe(4 + description.length + delivery.message.payload.length);
  packed.writeUInt32BE(description.length, 0);
  description.copy(packed, 4);
  delivery.message.payload.copy(packed, 4 + description.length);
  return packed;
}

function unpackDelivery(packed: Buffer): Delivery {
  const length = packed.readUInt32BE(0);
  const description = JSON.parse(packed.toString('utf8', 4, 4 + length)) as StoredDelivery;
  return fromStored(description, Buffer.from(packed.subarray(4 + length)));
}

function packWill(will: PendingWill): NonNullable<SessionStateColumn['will']> {
  const { message } = will;
  const delivery = {
    message,
    qos: message.qos,
    retain: message.retain,
    subscriptionIdentifiers: [],
  };
  return {
    packed: packDelivery(delivery).toString('base64'),
    delaySeconds: will.delaySeconds,
    ...(will.dueAt !== undefined ? { dueAt: will.dueAt } : {}),
  };
}

function unpackWill(stored: NonNullable<SessionStateColumn['will']>): PendingWill {
  return {
    message: unpackDelivery(Buffer.from(stored.packed, 'base64')).message,
    delaySeconds: stored.delaySeconds,
    ...(stored.dueAt !== undefined ? { dueAt: stored.dueAt } : {}),
  };
}

interface UnflushedDelivery {
  clientId: string;
  message: StoredMessage;
  cancelled: boolean;
  onCancel(): void;
}

/** How long a write waits for others to share its commit, and for acknowledgements to cancel it. */
const COMMIT_DELAY_MS = 1;
/**
 * How long QoS 1 deliveries to connected clients may wait for their acknowledgements instead of
 * being written. One queued behind the client's window is acknowledged within a few ms when the
 * client keeps up; written after 1 ms, most of them were sealed, written and deleted again, which
 * was most of the broker's work under QoS 1 load. It delays the publisher's PUBACK only for a
 * delivery its client does not acknowledge meanwhile.
 */
export const ACK_WAIT_MS = 10;
/**
 * A flush also takes the writes due this much later, so flushes (fsyncs) come at most about this
 * often while deliveries wait for acknowledgements, and each such delivery waits at least
 * ACK_WAIT_MS less this.
 */
const FLUSH_AHEAD_MS = ACK_WAIT_MS / 2;

interface PendingWrite {
  apply: (tx: StoreWriter) => Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
  /** Epoch ms by which the write is to be flushed. */
  dueAt: number;
  /**
   * Called as the write is taken into a flush; false when nothing is left to write (every
   * delivery was acknowledged meanwhile), so the write is settled without a transaction.
   */
  taken?: () => boolean;
}

function messageFromRow(row: Row): StoredMessage {
  return {
    seq: row.seq as number,
    stage: row.stage as StoredStage,
    ...(row.packet_id !== null ? { packetId: row.packet_id as number } : {}),
    delivery: unpackDelivery(row.payload as Buffer),
  };
}

/**
 * Persistent sessions in the store, sealed: subscriptions, the QoS 2 packet ids awaiting PUBREL,
 * and every QoS 1/2 message for the session with its stage. The broker writes here before it
 * acknowledges, so an acknowledged message survives a crash and QoS 2 stays exactly once.
 */
export class SessionStore {
  private readonly store: Store;
  private readonly pending: PendingWrite[] = [];
  /** When the scheduled flush is due (Infinity: none is), and its timer. */
  private flushDueAt = Number.POSITIVE_INFINITY;
  private flushTimer: NodeJS.Timeout | undefined;
  /**
   * Deliveries asked to be stored but not yet flushed, by client id, then sequence number (no key
   * string built per message). One acknowledged before its flush is never written at all: the
   * message already reached the client, so there is nothing left to survive a crash
   * (write-behind; the common case for a subscriber keeping up).
   */
  private readonly unflushed = new Map<string, Map<number, UnflushedDelivery>>();
  private flushing: Promise<void> | undefined;

  constructor(store: Store) {
    this.store = store;
  }

  private sessionRow(session: PersistedSessionState) {
    const state: SessionStateColumn = {
      subscriptions: [...session.subscriptions],
      receivedQos2: [...session.receivedQos2],
      // The certificate itself is not kept: the principal's id is what policies are asked about.
      ...(session.principal
        ? { principal: { id: session.principal.id, kind: session.principal.kind } }
        : {}),
      ...(session.will ? { will: packWill(session.will) } : {}),
    };
    return {
      client_id: session.clientId,
      expiry_seconds: session.expirySeconds,
      disconnected_at: session.offlineSince ?? null,
      updated_at: Date.now(),
      state,
    };
  }

  private messageRow(clientId: string, message: StoredMessage) {
    return {
      client_id: clientId,
      seq: message.seq,
      stage: message.stage,
      packet_id: message.packetId ?? null,
      // One sealed value per delivery (its description and payload packed together): sealing is
      // most of the cost of storing one. The `delivery` column is unused since.
      delivery: null,
      payload: packDelivery(message.delivery),
    };
  }

  /**
   * Group commit: the writes asked for before a flush go into one transaction, in the order asked,
   * so many connections' acknowledgements share one fsync. Each caller's promise settles when its
   * write is durable (or failed).
   */
  private write(
    apply: (tx: StoreWriter) => Promise<void>,
    delayMs: number = COMMIT_DELAY_MS,
    taken?: () => boolean,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      const dueAt = Date.now() + delayMs;
      this.pending.push({ apply, resolve, reject, dueAt, ...(taken ? { taken } : {}) });
      this.scheduleFlush(dueAt);
    });
  }

  private scheduleFlush(dueAt: number): void {
    if (dueAt >= this.flushDueAt) return;
    clearTimeout(this.flushTimer);
    this.flushDueAt = dueAt;
    // The timer, then one more poll phase (setImmediate runs after it), so acknowledgements
    // already waiting on sockets are read first, even when the event loop was blocked (a
    // synchronous SQLite fsync blocks it).
    this.flushTimer = setTimeout(
      () => setImmediate(() => void this.flush()),
      Math.max(0, dueAt - Date.now()),
    );
  }

  /** Writes everything still held (at shutdown, before the store closes). */
  async close(): Promise<void> {
    clearTimeout(this.flushTimer);
    await this.flush(Number.POSITIVE_INFINITY);
  }

  /**
   * Writes every write due by `horizon`, and every write asked for before the last of them (so
   * the order holds); younger writes after them wait for the next flush.
   */
  private async flush(horizon = Date.now() + FLUSH_AHEAD_MS): Promise<void> {
    await this.flushing;
    this.flushDueAt = Number.POSITIVE_INFINITY;
    this.flushTimer = undefined;
    let count = this.pending.length;
    while (count > 0 && (this.pending[count - 1] as PendingWrite).dueAt > horizon) count -= 1;
    const batch: PendingWrite[] = [];
    for (const write of this.pending.splice(0, count)) {
      if (!write.taken || write.taken()) batch.push(write);
      else write.resolve();
    }
    if (this.pending.length > 0)
      this.scheduleFlush(this.pending.reduce((due, write) => Math.min(due, write.dueAt), Infinity));
    if (batch.length === 0) return;
    this.flushing = this.store
      .transaction(async (tx) => {
        for (const write of batch) await write.apply(tx);
      })
      .then(
        () => batch.forEach((write) => write.resolve()),
        (error: unknown) => batch.forEach((write) => write.reject(error)),
      );
    await this.flushing;
  }

  saveSession(session: PersistedSessionState): Promise<void> {
    const row = this.sessionRow(session);
    return this.write((tx) => tx.put(SESSIONS, row));
  }

  deleteSession(clientId: string): Promise<void> {
    return this.write(async (tx) => {
      await tx.deleteWhere(SESSION_MESSAGES, { client_id: clientId });
      await tx.delete(SESSIONS, { client_id: clientId });
    });
  }

  /**
   * Stores deliveries for several sessions, and the publisher's session (its QoS 2 receipts),
   * together. Settles once every delivery is durable, or was acknowledged by its client before
   * it had to be (then it is never written): either way the publisher may be acknowledged.
   * `ackWaitMs` is how long the deliveries may wait for those acknowledgements (ACK_WAIT_MS when
   * their clients are connected and will be sent them).
   */
  commit(
    entries: { clientId: string; message: StoredMessage }[],
    publisher?: PersistedSessionState,
    ackWaitMs: number = COMMIT_DELAY_MS,
  ): Promise<void> {
    const publisherRow = publisher && this.sessionRow(publisher);
    return new Promise((resolve, reject) => {
      let unacknowledged = entries.length;
      const pending = entries.map(({ clientId, message }) => {
        const entry: UnflushedDelivery = {
          clientId,
          message,
          cancelled: false,
          // Without a receipt to store, the last acknowledgement settles the commit early.
          onCancel: () => --unacknowledged === 0 && !publisherRow && resolve(),
        };
        let ofClient = this.unflushed.get(clientId);
        if (!ofClient) this.unflushed.set(clientId, (ofClient = new Map()));
        ofClient.set(message.seq, entry);
        return entry;
      });
      this.write(
        async (tx) => {
          for (const entry of pending)
            if (!entry.cancelled)
              await tx.put(SESSION_MESSAGES, this.messageRow(entry.clientId, entry.message));
          if (publisherRow) await tx.put(SESSIONS, publisherRow);
        },
        ackWaitMs,
        // From here on these deliveries are on their way: a later removal is a real delete.
        () => {
          let left = publisherRow !== undefined;
          for (const entry of pending) {
            if (entry.cancelled) continue;
            left = true;
            this.forgetUnflushed(entry);
          }
          return left;
        },
      ).then(resolve, reject);
    });
  }

  /** Takes a delivery out of `unflushed`, if it is still the one held there. */
  private forgetUnflushed(entry: UnflushedDelivery): void {
    const ofClient = this.unflushed.get(entry.clientId);
    if (ofClient?.get(entry.message.seq) !== entry) return;
    ofClient.delete(entry.message.seq);
    if (ofClient.size === 0) this.unflushed.delete(entry.clientId);
  }

  /** Records new stages (and packet ids) of stored deliveries. */
  setStages(clientId: string, messages: StoredMessage[]): Promise<void> {
    const rows: Row[] = [];
    for (const message of messages) {
      const entry = this.unflushed.get(clientId)?.get(message.seq);
      // Not written yet: it will be written with its new stage.
      if (entry) entry.message = message;
      else rows.push(this.messageRow(clientId, message));
    }
    if (rows.length === 0) return Promise.resolve();
    return this.write(async (tx) => {
      for (const row of rows) await tx.put(SESSION_MESSAGES, row);
    });
  }

  /**
   * Forgets a stored delivery: one not yet written is never written. A written one's delete waits
   * as long as deliveries may wait for acknowledgements, as nothing waits on it being durable
   * (see Broker.forgetStored); a delete that pulled the flush forward would make every delivery
   * still waiting for its acknowledgement be written, and then deleted too.
   */
  removeMessage(clientId: string, seq: number): Promise<void> {
    const entry = this.unflushed.get(clientId)?.get(seq);
    if (entry) {
      entry.cancelled = true;
      this.forgetUnflushed(entry);
      entry.onCancel();
      return Promise.resolve();
    }
    return this.write(async (tx) => {
      await tx.delete(SESSION_MESSAGES, { client_id: clientId, seq });
    }, ACK_WAIT_MS);
  }

  /**
   * The session's stored deliveries after `afterSeq`, oldest first. It runs in the write queue,
   * after every write already asked for, so a delivery stored a moment ago is found.
   */
  loadAfter(clientId: string, afterSeq: number, limit: number): Promise<StoredMessage[]> {
    let messages: StoredMessage[] = [];
    return this.write(async (tx) => {
      messages = (
        await tx.list(SESSION_MESSAGES, {
          where: { client_id: clientId },
          after: { client_id: clientId, seq: afterSeq },
          limit,
        })
      ).map(messageFromRow);
    }).then(() => messages);
  }

  /**
   * Up to `limit` stored deliveries of every session after `after`, in (client id, sequence)
   * order, read as one page: each one's topic and payload, queued or in flight (deliveries whose
   * key cannot open them are passed over), and where the next page starts (absent after the
   * last). Deliveries not yet flushed are not in the store, so not here.
   */
  async messagePage(
    after: { clientId: string; seq: number } | undefined,
    limit: number,
  ): Promise<{
    messages: { clientId: string; seq: number; topic: string; payload: Buffer }[];
    next?: { clientId: string; seq: number };
  }> {
    const { rows, last } = await readPage(
      this.store,
      SESSION_MESSAGES,
      after ? { client_id: after.clientId, seq: after.seq } : undefined,
      limit,
    );
    const messages: { clientId: string; seq: number; topic: string; payload: Buffer }[] = [];
    for (const row of rows) {
      if (UNREADABLE in row || !Buffer.isBuffer(row.payload)) continue;
      const { message } = unpackDelivery(row.payload);
      messages.push({
        clientId: row.client_id as string,
        seq: row.seq as number,
        topic: message.topic,
        payload: message.payload,
      });
    }
    return last
      ? { messages, next: { clientId: last.client_id as string, seq: last.seq as number } }
      : { messages };
  }

  /**
   * Every stored session with at most `maxMessages` of its deliveries (the oldest: those in
   * flight, then the head of the queue) and how many more wait in the store.
   */
  async loadAll(maxMessages: number): Promise<StoredSession[]> {
    const sessions: StoredSession[] = [];
    for (const row of await this.store.list(SESSIONS)) {
      const clientId = row.client_id as string;
      const state = row.state as SessionStateColumn;
      const messages = (
        await this.store.list(SESSION_MESSAGES, {
          where: { client_id: clientId },
          limit: maxMessages,
        })
      ).map(messageFromRow);
      const total = await this.store.count(SESSION_MESSAGES, { client_id: clientId });
      const [newest] = await this.store.list(SESSION_MESSAGES, {
        where: { client_id: clientId },
        newestFirst: true,
        limit: 1,
      });
      sessions.push({
        clientId,
        expirySeconds: row.expiry_seconds as number,
        offlineSince: (row.disconnected_at ?? row.updated_at) as number,
        subscriptions: state.subscriptions,
        receivedQos2: state.receivedQos2,
        ...(state.principal ? { principal: state.principal } : {}),
        ...(state.will ? { will: unpackWill(state.will) } : {}),
        messages: messages.sort((a, b) => a.seq - b.seq),
        spilled: total - messages.length,
        nextSeq: newest ? (newest.seq as number) + 1 : 0,
      });
    }
    return sessions;
  }
}
