import type { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { QoS } from 'mqtt-packet';
import type { PayloadGuard, PayloadVerdict } from '../guard/payload-guard.js';
import type { Logger } from '../logs/logger.js';
import type {
  AccessControl,
  BrokerAction,
  ConnectionFacts,
  PayloadPublisher,
  Principal,
  SensitivePayloadReports,
} from './access.js';
import { Connection, type Will } from './connection.js';
import {
  Verbosity,
  writePublishOut,
  type BrokerEvent,
  type BrokerEvents,
  type DeliveryFailure,
} from './events.js';
import { LifecycleEvents } from './lifecycle.js';
import type { BrokerLimits } from './limits.js';
import { ownPayload, type Delivery, type Message } from './message.js';
import { sendPublish, type EncodedPublishes } from './outbound-publish.js';
import { Reason } from './reason-codes.js';
import type { RetainedMessages } from './retained.js';
import { Session, type InflightDelivery, type SubscriptionOptions } from './session.js';
import {
  ACK_WAIT_MS,
  type SessionStore,
  type StoredMessage,
  type StoredSession,
} from './session-store.js';
import { matchesFilter, TopicIndex } from './topics/topic-index.js';
import type { TopicLimits } from './topics/topic-validation.js';
import type { TopicService } from './topic-services.js';

interface Subscriber {
  session: Session;
  options: SubscriptionOptions;
}

/** The client a PUBLISH came from: held back when its subscribers fall behind. */
export interface Publisher {
  connection: Connection;
  /** Store the publisher's session (its QoS 2 receipts) with the deliveries, in one transaction. */
  storeReceipts: boolean;
}

const RECEIVE_DENIED: DeliveryFailure = {
  level: Verbosity.ERROR,
  reason: 'AUTHORIZATION_FAILURE',
  details: 'not authorized to receive messages on this topic',
};
const BACKLOG_DROPPED: DeliveryFailure = {
  level: Verbosity.WARN,
  reason: 'CLIENT_BACKLOG',
  details: 'QoS 0 message dropped: the client is too far behind',
};
const QUEUE_FULL: DeliveryFailure = {
  level: Verbosity.WARN,
  reason: 'QUEUE_FULL',
  details: "message dropped: the session's queue is full",
};

/** What the broker counts for metrics (the app wires it to Prometheus counters). */
export interface BrokerObserver {
  /** A request refused: by authentication at CONNECT, or by policy for an action. */
  denied(action: BrokerAction | 'authenticate'): void;
  /** A message dropped for one subscriber: QoS 0 to a backlogged connection, or past a queue limit. */
  dropped(reason: 'backlog' | 'queue-limit'): void;
}

export interface BrokerOptions {
  access: AccessControl;
  observer?: BrokerObserver;
  /** Device log entries (AWS IoT's Connect, Publish-In, …), written per client at its log level. */
  events?: BrokerEvents;
  limits: BrokerLimits;
  retained: RetainedMessages;
  sessionStore: SessionStore;
  /** Services answering requests on reserved topics (device shadows). */
  services?: TopicService[];
  /**
   * The inline check of payloads clients publish (`guard.inline`), over MQTT and HTTPS, after
   * authorization and before anything is routed, retained or stored.
   */
  payloadGuard?: PayloadGuard;
  /** Where publishes the payload guard flagged or refused are reported (the audit trail). */
  payloadReports?: SensitivePayloadReports;
  logger: Logger;
}

/** One subscription's delivery of a message: QoS downgraded to the subscription's [MQTT-3.8.4-6]. */
function deliveryFor(message: Message, options: SubscriptionOptions, retain: boolean): Delivery {
  return {
    message,
    qos: Math.min(message.qos, options.qos) as QoS,
    retain,
    subscriptionIdentifiers:
      options.subscriptionIdentifier !== undefined ? [options.subscriptionIdentifier] : [],
  };
}

/** A subscriber's unsent bytes beyond which its publishers wait for it to catch up (backpressure). */
const HOLD_BACKLOG_BYTES = 256 * 1024;
/** A slow consumer's unsent bytes beyond which QoS 0 messages to it are dropped (and counted). */
const QOS0_BACKLOG_BYTES = 1024 * 1024;
const SWEEP_MS = 1000;

/**
 * The broker core: sessions, the subscription index, routing with per-subscriber QoS and flow
 * control, retained messages and wills. Transports hand it sockets; identity and policy come
 * in through `access`, and are asked on every connect, publish, subscribe and delivery.
 */
export class Broker {
  readonly access: AccessControl;
  private readonly observer: BrokerObserver | undefined;
  readonly events: BrokerEvents | undefined;
  readonly limits: BrokerLimits;
  readonly topicLimits: TopicLimits;
  readonly logger: Logger;
  /** Retained messages, for the data plane's GetRetainedMessage and ListRetainedMessages. */
  readonly retained: RetainedMessages;
  private readonly sessionStore: SessionStore;
  private readonly services: TopicService[];
  readonly payloadGuard: PayloadGuard | undefined;
  private readonly payloadReports: SensitivePayloadReports | undefined;
  private readonly sessions = new Map<string, Session>();
  private readonly index = new TopicIndex<Subscriber>();
  private readonly connections = new Set<Connection>();
  private accepted = 0;
  /** Set once `close` has begun: no connection is taken from then on. */
  private closing = false;
  /** Ends `close`'s wait for the last connection to close. */
  private allClosed: (() => void) | undefined;
  private readonly pendingWills = new Map<Session, { will: Will; timer: NodeJS.Timeout }>();
  private readonly sweepTimer: NodeJS.Timeout;
  readonly lifecycle: LifecycleEvents;
  private lastLifecyclePrune = Date.now();

  constructor(options: BrokerOptions) {
    this.access = options.access;
    this.observer = options.observer;
    this.events = options.events;
    this.limits = options.limits;
    this.topicLimits = {
      maxTopicBytes: options.limits.maxTopicBytes,
      maxSlashes: options.limits.maxTopicSlashes,
    };
    this.retained = options.retained;
    this.sessionStore = options.sessionStore;
    this.services = options.services ?? [];
    this.payloadGuard = options.payloadGuard;
    this.payloadReports = options.payloadReports;
    this.logger = options.logger.child({ component: 'broker' });
    this.lifecycle = new LifecycleEvents(
      (message) => this.publishInBackground(message, 'lifecycle event'),
      (topic) => this.hasSubscribers(topic),
    );
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  /** Takes a new client socket from a transport (after its TLS handshake, if any). */
  accept(socket: Duplex, facts: ConnectionFacts, certificate?: X509Certificate): void {
    if (this.closing) {
      socket.destroy();
      return;
    }
    this.accepted++;
    this.connections.add(new Connection(this, socket, facts, certificate));
  }

  /** Connections taken from the transports since start, closed ones included. */
  get connectionsAccepted(): number {
    return this.accepted;
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Binds a connection to its session: resumed, new, or taken over from another connection. */
  async attachSession(
    connection: Connection,
    cleanStart: boolean,
    expirySeconds: number,
  ): Promise<{ session: Session; present: boolean }> {
    let session = this.sessions.get(connection.clientId);
    if (session) {
      clearTimeout(session.expiryTimer);
      const pending = this.pendingWills.get(session);
      // [MQTT-3.1.3-9] A delayed will is not sent if the session reconnects in time.
      if (pending) {
        clearTimeout(pending.timer);
        this.pendingWills.delete(session);
      }
      const previous = session.connection;
      if (previous) {
        // [MQTT-3.1.4-3] A second connection with the same client id takes the session over.
        session.connection = undefined;
        previous.disconnect(Reason.SessionTakenOver, 'another connection with the same client id');
        if (!previous.closedNormally && previous.will)
          this.publishInBackground(previous.will.message, 'will message');
      }
      if (cleanStart) {
        await this.endSession(session);
        session = undefined;
      }
    }
    const present = session !== undefined;
    session ??= new Session(connection.clientId);
    session.connection = connection;
    session.expirySeconds = expirySeconds;
    session.offlineSince = undefined;
    session.principal = connection.principal;
    session.will = connection.will ? { ...connection.will } : undefined;
    connection.session = session;
    this.sessions.set(session.clientId, session);
    // A persistent session is on disk before CONNACK says it exists.
    await this.saveSession(session);
    return { session, present };
  }

  private isPersistent(session: Session): boolean {
    return session.expirySeconds > 0;
  }

  /** Saves a persistent session's subscriptions and QoS 2 receipts; none for a clean session. */
  async saveSession(session: Session): Promise<void> {
    if (!this.isPersistent(session)) return;
    session.stored = true;
    await this.sessionStore.saveSession(session);
  }

  /** A CONNECT whose credentials no principal answers to. */
  countUnauthenticated(connection: Connection): void {
    this.observer?.denied('authenticate');
    this.logger.info(
      { clientId: connection.clientId, remoteAddress: connection.facts.remoteAddress },
      'CONNECT refused: no accepted credentials',
    );
  }

  /** Sessions that were persistent when the broker last stopped, with their stored messages. */
  async restoreSessions(): Promise<number> {
    const now = Date.now();
    let restored = 0;
    const wills: [Session, StoredSession, number][] = [];
    const inMemory = this.limits.maxInflight + this.limits.maxQueuedMessages;
    for (const stored of await this.sessionStore.loadAll(inMemory)) {
      const remainingMs = stored.offlineSince + stored.expirySeconds * 1000 - now;
      if (remainingMs <= 0) {
        await this.sessionStore.deleteSession(stored.clientId);
        continue;
      }
      wills.push([this.restoreSession(stored, remainingMs), stored, remainingMs]);
      restored += 1;
    }
    // Once every session (and so every subscription) is back: a will whose connection was up at
    // the crash is due now (after its delay), a delayed one keeps its time; either way no later
    // than its session's end, which would send it too.
    for (const [session, { will: pending }, remainingMs] of wills) {
      if (!pending) continue;
      const { dueAt, ...will } = pending;
      const delayMs = dueAt === undefined ? will.delaySeconds * 1000 : dueAt - now;
      this.scheduleWill(session, will, Math.min(delayMs, remainingMs));
    }
    return restored;
  }

  private restoreSession(stored: StoredSession, remainingMs: number): Session {
    const session = new Session(stored.clientId);
    session.stored = true;
    session.expirySeconds = stored.expirySeconds;
    session.offlineSince = stored.offlineSince;
    if (stored.principal) session.principal = stored.principal;
    for (const [filter, options] of stored.subscriptions) this.subscribe(session, filter, options);
    for (const packetId of stored.receivedQos2) session.receivedQos2.add(packetId);
    for (const message of stored.messages) {
      message.delivery.seq = message.seq;
      session.lastSeqInMemory = message.seq;
      if (message.stage !== 'queued' && message.packetId !== undefined) {
        session.inflight.set(message.packetId, {
          packetId: message.packetId,
          delivery: message.delivery,
          stage: message.stage,
        });
      } else {
        session.queue.push(message.delivery);
      }
    }
    session.spilled = stored.spilled;
    session.nextSeq = stored.nextSeq;

    session.expiryTimer = setTimeout(() => void this.endSession(session), remainingMs);
    session.expiryTimer.unref();
    this.sessions.set(session.clientId, session);
    return session;
  }

  /** After CONNACK: re-sends what was in flight [MQTT-4.4.0-1], then what was queued. */
  async resumeSession(session: Session): Promise<void> {
    const connection = session.connection;
    if (!connection) return;
    for (const inflight of session.inflight.values()) {
      if (inflight.stage === 'pubrel')
        connection.send({ cmd: 'pubrel', messageId: inflight.packetId });
      else sendPublish(connection, inflight.delivery, inflight.packetId, true);
    }
    await this.drainQueue(session);
  }

  connectionClosed(connection: Connection): void {
    this.connections.delete(connection);
    // `close` goes on once this call has returned, the session below saved as offline.
    if (this.closing && this.connections.size === 0) this.allClosed?.();
    if (connection.session) {
      this.lifecycle.disconnected(connection);
      if (connection.logsAt(Verbosity.INFO))
        connection.log!.write({
          eventType: 'Disconnect',
          level: Verbosity.INFO,
          status: 'Success',
          disconnectReason: connection.disconnectReason ?? 'CONNECTION_LOST',
          ...(connection.disconnectDetails ? { details: connection.disconnectDetails } : {}),
        });
    }
    const session = connection.session;
    if (!session || session.connection !== connection) return;
    session.connection = undefined;
    session.will = undefined;
    if (!connection.closedNormally && connection.will)
      this.scheduleWill(
        session,
        connection.will,
        Math.min(connection.will.delaySeconds, session.expirySeconds) * 1000,
      );
    if (session.expirySeconds === 0) {
      void this.endSession(session);
      return;
    }
    session.offlineSince = Date.now();
    this.saveSession(session).catch((error: unknown) =>
      this.logger.error(
        { err: error, clientId: session.clientId },
        'could not store the session going offline',
      ),
    );
    session.expiryTimer = setTimeout(
      () => void this.endSession(session),
      session.expirySeconds * 1000,
    );
    session.expiryTimer.unref();
  }

  /** Sends a will after `delayMs` [MQTT-3.1.3-9], kept with a persistent session meanwhile. */
  private scheduleWill(session: Session, will: Will, delayMs: number): void {
    if (delayMs <= 0) return this.publishInBackground(will.message, 'will message');
    session.will = { ...will, dueAt: Date.now() + delayMs };
    const timer = setTimeout(() => {
      this.pendingWills.delete(session);
      session.will = undefined;
      this.publishInBackground(will.message, 'will message');
      // Sent: a restart must not send it again.
      if (session.stored)
        this.saveSession(session).catch((error: unknown) =>
          this.logger.error(
            { err: error, clientId: session.clientId },
            'could not store the session',
          ),
        );
    }, delayMs);
    timer.unref();
    this.pendingWills.set(session, { will, timer });
  }

  /** Publishes a message no client waits on (a will, a lifecycle event); failures are logged. */
  private publishInBackground(message: Message, what: string): void {
    this.publish(message).catch((error: unknown) =>
      this.logger.error({ err: error, topic: message.topic }, `${what} could not be published`),
    );
  }

  /** Ends a session: its delayed will goes out now [MQTT-3.1.3-9], its state is removed. */
  private async endSession(session: Session): Promise<void> {
    clearTimeout(session.expiryTimer);
    const pending = this.pendingWills.get(session);
    if (pending) {
      clearTimeout(pending.timer);
      this.pendingWills.delete(session);
      this.publishInBackground(pending.will.message, 'will message');
    }
    for (const filter of session.subscriptions.keys()) this.index.remove(session.clientId, filter);
    session.subscriptions.clear();
    session.queue.length = 0;
    session.spilled = 0;
    session.inflight.clear();
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
    if (!session.stored) return;
    session.stored = false;
    await this.sessionStore
      .deleteSession(session.clientId)
      .catch((error: unknown) =>
        this.logger.error(
          { err: error, clientId: session.clientId },
          'could not delete an ended session',
        ),
      );
  }

  subscribe(session: Session, filter: string, options: SubscriptionOptions): void {
    session.subscriptions.set(filter, options);
    this.index.add(session.clientId, filter, { session, options });
  }

  unsubscribe(session: Session, filter: string): boolean {
    if (!session.subscriptions.delete(filter)) return false;
    this.index.remove(session.clientId, filter);
    return true;
  }

  /** Whether a retained publish on `topic` would go past the retained-message quota. */
  retainedQuotaReached(topic: string): boolean {
    return this.retained.wouldExceed(topic, this.limits.maxRetainedMessages);
  }

  /**
   * Routes a message. A retained one is stored first, and so is every QoS 1/2 delivery to a
   * persistent session (with the publisher's QoS 2 receipt, in the same transaction), so once
   * this resolves the publisher may be acknowledged: the message survives a crash. A client's
   * message (from `requester`, by default the publisher's connection) on a service's reserved
   * topic is also handed to that service.
   */
  async publish(
    message: Message,
    publisher?: Publisher,
    requester: object | undefined = publisher?.connection,
  ): Promise<void> {
    await this.publishFrom(message, publisher, requester);
  }

  /**
   * As `publish`, with a promise only when there is something to wait for (a retained message or
   * a delivery being stored): a QoS 0 message is routed and sent without one, which is most of
   * what a busy broker does.
   */
  publishFrom(
    message: Message,
    publisher?: Publisher,
    requester: object | undefined = publisher?.connection,
  ): Promise<void> | undefined {
    if (requester) this.requestService(message, requester);
    if (message.retain) {
      ownPayload(message);
      return this.retained.set(message).then(() => this.dispatch(this.route(message), publisher));
    }
    return this.dispatch(this.route(message), publisher);
  }

  /** Hands a client's publish on a reserved service topic (a shadow request) to its service. */
  private requestService(message: Message, requester: object): void {
    if (this.services.length === 0 || !message.topic.startsWith('$aws/')) return;
    const service = this.services.find((candidate) => candidate.accepts(message.topic));
    if (!service) return;
    const connection = requester instanceof Connection ? requester : undefined;
    service.request({
      topic: message.topic,
      payload: message.payload,
      requester,
      ...(connection ? { report: (event: BrokerEvent) => connection.logEvent(event) } : {}),
    });
  }

  /** Whether any subscription, shared or not, matches `topic`. */
  private hasSubscribers(topic: string): boolean {
    const matches = this.index.match(topic);
    return matches.subscriptions.length > 0 || matches.sharedGroups.length > 0;
  }

  /** Who gets the message, at which QoS, with which flags; authorized per recipient. */
  private route(message: Message): [Session, Delivery][] {
    // [MQTT-3.3.4-2..5] One delivery per session for overlapping subscriptions, at the highest
    // QoS among them, carrying every matching subscription identifier.
    const perSession = new Map<Session, Delivery>();
    const matches = this.index.match(message.topic);
    for (const match of matches.subscriptions) {
      const { session, options } = match.value;
      // [MQTT-3.8.3-3] No Local: not back to the publisher.
      if (options.noLocal && message.publisherClientId === session.clientId) continue;
      const delivery = perSession.get(session);
      const qos = Math.min(message.qos, options.qos) as QoS;
      // [MQTT-3.3.1-12] [MQTT-3.3.1-13] Retain As Published, else RETAIN is cleared on forwarding.
      const retain = options.retainAsPublished && message.retain;
      if (!delivery) {
        perSession.set(session, deliveryFor(message, options, retain));
      } else {
        delivery.qos = Math.max(delivery.qos, qos) as QoS;
        delivery.retain ||= retain;
        if (options.subscriptionIdentifier !== undefined)
          delivery.subscriptionIdentifiers.push(options.subscriptionIdentifier);
      }
    }
    const deliveries: [Session, Delivery][] = [];
    for (const group of matches.sharedGroups) {
      // A connected member if there is one; otherwise the message waits in an offline member's session.
      const member =
        group.pick((candidate) => candidate.value.session.connection !== undefined) ?? group.pick();
      if (!member) continue;
      const { session, options } = member.value;
      deliveries.push([session, deliveryFor(message, options, false)]);
    }
    deliveries.push(...perSession);
    return deliveries.filter(([session, delivery]) => this.mayReceive(session, delivery.message));
  }

  /** The policy check on every delivery (iot:Receive); a restored session without a principal yet is let through. */
  private mayReceive(session: Session, message: Message): boolean {
    if (!session.principal) return true;
    const allowed = this.access.authorize(
      session.principal,
      'receive',
      message.topic,
      session.clientId,
    );
    if (!allowed) {
      this.observer?.denied('receive');
      const connection = session.connection;
      if (connection?.logsAt(Verbosity.ERROR))
        writePublishOut(connection.log!, message, RECEIVE_DENIED);
    }
    return allowed;
  }

  /** Retained messages for a new subscription, flagged RETAIN [MQTT-3.3.1-8]. */
  async sendRetained(
    session: Session,
    filter: string,
    options: SubscriptionOptions,
  ): Promise<void> {
    const deliveries: [Session, Delivery][] = [];
    for (const message of this.retained.all()) {
      if (!matchesFilter(filter, message.topic)) continue;
      if (!this.mayReceive(session, message)) continue;
      deliveries.push([session, deliveryFor(message, options, true)]);
    }
    await this.dispatch(deliveries);
  }

  /**
   * Places each delivery in the session's inflight window, its queue or (persistent sessions,
   * past the queue) the store alone; stores every one for a persistent session, then sends what
   * the windows allow. Offline QoS 0 is not kept. A publisher whose message found a connected
   * subscriber far behind waits for it before its next PUBLISH is read (backpressure).
   */
  private dispatch(
    deliveries: [Session, Delivery][],
    publisher?: Publisher,
  ): Promise<void> | undefined {
    const toSend: [Session, InflightDelivery][] = [];
    const stored: { clientId: string; message: StoredMessage }[] = [];
    /** Every stored delivery is QoS 1 and sent, or queued, to a connected client. */
    let acknowledgementsExpected = true;
    const now = Date.now();
    const encoded: EncodedPublishes = new Map();
    for (const [session, delivery] of deliveries) {
      if (delivery.message.expiresAt !== undefined && delivery.message.expiresAt <= now) continue;
      if (delivery.qos === 0) this.sendQos0(session, delivery, encoded);
      else {
        const placed = this.place(session, delivery);
        if (placed === undefined) continue;
        ownPayload(delivery.message);
        const persistent = this.isPersistent(session);
        if (typeof placed === 'object') {
          // QoS 2 goes out only once stored, so a restart re-sends the same packet id and the
          // subscriber sees it once. QoS 1 goes out at once: if the client acknowledges it before
          // the store's commit, it is never written; if the broker dies first, the publisher was
          // not acknowledged and sends it again (a duplicate, as QoS 1 allows).
          if (persistent && delivery.qos === 2) toSend.push([session, placed]);
          else if (session.connection)
            sendPublish(session.connection, delivery, placed.packetId, false, encoded);
        }
        if (persistent) {
          acknowledgementsExpected &&=
            delivery.qos === 1 && session.connection !== undefined && placed !== 'spilled';
          delivery.seq = session.nextSeq++;
          if (placed !== 'spilled') session.lastSeqInMemory = delivery.seq;
          stored.push({
            clientId: session.clientId,
            message: {
              seq: delivery.seq,
              stage: typeof placed === 'object' ? 'publish' : 'queued',
              ...(typeof placed === 'object' ? { packetId: placed.packetId } : {}),
              delivery,
            },
          });
        }
      }
      const recipient = session.connection;
      if (publisher && recipient && recipient !== publisher.connection && this.isBehind(session))
        publisher.connection.waitFor(recipient);
    }
    const publisherSession =
      publisher?.storeReceipts && publisher.connection.session
        ? publisher.connection.session
        : undefined;
    const receipts =
      publisherSession && this.isPersistent(publisherSession) ? publisherSession : undefined;
    if (receipts) receipts.stored = true;
    // Nothing stored means nothing waits to be sent either (only stored deliveries do).
    if (stored.length === 0 && !receipts) return undefined;
    const ackWaitMs = acknowledgementsExpected && !receipts ? ACK_WAIT_MS : undefined;
    return this.sessionStore.commit(stored, receipts, ackWaitMs).then(() => {
      for (const [session, inflight] of toSend) {
        if (session.connection && session.inflight.get(inflight.packetId) === inflight)
          sendPublish(session.connection, inflight.delivery, inflight.packetId, false, encoded);
      }
    });
  }

  /** Whether a connected session is far enough behind that publishers should wait for it. */
  private isBehind(session: Session): boolean {
    const connection = session.connection;
    return (
      connection !== undefined &&
      (connection.backlogBytes > HOLD_BACKLOG_BYTES ||
        session.spilled > 0 ||
        session.queue.length >= this.limits.maxQueuedMessages)
    );
  }

  private sendQos0(session: Session, delivery: Delivery, encoded: EncodedPublishes): void {
    const connection = session.connection;
    if (!connection) return;
    if (connection.backlogBytes > QOS0_BACKLOG_BYTES) {
      session.dropped += 1;
      this.observer?.dropped('backlog');
      if (connection.logsAt(Verbosity.WARN))
        writePublishOut(connection.log!, delivery.message, BACKLOG_DROPPED);
      return;
    }
    sendPublish(connection, delivery, undefined, false, encoded);
  }

  /**
   * A packet id in the inflight window when there is room; else a place at the end of the queue;
   * past the queue, for a persistent session, a place in the store alone ('spilled'). Undefined:
   * dropped, past every limit (counted, and logged once per overflow).
   */
  private place(
    session: Session,
    delivery: Delivery,
  ): InflightDelivery | 'queued' | 'spilled' | undefined {
    const connection = session.connection;
    if (
      connection &&
      session.queue.length === 0 &&
      session.spilled === 0 &&
      session.inflight.size < this.window(connection)
    ) {
      const packetId = session.nextPacketId();
      if (packetId !== undefined) {
        const inflight: InflightDelivery = { packetId, delivery, stage: 'publish' };
        session.inflight.set(packetId, inflight);
        return inflight;
      }
    }
    if (session.spilled === 0 && session.queue.length < this.limits.maxQueuedMessages) {
      session.queue.push(delivery);
      return 'queued';
    }
    const held = session.inflight.size + session.queue.length + session.spilled;
    if (this.isPersistent(session) && held < this.limits.maxStoredMessagesPerSession) {
      session.spilled += 1;
      return 'spilled';
    }
    this.observer?.dropped('queue-limit');
    if (connection?.logsAt(Verbosity.WARN))
      writePublishOut(connection.log!, delivery.message, QUEUE_FULL);
    if (session.dropped++ === 0 || session.dropped % 1000 === 0)
      this.logger.warn(
        { clientId: session.clientId, dropped: session.dropped },
        this.isPersistent(session)
          ? `session holds its maximum of ${this.limits.maxStoredMessagesPerSession} messages: message dropped`
          : `clean session's queue holds its maximum of ${this.limits.maxQueuedMessages} messages: message dropped`,
      );
    return undefined;
  }

  private window(connection: Connection): number {
    // [MQTT-3.3.4-9] Never more unacknowledged QoS 1/2 PUBLISHes than the client's Receive Maximum.
    return Math.min(connection.clientReceiveMaximum, this.limits.maxInflight);
  }

  /**
   * Moves queued messages into the inflight window as acknowledgements free it, reading spilled
   * ones back from the store as the queue empties. One drain runs per session at a time, so
   * messages go out in order [MQTT-4.6.0-6].
   */
  async drainQueue(session: Session): Promise<void> {
    if (session.draining) {
      session.drainAgain = true;
      return session.draining;
    }
    session.draining = (async () => {
      do {
        session.drainAgain = false;
        await this.refillFromStore(session);
        await this.drainOnce(session);
      } while (session.drainAgain && session.connection);
    })().finally(() => (session.draining = undefined));
    return session.draining;
  }

  /** Reads spilled deliveries back into the queue once it is half empty. */
  private async refillFromStore(session: Session): Promise<void> {
    const room = this.limits.maxQueuedMessages - session.queue.length;
    if (session.spilled === 0 || room < this.limits.maxQueuedMessages / 2) return;
    const loaded = await this.sessionStore.loadAfter(
      session.clientId,
      session.lastSeqInMemory,
      Math.min(room, session.spilled),
    );
    for (const message of loaded) {
      message.delivery.seq = message.seq;
      session.queue.push(message.delivery);
      session.lastSeqInMemory = message.seq;
    }
    session.spilled = loaded.length === 0 ? 0 : session.spilled - loaded.length;
  }

  /**
   * One pass of the drain. A QoS 2 message of a persistent session is stored with its packet id
   * before it is sent, so a restart re-sends that packet id and the subscriber sees it once.
   */
  private async drainOnce(session: Session): Promise<void> {
    const connection = session.connection;
    if (!connection) return;
    const moved: InflightDelivery[] = [];
    const now = Date.now();
    while (session.queue.length > 0 && session.inflight.size < this.window(connection)) {
      const delivery = session.queue[0] as Delivery;
      if (delivery.message.expiresAt !== undefined && delivery.message.expiresAt <= now) {
        session.queue.shift();
        if (delivery.seq !== undefined) this.forgetStored(session, delivery.seq);
        continue;
      }
      const packetId = session.nextPacketId();
      if (packetId === undefined) break;
      session.queue.shift();
      const inflight: InflightDelivery = { packetId, delivery, stage: 'publish' };
      session.inflight.set(packetId, inflight);
      moved.push(inflight);
    }
    const durable = moved.filter(
      (inflight) => inflight.delivery.seq !== undefined && inflight.delivery.qos === 2,
    );
    if (durable.length > 0)
      await this.sessionStore.setStages(
        session.clientId,
        durable.map((inflight) => this.storedMessage(inflight)),
      );
    for (const inflight of moved)
      if (session.connection === connection)
        sendPublish(connection, inflight.delivery, inflight.packetId, false);
    // Publishers held back by this session go on once its queue is half empty (hysteresis).
    if (
      session.spilled === 0 &&
      session.queue.length <= this.limits.maxQueuedMessages / 2 &&
      connection.backlogBytes <= HOLD_BACKLOG_BYTES
    )
      connection.caughtUp();
  }

  private storedMessage(inflight: InflightDelivery): StoredMessage {
    return {
      seq: inflight.delivery.seq as number,
      stage: inflight.stage,
      packetId: inflight.packetId,
      delivery: inflight.delivery,
    };
  }

  /** PUBACK or PUBCOMP: the delivery is done; its stored copy goes, the window moves on. */
  async completeDelivery(session: Session, inflight: InflightDelivery): Promise<void> {
    session.inflight.delete(inflight.packetId);
    if (inflight.delivery.seq !== undefined) this.forgetStored(session, inflight.delivery.seq);
    await this.drainQueue(session);
  }

  /**
   * Removes a delivered or expired message's stored copy, not awaited: a delete lost in a crash
   * only re-delivers a message the client already has (QoS 1), re-sends a PUBREL it answers with
   * PUBCOMP (QoS 2), or finds an expired message and drops it again. The window moves on now.
   */
  private forgetStored(session: Session, seq: number): void {
    this.sessionStore
      .removeMessage(session.clientId, seq)
      .catch((error: unknown) =>
        this.logger.error(
          { err: error, clientId: session.clientId },
          'could not remove a delivered message from the session store',
        ),
      );
  }

  /** PUBREC: the PUBREL stage is stored before PUBREL goes out [MQTT-4.3.3-4]. */
  async releaseDelivery(session: Session, inflight: InflightDelivery): Promise<void> {
    inflight.stage = 'pubrel';
    if (inflight.delivery.seq !== undefined)
      await this.sessionStore.setStages(session.clientId, [this.storedMessage(inflight)]);
    session.connection?.send({ cmd: 'pubrel', messageId: inflight.packetId });
  }

  /**
   * Closes at once every connection whose principal `test` picks (its certificate revoked, its
   * CA deactivated, …); returns how many. MQTT 5 clients are told why (0x87).
   */
  disconnectWhere(test: (principal: Principal) => boolean, why: string): number {
    let closed = 0;
    for (const connection of this.connections) {
      if (!connection.principal || !test(connection.principal)) continue;
      connection.disconnect(Reason.NotAuthorized, why);
      closed += 1;
    }
    return closed;
  }

  countDenied(connection: Connection, action: BrokerAction, resource: string): void {
    this.observer?.denied(action);
    this.logger.info(
      { clientId: connection.clientId, principal: connection.principal?.id, action, resource },
      'denied by policy',
    );
  }

  /** A publish the payload guard flagged or refused: a log line and a report, never its payload. */
  reportSensitivePayload(
    publisher: PayloadPublisher,
    topic: string,
    verdict: PayloadVerdict,
  ): void {
    this.logger.warn(
      {
        ...(publisher.via === 'mqtt'
          ? { clientId: publisher.clientId, principal: publisher.principal.id }
          : { principal: publisher.caller.principalId, sourceIp: publisher.sourceIp }),
        via: publisher.via,
        topic,
        action: verdict.action,
        detectors: verdict.detectors,
      },
      verdict.action === 'refuse'
        ? 'publish refused: sensitive data in its payload'
        : 'publish flagged: sensitive data in its payload',
    );
    this.payloadReports?.sensitivePayload(publisher, topic, verdict);
  }

  private sweep(): void {
    const now = Date.now();
    this.closeSilentConnections(now);
    this.closeSlowConsumers(now);
    if (now - this.lastLifecyclePrune > 60_000) {
      this.lastLifecyclePrune = now;
      this.lifecycle.forgetIdle(now);
    }
  }

  /** [MQTT-3.1.2-24] No packet within 1.5 × keep alive closes the connection. */
  private closeSilentConnections(now: number): void {
    for (const connection of this.connections) {
      if (
        connection.state === 'connected' &&
        connection.keepAliveMs > 0 &&
        now - connection.lastPacketAt > connection.keepAliveMs * 1.5
      ) {
        connection.disconnect(Reason.KeepAliveTimeout, 'keep alive timeout');
      }
    }
  }

  /**
   * A subscriber whose messages are being dropped (QoS 0 past its backlog, or a clean session's
   * queue full) for longer than `slowConsumerSeconds` is disconnected, so one stuck client cannot
   * hold broker memory or its publishers' attention for good.
   */
  private closeSlowConsumers(now: number): void {
    for (const connection of this.connections) {
      const session = connection.session;
      const dropping =
        connection.backlogBytes > QOS0_BACKLOG_BYTES ||
        (session !== undefined &&
          !this.isPersistent(session) &&
          session.queue.length >= this.limits.maxQueuedMessages);
      if (!dropping) {
        connection.behindSince = undefined;
        continue;
      }
      connection.behindSince ??= now;
      if (now - connection.behindSince > this.limits.slowConsumerSeconds * 1000)
        connection.disconnect(
          Reason.QuotaExceeded,
          `slow consumer: messages to this client were dropped for more than ${this.limits.slowConsumerSeconds} s`,
        );
    }
  }

  /**
   * Tells every client the server is going away (MQTT 5: reason 0x8B) and closes them, waits for
   * their sockets to close (each is destroyed at most a second after its DISCONNECT) so that
   * every persistent session going offline is saved as such, then settles once the session store
   * has written what it still held.
   */
  async close(): Promise<void> {
    clearInterval(this.sweepTimer);
    this.closing = true;
    const allClosed =
      this.connections.size === 0
        ? undefined
        : new Promise<void>((resolve) => (this.allClosed = resolve));
    for (const connection of this.connections) connection.disconnect(Reason.ServerShuttingDown);
    await allClosed;
    await this.sessionStore.close();
  }
}
