/**
 * The broker's device events, for AWS IoT-style device logs (src/logs implements the seam; the
 * broker core does not import it). The broker asks a client's log how verbose it is before it
 * builds an event, so a message costs one comparison when its entry would not be written.
 * Events never carry a payload, a password or a key: names, topics and reasons only.
 */
import { Reason, type ReasonCode } from './reason-codes.js';

/** AWS IoT's log levels as numbers: an entry is written when the client's verbosity is at least its level. */
export const Verbosity = { DISABLED: 0, ERROR: 1, WARN: 2, INFO: 3, DEBUG: 4 } as const;
export type Verbosity = (typeof Verbosity)[keyof typeof Verbosity];
/** The level of an entry (never DISABLED). */
export type EventLevel = Exclude<Verbosity, 0>;

/** AWS IoT's eventType values for the message broker. */
export type BrokerEventType =
  | 'Connect'
  | 'Disconnect'
  | 'Publish-In'
  | 'Publish-Out'
  | 'Subscribe'
  | 'Unsubscribe'
  // A request to a service on its reserved topics (the Device Shadow service's, by its names).
  | 'GetThingShadow'
  | 'UpdateThingShadow'
  | 'DeleteThingShadow';

export interface BrokerEvent {
  eventType: BrokerEventType;
  level: EventLevel;
  status: 'Success' | 'Failure';
  /** The topic or topic filter the event is about. */
  topicName?: string;
  /** Why an event failed, in AWS's style (AUTHORIZATION_FAILURE, …). */
  reason?: string;
  /** A sentence about the failure or the disconnection. */
  details?: string;
  /** AWS's disconnectReason on a Disconnect entry. */
  disconnectReason?: string;
  /** The thing whose shadow a shadow entry is about, as AWS names the field. */
  deviceShadowName?: string;
  /**
   * The same object for every entry about one message (its Publish-In and each Publish-Out), so
   * they carry one traceId; otherwise each entry has its own.
   */
  trace?: object;
}

/** Who a client is, as a log target sees it (AWS's CLIENT_ID, PRINCIPAL_ID, SOURCE_IP). */
export interface ClientIdentity {
  clientId: string;
  /** Unknown until the client has authenticated. */
  principalId?: string;
  /** Without the `::ffff:` prefix of an IPv4 address on a dual-stack socket. */
  sourceIp: string;
  sourcePort?: number;
}

/** One client's device log. */
export interface ClientEventLog {
  /** How verbose this client's log is now. Asked for every message, so it must be cheap. */
  verbosity(): Verbosity;
  write(event: BrokerEvent): void;
}

/** The seam: a log per client, looked up once the client id (and then its principal) is known. */
export interface BrokerEvents {
  /** May wait (for the thing groups of the client's thing, when log levels are set on groups). */
  forClient(client: ClientIdentity): ClientEventLog | Promise<ClientEventLog>;
}

const REASON_NAMES = new Map<number, string>(
  Object.entries(Reason).map(([name, code]) => [
    code,
    name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase(),
  ]),
);

/**
 * A refusal's reason in AWS's style: AUTHORIZATION_FAILURE for a policy denial (as AWS IoT logs
 * it), else the MQTT 5 reason code's name (PACKET_TOO_LARGE, QUOTA_EXCEEDED, …).
 */
export function reasonName(reasonCode: ReasonCode): string {
  if (reasonCode === Reason.NotAuthorized) return 'AUTHORIZATION_FAILURE';
  return REASON_NAMES.get(reasonCode) ?? `REASON_${reasonCode}`;
}

/** Why a message was not delivered, for its Publish-Out entry. */
export interface DeliveryFailure {
  level: EventLevel;
  reason: string;
  details: string;
}

/**
 * Writes a message's Publish-Out entry. Kept out of the delivery path's own functions (the caller
 * asks `logsAt` first), so that they stay small enough for V8 to optimise as before: with these
 * entries written inline, fan-out lost about 15% of its deliveries per second.
 */
export function writePublishOut(
  log: ClientEventLog,
  message: { topic: string },
  failure?: DeliveryFailure,
): void {
  log.write(
    failure
      ? {
          eventType: 'Publish-Out',
          level: failure.level,
          status: 'Failure',
          topicName: message.topic,
          reason: failure.reason,
          details: failure.details,
          trace: message,
        }
      : {
          eventType: 'Publish-Out',
          level: Verbosity.INFO,
          status: 'Success',
          topicName: message.topic,
          trace: message,
        },
  );
}
