// Child process for runSdkDevice (helpers/aws-sdk.ts): one device on the AWS IoT Device SDK v2 for
// JavaScript, built the way the SDK's samples build one for AWS IoT Core (mutual TLS, direct MQTT).
// Reads a scenario from argv, prints one `report {json}` line, closes the client and exits.
import { readFileSync } from 'node:fs';
import { io, iot, iotshadow, mqtt, mqtt5, mqtt_request_response } from 'aws-iot-device-sdk-v2';
import { once } from 'node:events';
import type { SdkDeviceReport, SdkDeviceScenario } from './aws-sdk.js';

const scenario = JSON.parse(process.argv[2] as string) as SdkDeviceScenario;
const report: SdkDeviceReport = {
  alpnOffered: io.is_alpn_available(),
  connected: false,
  disconnectedCleanly: false,
};

/**
 * The client's lifecycle events and the steps begun, with milliseconds since start: a step that
 * times out says what the client last went through (a rare `stop` that never ends is chased so).
 */
const trail: string[] = [];
const startedAt = Date.now();
function mark(what: string): void {
  trail.push(`${Date.now() - startedAt} ${what}`);
}

/** `promise`, or a rejection naming `step` (and the trail) after the scenario's timeout. */
async function within<T>(step: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  mark(step);
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new Error(`nothing within ${scenario.timeoutMs} ms (trail: ${trail.join(', ')})`),
            ),
          scenario.timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    throw new Error(`${step}: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error,
    });
  } finally {
    clearTimeout(timer);
  }
}

function noteError(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  report.error = report.error ? `${report.error}; ${message}` : message;
}

async function runMqtt5(): Promise<void> {
  const builder = iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(
    scenario.host,
    readFileSync(scenario.certPath, 'utf8'),
    readFileSync(scenario.keyPath, 'utf8'),
  )
    .withPort(scenario.port)
    .withConnectProperties({ clientId: scenario.clientId, keepAliveIntervalSeconds: 60 })
    .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
    .withConnackTimeoutMs(scenario.timeoutMs);
  if (scenario.caPath) builder.withCertificateAuthority(readFileSync(scenario.caPath, 'utf8'));
  const client = new mqtt5.Mqtt5Client(builder.build());
  const disconnections: string[] = [];
  client.on('disconnection', (event: mqtt5.DisconnectionEvent) => {
    mark('disconnection');
    disconnections.push(event.error.toString());
  });
  const stopped = new Promise<void>((resolve) => client.once('stopped', () => resolve()));
  for (const event of ['attemptingConnect', 'connectionSuccess', 'connectionFailure', 'stopped'])
    client.on(event as 'stopped', () => mark(event));
  try {
    await within(
      'connect',
      new Promise<void>((resolve) => {
        client.once('connectionSuccess', (event: mqtt5.ConnectionSuccessEvent) => {
          report.connected = true;
          report.connackReasonCode = event.connack.reasonCode;
          report.sessionPresent = event.connack.sessionPresent;
          report.settings = { ...event.settings };
          resolve();
        });
        client.once('connectionFailure', (event: mqtt5.ConnectionFailureEvent) => {
          report.connectionFailure = event.error.toString();
          resolve();
        });
        client.start();
      }),
    );
    if (report.connected && scenario.shadow) await driveShadow(client, scenario.shadow);
    const trip = scenario.roundTrip;
    if (report.connected && trip) {
      const suback = await within(
        'subscribe',
        client.subscribe({
          subscriptions: [{ topicFilter: trip.filter, qos: mqtt5.QoS.AtLeastOnce }],
        }),
      );
      report.subscribeResult = suback.reasonCodes;
      const received = new Promise<mqtt5.PublishPacket>((resolve) =>
        client.once('messageReceived', (event: mqtt5.MessageReceivedEvent) =>
          resolve(event.message),
        ),
      );
      const puback = await within(
        'publish',
        client.publish({
          topicName: trip.topic,
          qos: mqtt5.QoS.AtLeastOnce,
          payload: Buffer.from(trip.payloadHex, 'hex'),
          ...(trip.contentType ? { contentType: trip.contentType } : {}),
          ...(trip.userProperties ? { userProperties: trip.userProperties } : {}),
        }),
      );
      report.pubackReasonCode = puback?.reasonCode;
      const message = await within('message', received);
      report.message = {
        topic: message.topicName,
        qos: message.qos,
        retain: message.retain ?? false,
        payloadHex: Buffer.from(message.payload as ArrayBuffer).toString('hex'),
        ...(message.contentType !== undefined ? { contentType: message.contentType } : {}),
        ...(message.userProperties ? { userProperties: message.userProperties } : {}),
      };
    }
  } catch (error) {
    noteError(error);
  } finally {
    try {
      // stop() sends DISCONNECT (Normal Disconnection) when connected and ends reconnect attempts.
      client.stop({ reasonCode: mqtt5.DisconnectReasonCode.NormalDisconnection });
      await within('stop', stopped);
      report.disconnectedCleanly = report.connected;
    } catch (error) {
      noteError(error);
    }
    report.disconnections = disconnections;
    client.close();
  }
}

/** A named shadow through the SDK's own shadow client: its topics, clientTokens and documents. */
async function driveShadow(
  client: mqtt5.Mqtt5Client,
  target: { thingName: string; shadowName: string },
): Promise<void> {
  const shadow = iotshadow.IotShadowClientv2.newFromMqtt5(client, {
    maxRequestResponseSubscriptions: 4,
    maxStreamingSubscriptions: 2,
    operationTimeoutInSeconds: Math.ceil(scenario.timeoutMs / 1000),
  });
  const result: NonNullable<SdkDeviceReport['shadow']> = {};
  report.shadow = result;
  const deltas = shadow.createNamedShadowDeltaUpdatedStream(target);
  try {
    const subscribed = once(deltas, mqtt_request_response.StreamingOperation.SUBSCRIPTION_STATUS);
    deltas.open();
    await within('delta stream', subscribed);
    const delta = once(deltas, mqtt_request_response.StreamingOperation.INCOMING_PUBLISH);
    const desired = await within(
      'update desired',
      shadow.updateNamedShadow({ ...target, state: { desired: { color: 'blue', on: true } } }),
    );
    result.desiredVersion = desired.version;
    const [event] = (await within('delta', delta)) as [{ message: { state?: unknown } }];
    result.delta = event.message.state;
    const reported = await within(
      'update reported',
      shadow.updateNamedShadow({ ...target, state: { reported: { color: 'blue', on: true } } }),
    );
    result.reportedVersion = reported.version;
    const got = await within('get', shadow.getNamedShadow(target));
    result.got = {
      state: got.state,
      ...(got.version !== undefined ? { version: got.version } : {}),
    };
    result.deletedVersion = (await within('delete', shadow.deleteNamedShadow(target))).version;
    result.getAfterDelete = await shadow.getNamedShadow(target).then(
      () => 'found',
      // The service's rejected document, as the SDK parsed it into its ErrorResponse model.
      (error: mqtt_request_response.ServiceError) =>
        JSON.stringify(error.modeledError ?? error.message),
    );
    // The CRT client (aws-crt 1.33.1) acknowledges each response after its handler has run. If
    // stop() comes first, that PUBACK is queued ahead of the DISCONNECT, which a stopping client
    // never writes: no DISCONNECT, no 'stopped', ever (its trace shows the service task
    // cancelled and not rescheduled). A round trip through the server first lets the PUBACK
    // go out. UNSUBSCRIBE from a filter never subscribed has no other effect.
    await within(
      'round trip before stop',
      client.unsubscribe({
        topicFilters: [
          `$aws/things/${target.thingName}/shadow/name/${target.shadowName}/update/documents`,
        ],
      }),
    );
  } finally {
    deltas.close();
    shadow.close();
  }
}

async function runMqtt311(): Promise<void> {
  const builder = iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder_from_path(
    scenario.certPath,
    scenario.keyPath,
  )
    .with_endpoint(scenario.host)
    .with_port(scenario.port)
    .with_client_id(scenario.clientId)
    .with_clean_session(true)
    .with_keep_alive_seconds(60);
  if (scenario.caPath) builder.with_certificate_authority_from_path(undefined, scenario.caPath);
  const connection = new mqtt.MqttClient().new_connection(builder.build());
  try {
    try {
      report.sessionPresent = await within('connect', connection.connect());
      report.connected = true;
      report.connackReasonCode = 0;
    } catch (error) {
      report.connectionFailure = error instanceof Error ? error.message : String(error);
    }
    const trip = scenario.roundTrip;
    if (report.connected && trip) {
      let onMessage: mqtt.OnMessageCallback = () => undefined;
      const received = new Promise<NonNullable<SdkDeviceReport['message']>>((resolve) => {
        onMessage = (topic, payload, _dup, qos, retain) =>
          resolve({ topic, qos, retain, payloadHex: Buffer.from(payload).toString('hex') });
      });
      const suback = await within(
        'subscribe',
        connection.subscribe(trip.filter, mqtt.QoS.AtLeastOnce, (...args) => onMessage(...args)),
      );
      report.subscribeResult = [suback.qos];
      if (suback.error_code) throw new Error(`subscribe: error code ${suback.error_code}`);
      await within(
        'publish',
        connection.publish(trip.topic, Buffer.from(trip.payloadHex, 'hex'), mqtt.QoS.AtLeastOnce),
      );
      report.pubackReasonCode = 0;
      report.message = await within('message', received);
    }
  } catch (error) {
    noteError(error);
  } finally {
    if (report.connected) {
      try {
        // Sends DISCONNECT and frees the connection's native resources once closed.
        await within('disconnect', connection.disconnect());
        report.disconnectedCleanly = true;
      } catch (error) {
        noteError(error);
      }
    }
  }
}

try {
  await (scenario.protocol === 'mqtt5' ? runMqtt5() : runMqtt311());
} catch (error) {
  noteError(error);
}
process.stdout.write(`report ${JSON.stringify(report)}\n`);
process.exit(0);
