import type { Connection } from './connection.js';
import type { Message } from './message.js';
import { Reason, type ReasonCode } from './reason-codes.js';

/** AWS IoT's disconnectReason values the broker can produce (aws-iot-behaviour §7). */
export type DisconnectReason =
  | 'AUTH_ERROR'
  | 'CLIENT_INITIATED_DISCONNECT'
  | 'CLIENT_ERROR'
  | 'CONNECTION_LOST'
  | 'DUPLICATE_CLIENTID'
  | 'MQTT_KEEP_ALIVE_TIMEOUT'
  | 'SERVER_ERROR'
  | 'SERVER_INITIATED_DISCONNECT'
  | 'THROTTLED';

const VERSION_RESET_MS = 60 * 60 * 1000;

/** What a server-sent MQTT reason code means as an AWS disconnect reason. */
export function disconnectReasonFor(reason: ReasonCode): DisconnectReason {
  switch (reason) {
    case Reason.SessionTakenOver:
      return 'DUPLICATE_CLIENTID';
    case Reason.KeepAliveTimeout:
      return 'MQTT_KEEP_ALIVE_TIMEOUT';
    case Reason.ServerShuttingDown:
      return 'SERVER_INITIATED_DISCONNECT';
    case Reason.UnspecifiedError:
      return 'SERVER_ERROR';
    case Reason.NotAuthorized:
      return 'AUTH_ERROR';
    case Reason.QuotaExceeded:
    case Reason.MessageRateTooHigh:
      return 'THROTTLED';
    default:
      return 'CLIENT_ERROR';
  }
}

/**
 * Presence and subscription events on `$aws/events/…/{clientId}`, with AWS's fields. Clients whose
 * id holds `#` or `+` produce none, as in AWS (their id would be a wildcard in the topic). An
 * event no one is subscribed to is not built: a fleet connecting needs none of them.
 */
export class LifecycleEvents {
  private readonly publish: (message: Message) => void;
  private readonly wanted: (topic: string) => boolean;
  /**
   * A monotonic number per client id, shared by a connection's connect and disconnect events.
   * As in AWS it starts again from 0 once a client has been gone an hour; forgetting idle ids
   * keeps the map from growing with every client id ever seen.
   */
  private readonly versions = new Map<string, { version: number; lastSeen: number }>();

  constructor(publish: (message: Message) => void, wanted: (topic: string) => boolean) {
    this.publish = publish;
    this.wanted = wanted;
  }

  private emit(connection: Connection, kind: string, event: Record<string, unknown>): void {
    if (/[#+]/.test(connection.clientId)) return;
    const topic = `$aws/events/${kind}/${connection.clientId}`;
    if (!this.wanted(topic)) return;
    const body = {
      clientId: connection.clientId,
      timestamp: Date.now(),
      ...event,
      sessionIdentifier: connection.sessionIdentifier,
      principalIdentifier: connection.principal?.id,
    };
    this.publish({
      topic,
      payload: Buffer.from(JSON.stringify(body)),
      qos: 1,
      retain: false,
      properties: { contentType: 'application/json' },
    });
  }

  connected(connection: Connection): void {
    const versionNumber = (this.versions.get(connection.clientId)?.version ?? -1) + 1;
    this.versions.set(connection.clientId, { version: versionNumber, lastSeen: Date.now() });
    connection.lifecycleVersion = versionNumber;
    this.emit(connection, 'presence/connected', {
      eventType: 'connected',
      ipAddress: connection.facts.remoteAddress.replace(/^::ffff:/, ''),
      versionNumber,
    });
  }

  /** Forgets the version numbers of client ids not seen for an hour. */
  forgetIdle(now: number): void {
    for (const [clientId, entry] of this.versions)
      if (now - entry.lastSeen > VERSION_RESET_MS) this.versions.delete(clientId);
  }

  disconnected(connection: Connection): void {
    const entry = this.versions.get(connection.clientId);
    if (entry) entry.lastSeen = Date.now();
    const reason = connection.disconnectReason ?? 'CONNECTION_LOST';
    this.emit(connection, 'presence/disconnected', {
      eventType: 'disconnected',
      clientInitiatedDisconnect: reason === 'CLIENT_INITIATED_DISCONNECT',
      disconnectReason: reason,
      versionNumber: connection.lifecycleVersion,
    });
  }

  subscribed(connection: Connection, topics: string[]): void {
    if (topics.length > 0)
      this.emit(connection, 'subscriptions/subscribed', { eventType: 'subscribed', topics });
  }

  unsubscribed(connection: Connection, topics: string[]): void {
    if (topics.length > 0)
      this.emit(connection, 'subscriptions/unsubscribed', { eventType: 'unsubscribed', topics });
  }
}
