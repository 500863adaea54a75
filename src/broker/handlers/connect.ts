import { randomUUID } from 'node:crypto';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import type { Connection } from '../connection.js';
import { reasonName, Verbosity } from '../events.js';
import { messageFromPublish, ownPayload } from '../message.js';
import { connectReturnCodeFor, Reason, type ReasonCode } from '../reason-codes.js';
import { validateTopicName } from '../topics/topic-validation.js';

/** Refuses the CONNECT; `logReason` names the failure in the device log when the reason code's name would not. */
function refuse(
  connection: Connection,
  reason: ReasonCode,
  why: string,
  logReason: string = reasonName(reason),
): void {
  connection.broker.logger.info(
    { clientId: connection.clientId, remoteAddress: connection.facts.remoteAddress, reason, why },
    'CONNECT refused',
  );
  connection.logEvent({
    eventType: 'Connect',
    level: Verbosity.ERROR,
    status: 'Failure',
    reason: logReason,
    details: why,
  });
  const connack: IConnackPacket =
    connection.version === 5
      ? {
          cmd: 'connack',
          sessionPresent: false,
          reasonCode: reason,
          ...(connection.requestProblemInformation ? { properties: { reasonString: why } } : {}),
        }
      : { cmd: 'connack', sessionPresent: false, returnCode: connectReturnCodeFor(reason) };
  connection.send(connack);
  // [MQTT-3.2.2-5] After a CONNACK with a non-zero code the server closes the connection.
  connection.disconnect(reason);
}

