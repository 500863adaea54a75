import { randomBytes, type X509Certificate } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { Packet } from 'mqtt-packet';
import type { ConnectionFacts, Principal } from './access.js';
import type { Broker } from './broker.js';
import { disconnectReasonFor, type DisconnectReason } from './lifecycle.js';
import type { BrokerEvent, ClientEventLog, ClientIdentity, EventLevel } from './events.js';
import { dispatchPacket } from './handlers/index.js';
import type { Message } from './message.js';
import { PacketFramer, type FramedPacket, type FramerSink } from './packet-framer.js';
import { parseWholePacket } from './whole-packet-parser.js';
import { encodePacket, encodePuback } from './publish-encoder.js';
import { RateLimiter } from './rate-limiter.js';
import { Reason, type ReasonCode } from './reason-codes.js';
import type { Session } from './session.js';

/** A will message with its MQTT 5 delay (§3.1.3.2). */
export interface Will {
  message: Message;
  delaySeconds: number;
}

const CONNECT_TIMEOUT_MS = 10_000;
const MAX_WAITING_PACKETS = 256;
const RESUME_WAITING_PACKETS = 64;
/**
 * The longest a publisher waits for one slow subscriber. Past it the subscriber is "stalled": it
 * holds no publisher back until it catches up (its messages are stored or dropped meanwhile), so
 * a stuck client, or two clients publishing to each other, cannot stop the others.
 */
const HOLD_MAX_MS = 2000;
/** Acknowledgements and pings are handled as they arrive, even while this client's PUBLISHes wait. */
const UNORDERED_PACKETS = new Set(['puback', 'pubrec', 'pubcomp', 'pingreq']);

/**
 * One client's network connection: it frames bytes into packets (mqtt-packet), hands each to its
 * handler in arrival order, and writes packets in the protocol version the client connected with.
 */
export class Connection implements FramerSink {
  readonly broker: Broker;
  readonly facts: ConnectionFacts;
  readonly certificate: X509Certificate | undefined;
  private readonly socket: Duplex;
  /** Cuts the byte stream into packets and reads the common 3.1.1 ones; the shared parser reads the rest. */
  private readonly framer: PacketFramer;
  /** 3 (3.1), 4 (3.1.1) or 5, from CONNECT. */
  version: 3 | 4 | 5 = 4;
  state: 'connecting' | 'connected' | 'closed' = 'connecting';
  clientId = '';
  principal: Principal | undefined;
  session: Session | undefined;
  will: Will | undefined;
  keepAliveMs = 0;
  lastPacketAt = Date.now();
  /** The client's limits from CONNECT (MQTT 5): Receive Maximum and Maximum Packet Size. */
  clientReceiveMaximum = 65535;
  clientMaximumPacketSize = Number.POSITIVE_INFINITY;
  requestProblemInformation = true;
  /** Topic aliases the client set on its PUBLISHes (§3.3.2.3.4); made on the first. */
  inboundTopicAliases: Map<number, string> | undefined;
  /** Topic aliases the broker set on PUBLISHes to the client, up to the client's Topic Alias Maximum; made on the first. */
  outboundTopicAliases: Map<string, number> | undefined;
  clientTopicAliasMaximum = 0;
  /** Set by a DISCONNECT that closes normally, so the will is not sent [MQTT-3.1.2-10]. */
  closedNormally = false;
  /** Why the connection ended, for the lifecycle event; unset means the connection was lost. */
  disconnectReason: DisconnectReason | undefined;
  /** What the server said when it closed the connection (the device log's details). */
  disconnectDetails: string | undefined;
  /** This client's device log (src/logs), once its client id is known; none without one. */
  log: ClientEventLog | undefined;
  /** The client's source port, when the transport is a socket. */
  readonly remotePort: number | undefined;
  /** Made when a lifecycle event first needs it (see sessionIdentifier). */
  private madeSessionIdentifier: string | undefined;
  lifecycleVersion = 0;
  private pending: Promise<void> | undefined;
  /** Packets parsed but waiting for an earlier one's handler to finish. */
  private waiting = 0;
  private connectTimer: NodeJS.Timeout | undefined;
  private readonly publishRate: RateLimiter | undefined;
  private readonly byteRate: RateLimiter | undefined;
  private throttledUntil = 0;
  /** Writes are corked until the end of the tick (see write). */
  private corked = false;
  /** The last acknowledgement in line (see acknowledgeInOrder); none before the first waits. */
  private acknowledged: Promise<void> | undefined;
  /** Acknowledgements in that line not yet sent. */
  private acknowledgementsWaiting = 0;
  /** While set, this client's PUBLISHes wait: a subscriber of its messages is far behind. */
  private publishGate: Promise<void> | undefined;
  /** Publishers waiting for this connection to catch up; each entry releases one. */
  private waitingPublishers: (() => void)[] | undefined;
  /** A publisher gave up waiting for this connection; cleared when it catches up. */
  private stalled = false;
  /** Since when messages to this connection are being dropped (the slow-consumer sweep's clock). */
  behindSince: number | undefined;

