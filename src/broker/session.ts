import type { QoS } from 'mqtt-packet';
import type { Principal } from './access.js';
import type { Connection } from './connection.js';
import type { Delivery, Message } from './message.js';

export interface SubscriptionOptions {
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: 0 | 1 | 2;
  subscriptionIdentifier?: number;
}

export interface PendingWill {
  message: Message;
  delaySeconds: number;
  /** Epoch ms it goes out; unset while its connection is up. */
  dueAt?: number;
}

/** An outgoing QoS 1/2 message the client has not finished acknowledging. */
export interface InflightDelivery {
  packetId: number;
  delivery: Delivery;
  /** `publish`: PUBLISH sent, PUBACK/PUBREC awaited; `pubrel`: PUBREL sent, PUBCOMP awaited. */
  stage: 'publish' | 'pubrel';
}

/**
 * A client's session state (MQTT §4.1): its subscriptions, the messages in flight or queued for
 * it, and the QoS 2 packet ids it sent whose PUBREL is pending. It outlives the connection when
 * the session is persistent.
 */
export class Session {
  readonly clientId: string;
  readonly subscriptions = new Map<string, SubscriptionOptions>();
  readonly inflight = new Map<number, InflightDelivery>();
  /** QoS 1/2 deliveries waiting for room in the inflight window, oldest first. */
  readonly queue: Delivery[] = [];
  /**
   * Deliveries of a persistent session kept in the store only, after everything in `queue`:
   * the queue's overflow, read back as it drains, so memory stays bounded and nothing
   * acknowledged is dropped.
   */
  spilled = 0;
  /** The highest sequence number among deliveries in memory: spilled ones follow it. */
  lastSeqInMemory = -1;
  /** The running drain of `queue` into the window, so drains never interleave (order is kept). */
  draining: Promise<void> | undefined;
  drainAgain = false;
  /** QoS 2 PUBLISH packet ids received and PUBREC'd, until their PUBREL [MQTT-4.3.3-9]. */
  readonly receivedQos2 = new Set<number>();
  connection: Connection | undefined;
  /** Seconds the session lives after its connection closes; 0 ends it with the connection. */
  expirySeconds = 0;
  expiryTimer: NodeJS.Timeout | undefined;
  /** Messages dropped for this session: QoS 0 to a backlogged connection, QoS 1/2 past the queue limits. */
  dropped = 0;
  /** Epoch ms the session's connection closed; undefined while connected. */
  offlineSince: number | undefined;
  /** Whether the session store holds this session, so ending it must delete it there. */
  stored = false;
  /** Sequence number of the next delivery stored for this (persistent) session. */
  nextSeq = 0;
  /**
   * The will the store keeps with a persistent session, so a restart after a crash still sends
   * it ([MQTT-3.1.2-8]; the server may defer it until the restart): the live connection's will,
   * or, once that connection was lost, the delayed will and when it is due.
   */
  will: PendingWill | undefined;
  /** Who the session acts as, for authorizing deliveries while it is offline or reconnecting. */
  principal: Principal | undefined;
  private lastPacketId = 0;

  constructor(clientId: string) {
    this.clientId = clientId;
  }

  /** The next free packet id, 1..65535 [MQTT-2.2.1-3]; undefined when all are in use. */
  nextPacketId(): number | undefined {
    for (let tries = 0; tries < 65535; tries++) {
      this.lastPacketId = (this.lastPacketId % 65535) + 1;
      if (!this.inflight.has(this.lastPacketId)) return this.lastPacketId;
    }
    return undefined;
  }
}
