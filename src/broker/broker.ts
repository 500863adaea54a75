import type { X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { IPublishPacket, QoS } from 'mqtt-packet';
import type { Logger } from '../logs/logger.js';
import type { AccessControl, BrokerAction, ConnectionFacts } from './access.js';
import { Connection, type Will } from './connection.js';
import { LifecycleEvents } from './lifecycle.js';
import type { BrokerLimits } from './limits.js';
import type { Delivery, Message } from './message.js';
import { Reason } from './reason-codes.js';
import type { RetainedMessages } from './retained.js';
import { Session, type SubscriptionOptions } from './session.js';
import { matchesFilter, TopicIndex } from './topics/topic-index.js';
import type { TopicLimits } from './topics/topic-validation.js';

interface Subscriber {
  session: Session;
  options: SubscriptionOptions;
}

export interface BrokerOptions {
  access: AccessControl;
  limits: BrokerLimits;
  retained: RetainedMessages;
  logger: Logger;
}

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
  readonly limits: BrokerLimits;
  readonly topicLimits: TopicLimits;
  readonly logger: Logger;
  private readonly retained: RetainedMessages;
  private readonly sessions = new Map<string, Session>();
  private readonly index = new TopicIndex<Subscriber>();
  private readonly connections = new Set<Connection>();
  private readonly pendingWills = new Map<Session, { will: Will; timer: NodeJS.Timeout }>();
  private readonly sweepTimer: NodeJS.Timeout;
  readonly lifecycle: LifecycleEvents;
  private lastLifecyclePrune = Date.now();

  constructor(options: BrokerOptions) {
    this.access = options.access;
    this.limits = options.limits;
    this.topicLimits = {
      maxTopicBytes: options.limits.maxTopicBytes,
      maxSlashes: options.limits.maxTopicSlashes,
    };
    this.retained = options.retained;
    this.logger = options.logger.child({ component: 'broker' });
    this.lifecycle = new LifecycleEvents((message) => this.route(message));
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweepTimer.unref();
  }

  /** Takes a new client socket from a transport (after its TLS handshake, if any). */
  accept(socket: Duplex, facts: ConnectionFacts, certificate?: X509Certificate): void {
    this.connections.add(new Connection(this, socket, facts, certificate));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Binds a connection to its session: resumed, new, or taken over from another connection. */
  attachSession(
    connection: Connection,
    cleanStart: boolean,
    expirySeconds: number,
  ): { session: Session; present: boolean } {
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
        if (!previous.closedNormally && previous.will) this.publishWill(previous.will.message);
      }
      if (cleanStart) {
        this.endSession(session);
        session = undefined;
      }
    }
    const present = session !== undefined;
    session ??= new Session(connection.clientId);
    session.connection = connection;
    session.expirySeconds = expirySeconds;
    session.principal = connection.principal;
    connection.session = session;
    this.sessions.set(session.clientId, session);
    return { session, present };
  }

  /** After CONNACK: re-sends what was in flight [MQTT-4.4.0-1], then what was queued. */
  resumeSession(session: Session): void {
    const connection = session.connection;
    if (!connection) return;
    for (const inflight of session.inflight.values()) {
      if (inflight.stage === 'pubrel')
        connection.send({ cmd: 'pubrel', messageId: inflight.packetId });
      else this.sendPublish(connection, inflight.delivery, inflight.packetId, true);
    }
    this.drainQueue(session);
  }

  connectionClosed(connection: Connection): void {
    this.connections.delete(connection);
    if (connection.session) this.lifecycle.disconnected(connection);
    const session = connection.session;
    if (!session || session.connection !== connection) return;
    session.connection = undefined;
    if (!connection.closedNormally && connection.will) this.scheduleWill(session, connection.will);
    if (session.expirySeconds === 0) {
      this.endSession(session);
      return;
    }
    session.expiryTimer = setTimeout(() => this.endSession(session), session.expirySeconds * 1000);
    session.expiryTimer.unref();
  }

  private scheduleWill(session: Session, will: Will): void {
    const delay = Math.min(will.delaySeconds, session.expirySeconds);
    if (delay === 0) return this.publishWill(will.message);
    const timer = setTimeout(() => {
      this.pendingWills.delete(session);
      this.publishWill(will.message);
    }, delay * 1000);
    timer.unref();
    this.pendingWills.set(session, { will, timer });
  }

  private publishWill(message: Message): void {
    this.publish(message).catch((error: unknown) =>
      this.logger.error(
        { err: error, topic: message.topic },
        'will message could not be published',
      ),
    );
  }

  /** Ends a session: its delayed will goes out now [MQTT-3.1.3-9], its subscriptions are removed. */
  private endSession(session: Session): void {
    clearTimeout(session.expiryTimer);
    const pending = this.pendingWills.get(session);
    if (pending) {
      clearTimeout(pending.timer);
      this.pendingWills.delete(session);
      this.publishWill(pending.will.message);
    }
    for (const filter of session.subscriptions.keys()) this.index.remove(session.clientId, filter);
    session.subscriptions.clear();
    if (this.sessions.get(session.clientId) === session) this.sessions.delete(session.clientId);
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

  /** Routes a message; a retained one is stored (sealed) first, so acknowledging it is safe. */
  async publish(message: Message): Promise<void> {
    if (message.retain) await this.retained.set(message);
    this.route(message);
  }

  private route(message: Message): void {
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
        perSession.set(session, {
          message,
          qos,
          retain,
          subscriptionIdentifiers:
            options.subscriptionIdentifier !== undefined ? [options.subscriptionIdentifier] : [],
        });
      } else {
        delivery.qos = Math.max(delivery.qos, qos) as QoS;
        delivery.retain ||= retain;
        if (options.subscriptionIdentifier !== undefined)
          delivery.subscriptionIdentifiers.push(options.subscriptionIdentifier);
      }
    }
    for (const group of matches.sharedGroups) {
      // A connected member if there is one; otherwise the message waits in an offline member's session.
      const member =
        group.pick((candidate) => candidate.value.session.connection !== undefined) ?? group.pick();
      if (!member) continue;
      const { session, options } = member.value;
      this.deliverIfAllowed(session, {
        message,
        qos: Math.min(message.qos, options.qos) as QoS,
        retain: false,
        subscriptionIdentifiers:
          options.subscriptionIdentifier !== undefined ? [options.subscriptionIdentifier] : [],
      });
    }
    for (const [session, delivery] of perSession) this.deliverIfAllowed(session, delivery);
  }

  private deliverIfAllowed(session: Session, delivery: Delivery): void {
    if (
      session.principal &&
      !this.access.authorize(session.principal, 'receive', delivery.message.topic, session.clientId)
    )
      return;
    this.deliver(session, delivery);
  }

  /** Sends now within the inflight window, or queues (bounded); offline QoS 0 is not kept. */
  private deliver(session: Session, delivery: Delivery): void {
    if (delivery.message.expiresAt !== undefined && delivery.message.expiresAt <= Date.now())
      return;
    const connection = session.connection;
    if (delivery.qos === 0) {
      if (!connection) return;
      if (connection.backlogBytes > QOS0_BACKLOG_BYTES) {
        session.droppedQos0 += 1;
        return;
      }
      return this.sendPublish(connection, delivery, undefined, false);
    }
    if (connection && session.queue.length === 0 && session.inflight.size < this.window(connection))
      return this.sendInflight(session, connection, delivery);
    if (session.queue.length >= this.limits.maxQueuedMessages) {
      this.logger.warn(
        { clientId: session.clientId, topic: delivery.message.topic },
        'session queue full: message dropped',
      );
      return;
    }
    session.queue.push(delivery);
  }

  private window(connection: Connection): number {
    // [MQTT-3.3.4-9] Never more unacknowledged QoS 1/2 PUBLISHes than the client's Receive Maximum.
    return Math.min(connection.clientReceiveMaximum, this.limits.maxInflight);
  }

  private sendInflight(session: Session, connection: Connection, delivery: Delivery): void {
    const packetId = session.nextPacketId();
    if (packetId === undefined) return void session.queue.push(delivery);
    session.inflight.set(packetId, { packetId, delivery, stage: 'publish' });
    this.sendPublish(connection, delivery, packetId, false);
  }

  /** Moves queued messages into the inflight window as acknowledgements free it. */
  drainQueue(session: Session): void {
    const connection = session.connection;
    if (!connection) return;
    while (session.queue.length > 0 && session.inflight.size < this.window(connection)) {
      const delivery = session.queue.shift() as Delivery;
      if (delivery.message.expiresAt !== undefined && delivery.message.expiresAt <= Date.now())
        continue;
      this.sendInflight(session, connection, delivery);
    }
  }

  /** Retained messages for a new subscription, flagged RETAIN [MQTT-3.3.1-8]. */
  sendRetained(session: Session, filter: string, options: SubscriptionOptions): void {
    for (const message of this.retained.all()) {
      if (!matchesFilter(filter, message.topic)) continue;
      this.deliverIfAllowed(session, {
        message,
        qos: Math.min(message.qos, options.qos) as QoS,
        retain: true,
        subscriptionIdentifiers:
          options.subscriptionIdentifier !== undefined ? [options.subscriptionIdentifier] : [],
      });
    }
  }

  private sendPublish(
    connection: Connection,
    delivery: Delivery,
    packetId: number | undefined,
    dup: boolean,
  ): void {
    const { message } = delivery;
    const packet: IPublishPacket = {
      cmd: 'publish',
      topic: message.topic,
      payload: message.payload,
      qos: delivery.qos,
      retain: delivery.retain,
      dup,
    };
    if (packetId !== undefined) packet.messageId = packetId;
    if (connection.version === 5) {
      const properties: NonNullable<IPublishPacket['properties']> = { ...message.properties };
      // [MQTT-3.3.2-6] The expiry sent is what is left of it.
      if (message.expiresAt !== undefined)
        properties.messageExpiryInterval = Math.max(
          1,
          Math.ceil((message.expiresAt - Date.now()) / 1000),
        );
      if (delivery.subscriptionIdentifiers.length === 1)
        properties.subscriptionIdentifier = delivery.subscriptionIdentifiers[0] as number;
      else if (delivery.subscriptionIdentifiers.length > 1)
        properties.subscriptionIdentifier = delivery.subscriptionIdentifiers;
      packet.properties = properties;
    }
    // [MQTT-3.1.2-25] Never send a packet larger than the client's Maximum Packet Size.
    if (
      connection.clientMaximumPacketSize !== Number.POSITIVE_INFINITY &&
      message.payload.length + Buffer.byteLength(message.topic) + 64 >
        connection.clientMaximumPacketSize
    )
      return;
    connection.send(packet);
  }

  countDenied(connection: Connection, action: BrokerAction, resource: string): void {
    this.logger.info(
      { clientId: connection.clientId, principal: connection.principal?.id, action, resource },
      'denied by policy',
    );
  }

  private sweep(): void {
    const now = Date.now();
    this.closeSilentConnections(now);
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

  /** Tells every client the server is going away (MQTT 5: reason 0x8B) and closes them. */
  close(): void {
    clearInterval(this.sweepTimer);
    for (const connection of this.connections) connection.disconnect(Reason.ServerShuttingDown);
  }
}