  constructor(
    broker: Broker,
    socket: Duplex,
    facts: ConnectionFacts,
    certificate?: X509Certificate,
  ) {
    this.broker = broker;
    this.socket = socket;
    this.facts = facts;
    this.certificate = certificate;
    this.remotePort = (socket as { remotePort?: number }).remotePort;
    this.framer = new PacketFramer(this, broker.limits.maxPacketBytes);
    const { maxPublishesPerSecond, maxInboundBytesPerSecond } = broker.limits;
    if (maxPublishesPerSecond > 0) this.publishRate = new RateLimiter(maxPublishesPerSecond);
    if (maxInboundBytesPerSecond > 0) this.byteRate = new RateLimiter(maxInboundBytesPerSecond);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => undefined); // 'close' follows; a reset peer is not the broker's error
    socket.on('close', () => this.onClose());
    socket.on('drain', () => this.caughtUp());
    // A client that opens a socket and never sends CONNECT is closed [MQTT-3.1.4-1 intent].
    this.connectTimer = setTimeout(
      () => this.state === 'connecting' && this.destroy(),
      CONNECT_TIMEOUT_MS,
    );
    this.connectTimer.unref();
  }

  /** 32 hex characters naming this connection in lifecycle events, made on first use. */
  get sessionIdentifier(): string {
    return (this.madeSessionIdentifier ??= randomBytes(16).toString('hex'));
  }

  // The framer's sink (FramerSink): the connection itself, so it costs no closures.

  readsPacketsHere(): boolean {
    return this.state === 'connected' && this.version !== 5;
  }

  framedPacket(packet: FramedPacket): void {
    this.receive(packet);
  }

  wholePacket(bytes: Buffer): void {
    const packet = parseWholePacket(bytes, this.version);
    if (packet instanceof Error) this.protocolViolation(Reason.MalformedPacket, packet.message);
    else this.receive(packet);
  }

  malformedPacket(why: string, tooLarge: boolean): void {
    this.protocolViolation(tooLarge ? Reason.PacketTooLarge : Reason.MalformedPacket, why);
  }

  ended(): boolean {
    return this.state === 'closed';
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.lastPacketAt = Date.now();
    this.throttle(this.byteRate?.take(chunk.length) ?? 0);
    this.framer.push(chunk);
  }

  /**
   * Handles packets strictly in arrival order, even when one handler waits on the store or a
   * PUBLISH waits for its turn under the publish rate. When too many wait, the socket stops
   * being read (as AWS stops reading a client at its limit), so the queue stays bounded.
   */
  private receive(packet: Packet): void {
    if (this.state === 'closed') return;
    if (this.state === 'connected' && UNORDERED_PACKETS.has(packet.cmd)) {
      void this.handle(packet);
      return;
    }
    // [MQTT-3.14.4-3] A normal DISCONNECT discards the will as soon as it arrives: the client may
    // close the socket before a busy handler chain reaches the packet.
    if (packet.cmd === 'disconnect' && (packet.reasonCode ?? 0) !== Reason.DisconnectWithWill)
      this.closedNormally = true;
    const isPublish = packet.cmd === 'publish';
    const wait = isPublish ? (this.publishRate?.take(1) ?? 0) : 0;
    if (!this.pending && wait === 0 && !(isPublish && this.publishGate)) {
      const result = this.handle(packet);
      if (result) this.track(result);
      return;
    }
    this.waiting += 1;
    if (this.waiting === MAX_WAITING_PACKETS) this.socket.pause();
    const readyAt = Date.now() + wait;
    this.track(
      (this.pending ?? Promise.resolve()).then(async () => {
        const delay = readyAt - Date.now();
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        if (isPublish) await this.publishGate;
        this.waiting -= 1;
        if (
          this.waiting === RESUME_WAITING_PACKETS &&
          this.socket.isPaused() &&
          Date.now() >= this.throttledUntil
        )
          this.socket.resume();
        return this.handle(packet);
      }),
    );
  }

  private track(work: Promise<void>): void {
    const chained: Promise<void> = work.finally(() => {
      if (this.pending === chained) this.pending = undefined;
    });
    this.pending = chained;
  }

  /**
   * Over its byte rate, a connection is not read for a while (as AWS throttles): what it already
   * sent is handled, nothing is dropped, and a well-behaved client simply slows down.
   */
  private throttle(waitMs: number): void {
    if (waitMs === 0) return;
    const until = Date.now() + waitMs;
    if (until <= this.throttledUntil) return;
    this.throttledUntil = until;
    this.socket.pause();
    setTimeout(() => {
      if (
        Date.now() >= this.throttledUntil &&
        this.waiting < RESUME_WAITING_PACKETS &&
        this.state !== 'closed'
      )
        this.socket.resume();
    }, waitMs).unref();
  }

  private handle(packet: Packet): Promise<void> | void {
    if (this.state === 'closed') return;
    try {
      const result = dispatchPacket(this, packet);
      return result?.catch((error: unknown) => this.internalError(error));
    } catch (error) {
      this.internalError(error);
    }
  }

  private internalError(error: unknown): void {
    this.broker.logger.error(
      { err: error, clientId: this.clientId },
      'error while handling a packet; closing the connection',
    );
    this.disconnect(Reason.UnspecifiedError);
  }

  /**
   * Sends `ack` once `done` settles, after every acknowledgement asked for before it, so PUBACKs
   * go out in the order their PUBLISHes arrived [MQTT-4.6.0-2]. A failure closes the connection.
   */
  acknowledgeInOrder(done: Promise<void> | undefined, ack: Packet): void {
    // Nothing to wait for and none ahead of it: sent at once, without a promise.
    if (!done && this.acknowledgementsWaiting === 0) return this.send(ack);
    this.acknowledgementsWaiting += 1;
    this.acknowledged = (this.acknowledged ?? Promise.resolve())
      .then(() => done)
      .then(() => {
        this.acknowledgementsWaiting -= 1;
        this.send(ack);
      })
      .catch((error: unknown) => this.internalError(error));
  }

  /** Work with nothing to acknowledge (a QoS 0 PUBLISH routed): a failure closes the connection. */
  failOn(work: Promise<void>): void {
    work.catch((error: unknown) => this.internalError(error));
  }

  /**
   * Backpressure: this client's next PUBLISHes wait until `recipient` catches up, or at most
   * HOLD_MAX_MS. What was read meanwhile waits in order, and past MAX_WAITING_PACKETS the socket
   * is no longer read, as for the publish rate.
   */
  waitFor(recipient: Connection): void {
    if (this.publishGate || recipient.stalled || recipient.state === 'closed') return;
    this.publishGate = new Promise<void>((resolve) => {
      const release = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        recipient.stalled = true;
        release();
      }, HOLD_MAX_MS);
      (recipient.waitingPublishers ??= []).push(release);
    }).finally(() => (this.publishGate = undefined));
  }

  /** This connection caught up (its socket drained, its queue emptied): its publishers go on. */
  caughtUp(): void {
    this.stalled = false;
    const waiting = this.waitingPublishers;
    if (!waiting) return;
    this.waitingPublishers = undefined;
    for (const release of waiting) release();
  }

  onConnected(): void {
    clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.state = 'connected';
  }

  send(packet: Packet): void {
    this.write(
      packet.cmd === 'puback' && !packet.reasonCode && !packet.properties
        ? encodePuback(packet.messageId as number)
        : encodePacket(packet, this.version),
    );
  }

  /**
   * Writes an encoded packet (see outbound-publish.ts). What is written in one tick goes out
   * together, in one TLS record and one system call where it fits: a burst of acknowledgements
   * or deliveries otherwise cost one of each per packet.
   */
  write(bytes: Buffer): void {
    if (this.state === 'closed') return;
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(Connection.uncork, this);
    }
    this.socket.write(bytes);
  }

  private static uncork(connection: Connection): void {
    connection.corked = false;
    connection.socket.uncork();
  }

  /** Bytes the socket has not yet flushed: a slow consumer's backlog. */
  get backlogBytes(): number {
    return (this.socket as unknown as { writableLength: number }).writableLength;
  }

  /** Who this client is, for its device log. */
  identity(): ClientIdentity {
    return {
      clientId: this.clientId,
      ...(this.principal ? { principalId: this.principal.id } : {}),
      sourceIp: this.facts.remoteAddress.replace(/^::ffff:/, ''),
      ...(this.remotePort !== undefined ? { sourcePort: this.remotePort } : {}),
    };
  }

  /** Whether an entry at `level` would be written to this client's device log now (cheap). */
  logsAt(level: EventLevel): boolean {
    return this.log !== undefined && this.log.verbosity() >= level;
  }

  /**
   * Writes a device log entry when this client's level lets it through. Before the client has a
   * log (a CONNECT refused before authentication), one is looked up for it first.
   */
  logEvent(event: BrokerEvent): void {
    if (this.log) {
      if (this.log.verbosity() >= event.level) this.log.write(event);
      return;
    }
    const events = this.broker.events;
    if (!events || this.clientId === '') return;
    void Promise.resolve(events.forClient(this.identity()))
      .then((log) => {
        if (log.verbosity() >= event.level) log.write(event);
      })
      .catch((error: unknown) =>
        this.broker.logger.error({ err: error }, 'could not write a device log entry'),
      );
  }

  /** Sends a DISCONNECT (MQTT 5 only) with the reason, then closes. */
  disconnect(reason: ReasonCode, reasonString?: string): void {
    if (this.state === 'closed') return;
    this.disconnectReason ??= disconnectReasonFor(reason);
    this.disconnectDetails ??= reasonString;
    if (this.version === 5 && this.state === 'connected') {
      this.send({
        cmd: 'disconnect',
        reasonCode: reason,
        ...(reasonString && this.requestProblemInformation ? { properties: { reasonString } } : {}),
      });
    }
    this.socket.end();
    this.state = 'closed';
    setTimeout(() => this.destroy(), 1000).unref();
  }

  /** A malformed or forbidden packet closes only this connection, with the reason [MQTT-4.13.1-1]. */
  protocolViolation(reason: ReasonCode, why: string): void {
    this.broker.logger.info(
      { clientId: this.clientId, remoteAddress: this.facts.remoteAddress, reason, why },
      'closing connection: protocol violation',
    );
    this.disconnect(reason, why);
  }

  destroy(): void {
    this.state = 'closed';
    // What was written this tick goes to the kernel first; destroying discards what is buffered.
    if (this.corked) Connection.uncork(this);
    this.socket.destroy();
  }

  private onClose(): void {
    clearTimeout(this.connectTimer);
    this.state = 'closed';
    this.caughtUp();
    this.broker.connectionClosed(this);
  }
}