export async function handleConnect(connection: Connection, packet: IConnectPacket): Promise<void> {
  const { broker } = connection;
  const limits = broker.limits;
  connection.version = packet.protocolVersion ?? 4;
  const properties = packet.properties ?? {};
  connection.requestProblemInformation = properties.requestProblemInformation !== false;

  // MQTT 3.1 (level 3) is not offered: 3.1.1 and 5 only [MQTT-3.1.2-2].
  if (connection.version === 3)
    return refuse(
      connection,
      Reason.UnsupportedProtocolVersion,
      'MQTT 3.1 is not supported; use 3.1.1 or 5',
    );

  let clientId = packet.clientId;
  let assignedClientId: string | undefined;
  if (clientId === '') {
    // [MQTT-3.1.3-8] A 3.1.1 client with an empty id must ask for a clean session.
    if (connection.version === 4 && !packet.clean)
      return refuse(
        connection,
        Reason.ClientIdentifierNotValid,
        'an empty client id needs a clean session',
      );
    clientId = assignedClientId = `bulwark-${randomUUID()}`;
  }
  connection.clientId = clientId;
  if (Buffer.byteLength(clientId, 'utf8') > limits.maxClientIdBytes) {
    return refuse(
      connection,
      Reason.ClientIdentifierNotValid,
      `client id longer than ${limits.maxClientIdBytes} bytes`,
    );
  }

  const persistent =
    connection.version === 5
      ? packet.clean === false && (properties.sessionExpiryInterval ?? 0) > 0
      : packet.clean === false;
  const principal = await broker.access.authenticate(connection.facts, connection.certificate, {
    clientId,
    persistent,
    ...(packet.will ? { willTopic: packet.will.topic } : {}),
  });
  if (connection.state === 'closed') return;
  if (!principal) {
    broker.countUnauthenticated(connection);
    return refuse(
      connection,
      Reason.NotAuthorized,
      'no accepted client credentials',
      'AUTHENTICATION_FAILURE',
    );
  }
  // The client's device log, now that its principal is known (PRINCIPAL_ID log levels).
  if (broker.events) {
    connection.log = await broker.events.forClient({
      ...connection.identity(),
      principalId: principal.id,
    });
    if ((connection.state as Connection['state']) === 'closed') return;
  }
  if (!broker.access.authorize(principal, 'connect', clientId, clientId)) {
    broker.countDenied(connection, 'connect', clientId);
    return refuse(
      connection,
      Reason.NotAuthorized,
      'not authorized to connect with this client id',
    );
  }
  // A will is a publish made later on the client's behalf: it needs the same rights now, or a
  // client could write into another device's topic by leaving.
  if (
    packet.will &&
    (!broker.access.authorize(principal, 'publish', packet.will.topic, clientId) ||
      (packet.will.retain === true &&
        !broker.access.authorize(principal, 'retain', packet.will.topic, clientId)))
  ) {
    broker.countDenied(connection, 'publish', packet.will.topic);
    return refuse(connection, Reason.NotAuthorized, 'not authorized to publish the will message');
  }
  connection.principal = principal;

  if (packet.will) {
    const invalid = validateTopicName(packet.will.topic, broker.topicLimits);
    if (invalid) return refuse(connection, Reason.TopicNameInvalid, `will topic: ${invalid}`);
    const willPacket = {
      cmd: 'publish' as const,
      topic: packet.will.topic,
      payload: packet.will.payload,
      qos: packet.will.qos ?? 0,
      retain: packet.will.retain ?? false,
      dup: false,
      properties: packet.will.properties ?? {},
    };
    const willMessage = messageFromPublish(willPacket, packet.will.topic, clientId, Date.now());
    ownPayload(willMessage);
    connection.will = {
      message: willMessage,
      delaySeconds: packet.will.properties?.willDelayInterval ?? 0,
    };
  }

  // Keep alive: capped at the server's maximum; 0 (none) also gets the maximum, as AWS does.
  const requestedKeepAlive = packet.keepalive ?? 0;
  const keepAlive =
    requestedKeepAlive === 0
      ? limits.maxKeepAliveSeconds
      : Math.min(requestedKeepAlive, limits.maxKeepAliveSeconds);
  connection.keepAliveMs = keepAlive * 1000;
  if (properties.receiveMaximum !== undefined)
    connection.clientReceiveMaximum = properties.receiveMaximum;
  if (properties.maximumPacketSize !== undefined)
    connection.clientMaximumPacketSize = properties.maximumPacketSize;
  if (properties.topicAliasMaximum !== undefined)
    connection.clientTopicAliasMaximum = properties.topicAliasMaximum;

  // Session expiry: 3.1.1 persistent sessions and MQTT 5 ones live at most the configured maximum.
  const requestedExpiry =
    connection.version === 5
      ? (properties.sessionExpiryInterval ?? 0)
      : packet.clean
        ? 0
        : limits.maxSessionExpirySeconds;
  const expirySeconds = Math.min(requestedExpiry, limits.maxSessionExpirySeconds);
  const { session, present } = await broker.attachSession(
    connection,
    packet.clean !== false,
    expirySeconds,
  );

  connection.onConnected();
  const connack: IConnackPacket =
    connection.version === 5
      ? {
          cmd: 'connack',
          sessionPresent: present,
          reasonCode: Reason.Success,
          properties: {
            receiveMaximum: limits.maxInflight,
            maximumPacketSize: limits.maxPacketBytes,
            topicAliasMaximum: limits.topicAliasMaximum,
            retainAvailable: true,
            wildcardSubscriptionAvailable: true,
            subscriptionIdentifiersAvailable: true,
            sharedSubscriptionAvailable: true,
            ...(keepAlive !== requestedKeepAlive ? { serverKeepAlive: keepAlive } : {}),
            ...(expirySeconds !== requestedExpiry ? { sessionExpiryInterval: expirySeconds } : {}),
            ...(assignedClientId ? { assignedClientIdentifier: assignedClientId } : {}),
          },
        }
      : { cmd: 'connack', sessionPresent: present, returnCode: 0 };
  connection.send(connack);
  if (connection.logsAt(Verbosity.INFO))
    connection.log!.write({ eventType: 'Connect', level: Verbosity.INFO, status: 'Success' });
  broker.lifecycle.connected(connection);
  await broker.resumeSession(session);
}
