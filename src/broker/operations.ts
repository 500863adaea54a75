import type { QoS } from 'mqtt-packet';
import { IotArns } from '../api/iot-arns.js';
import type { Operation, OperationRequest } from '../api/operation.js';
import { BulwarkError } from '../errors.js';
import { decodeToken, encodeToken } from '../api/validation.js';
import {
  checkPageSize,
  constraintError,
  invalid,
  queryBoolean,
  queryInteger,
  queryValue,
} from '../api/validation.js';
import type { Broker } from './broker.js';
import type { MessageProperties } from './message.js';
import { MQTT_TOPIC_LIMITS, validateTopicName } from './topics/topic-validation.js';

/**
 * The HTTPS data plane's messaging operations (aws-iot-behaviour.md §5.6): Publish,
 * GetRetainedMessage and ListRetainedMessages, signed as `iotdata` by operators or called by
 * devices with their client certificate. A publish goes through the same broker as an MQTT
 * PUBLISH, with the same topic rules and limits.
 */

/** The path's topic: `/topics/a%2Fb` and `/topics/a/b` both name `a/b`. */
const TOPIC_PARAM = '*';
const USER_PROPERTIES_HEADER = 'x-amz-mqtt5-user-properties';
const PAYLOAD_FORMAT_HEADER = 'x-amz-mqtt5-payload-format-indicator';
const CORRELATION_DATA_HEADER = 'x-amz-mqtt5-correlation-data';
/** The SDK's PayloadFormatIndicator enum, as MQTT 5's Payload Format Indicator. */
const PAYLOAD_FORMATS: Record<string, boolean> = { UNSPECIFIED_BYTES: false, UTF8_DATA: true };
/** MQTT 5's Message Expiry Interval is a Four Byte Integer (§3.3.2.3.3). */
const MAX_MESSAGE_EXPIRY_SECONDS = 0xffff_ffff;
/** An MQTT UTF-8 string's most bytes [MQTT-1.5.4-1]. */
const MAX_MQTT_STRING_BYTES = 65_535;
/** AWS's range for ListRetainedMessages' maxResults: 1 to 200 (also the default here). */
const MAX_RESULTS = 200;
const LIST = 'ListRetainedMessages';
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const UTF8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Buffer): boolean {
  try {
    UTF8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** A string MQTT can carry: well-formed UTF-8 without U+0000, at most 65,535 bytes [MQTT-1.5.4]. */
function checkMqttString(value: string, field: string): string {
  if (value.includes('\u0000') || LONE_SURROGATE.test(value))
    throw invalid(`${field} must be well-formed UTF-8 without U+0000.`);
  if (Buffer.byteLength(value, 'utf8') > MAX_MQTT_STRING_BYTES)
    throw invalid(`${field} is longer than ${MAX_MQTT_STRING_BYTES} bytes.`);
  return value;
}

/** The topic from the path, checked as an MQTT PUBLISH topic name with the broker's limits. */
function topicOf(request: OperationRequest, broker: Broker): string {
  const topic = request.params[TOPIC_PARAM] ?? '';
  const problem = validateTopicName(topic, broker.topicLimits);
  if (problem) throw invalid(`Invalid topic: ${problem}.`);
  return topic;
}

function topicArn(request: OperationRequest, topic: string): string {
  return new IotArns(request.context.region, request.context.accountId).topic(topic);
}

function singleHeader(request: OperationRequest, name: string): string | undefined {
  const value = request.headers[name];
  if (Array.isArray(value)) throw invalid(`The ${name} header may be given only once.`);
  return value;
}

function base64Header(request: OperationRequest, name: string): Buffer | undefined {
  const value = singleHeader(request, name);
  if (value === undefined) return undefined;
  if (!BASE64.test(value)) throw invalid(`The ${name} header must be base64.`);
  return Buffer.from(value, 'base64');
}

/**
 * `x-amz-mqtt5-user-properties`: base64 of a JSON array of objects of string members
 * (`[{"key":"value"}, …]`), as the SDK and the CLI send it. A name given more than once keeps
 * every value, in order.
 */
function userPropertiesOf(
  request: OperationRequest,
): Record<string, string | string[]> | undefined {
  const bytes = base64Header(request, USER_PROPERTIES_HEADER);
  if (bytes === undefined) return undefined;
  const malformed = () =>
    invalid(
      `The ${USER_PROPERTIES_HEADER} header must be base64 of a JSON array of objects whose members are strings.`,
    );
  let list: unknown;
  try {
    list = JSON.parse(UTF8.decode(bytes));
  } catch {
    throw malformed();
  }
  if (!Array.isArray(list)) throw malformed();
  // No prototype: a property named __proto__ is just a name.
  const properties: Record<string, string | string[]> = Object.create(null);
  for (const item of list) {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) throw malformed();
    for (const [name, value] of Object.entries(item as Record<string, unknown>)) {
      if (typeof value !== 'string') throw malformed();
      checkMqttString(name, 'A user property name');
      checkMqttString(value, 'A user property value');
      const previous = properties[name];
      properties[name] =
        previous === undefined
          ? value
          : [...(Array.isArray(previous) ? previous : [previous]), value];
    }
  }
  return properties;
}

/** User properties as GetRetainedMessage returns them: the same JSON array the publisher sent. */
function userPropertiesJson(properties: Record<string, string | string[]>): Buffer {
  const list = Object.entries(properties).flatMap(([name, values]) =>
    (Array.isArray(values) ? values : [values]).map((value) => ({ [name]: value })),
  );
  return Buffer.from(JSON.stringify(list), 'utf8');
}

/** The MQTT 5 properties a Publish request carries in its query and headers. */
function propertiesOf(request: OperationRequest, payload: Buffer): MessageProperties {
  const properties: MessageProperties = {};
  const format = singleHeader(request, PAYLOAD_FORMAT_HEADER);
  if (format !== undefined) {
    const utf8 = PAYLOAD_FORMATS[format];
    if (utf8 === undefined)
      throw constraintError(
        'payloadFormatIndicator',
        `Member must satisfy enum value set: [${Object.keys(PAYLOAD_FORMATS).join(', ')}]`,
      );
    // [MQTT-3.3.2-4] A payload said to be UTF-8 must be.
    if (utf8 && !isUtf8(payload))
      throw invalid('The payload format indicator says UTF-8 but the payload is not.');
    properties.payloadFormatIndicator = utf8;
  }
  const contentType = queryValue(request.query, 'contentType');
  if (contentType !== undefined)
    properties.contentType = checkMqttString(contentType, 'contentType');
  const responseTopic = queryValue(request.query, 'responseTopic');
  if (responseTopic !== undefined) {
    // [MQTT-3.3.2-14] The Response Topic is a topic name: no wildcards.
    const problem = validateTopicName(responseTopic, MQTT_TOPIC_LIMITS);
    if (problem) throw invalid(`Invalid responseTopic: ${problem}.`);
    properties.responseTopic = responseTopic;
  }
  const correlationData = base64Header(request, CORRELATION_DATA_HEADER);
  if (correlationData !== undefined) properties.correlationData = correlationData;
  const userProperties = userPropertiesOf(request);
  if (userProperties !== undefined) properties.userProperties = userProperties;
  return properties;
}

/** QoS 0 or 1: AWS IoT does not take QoS 2. */
function qosOf(request: OperationRequest): QoS {
  const qos = queryInteger(request.query, 'qos') ?? 0;
  if (qos !== 0 && qos !== 1) throw constraintError('qos', 'Member must be 0 or 1');
  return qos;
}

function messageExpiryOf(request: OperationRequest): number | undefined {
  const seconds = queryInteger(request.query, 'messageExpiry');
  if (seconds === undefined) return undefined;
  if (seconds < 1 || seconds > MAX_MESSAGE_EXPIRY_SECONDS)
    throw constraintError(
      'messageExpiry',
      `Member must be between 1 and ${MAX_MESSAGE_EXPIRY_SECONDS} seconds`,
    );
  return seconds;
}

function maxResultsOf(request: OperationRequest): number {
  return checkPageSize(
    queryInteger(request.query, 'maxResults') ?? MAX_RESULTS,
    'maxResults',
    MAX_RESULTS,
  );
}

export function brokerOperations(broker: Broker): Operation[] {
  return [
    {
      name: 'Publish',
      action: 'iot:Publish',
      method: 'POST',
      path: `/topics/${TOPIC_PARAM}`,
      plane: 'data',
      readOnly: false,
      body: 'raw',
      resource: (request) => topicArn(request, topicOf(request, broker)),
      // A retained publish also needs iot:RetainPublish, as over MQTT.
      additionalActions: (request) =>
        queryBoolean(request.query, 'retain') ? ['iot:RetainPublish'] : [],
      async handle(request) {
        const topic = topicOf(request, broker);
        // Lifecycle and registry events come from the broker alone: no caller may forge one.
        if (topic.startsWith('$aws/events/'))
          throw new BulwarkError(
            'Forbidden',
            'Forbidden: topics under $aws/events/ are reserved for the broker.',
          );
        const payload = request.body as Buffer;
        const limit = broker.limits.maxPayloadBytes;
        if (payload.length > limit)
          throw new BulwarkError(
            'RequestEntityTooLarge',
            `The payload exceeds the maximum size allowed (${limit} bytes).`,
            { limit },
          );
        const qos = qosOf(request);
        const retain = queryBoolean(request.query, 'retain') ?? false;
        const properties = propertiesOf(request, payload);
        const expirySeconds = messageExpiryOf(request);
        // As AWS throttles retained publishes at its account limit.
        if (retain && payload.length > 0 && broker.retainedQuotaReached(topic))
          throw new BulwarkError(
            'Throttling',
            `The broker holds its maximum of ${broker.limits.maxRetainedMessages} retained messages.`,
          );
        // The inline check (guard.inline), as over MQTT: a refusal is the 400 a bad request gets.
        const verdict = broker.payloadGuard?.check(topic, payload);
        if (verdict) {
          const { caller, sourceIp, userAgent } = request.context;
          broker.reportSensitivePayload(
            { via: 'https', caller, sourceIp, userAgent },
            topic,
            verdict,
          );
          if (verdict.action === 'refuse')
            throw invalid(
              `The payload holds sensitive data (${verdict.detectors.join(', ')}): the payload guard refused the message.`,
            );
        }
        // Once this resolves the message is routed and (retained, or for persistent sessions)
        // stored: the 200 acknowledges it as a PUBACK would. A publish on a service's reserved
        // topic (a shadow update) is also a request to that service, as it is over MQTT; each
        // HTTPS request is a requester of its own.
        await broker.publish(
          {
            topic,
            payload,
            qos,
            retain,
            properties,
            ...(expirySeconds !== undefined
              ? { expiresAt: Date.now() + expirySeconds * 1000 }
              : {}),
          },
          undefined,
          request,
        );
        return {};
      },
    },
    {
      name: 'GetRetainedMessage',
      action: 'iot:GetRetainedMessage',
      method: 'GET',
      path: `/retainedMessage/${TOPIC_PARAM}`,
      plane: 'data',
      readOnly: true,
      resource: (request) => topicArn(request, topicOf(request, broker)),
      async handle(request) {
        const message = broker.retained.get(topicOf(request, broker));
        if (!message)
          throw new BulwarkError('ResourceNotFound', 'No retained message exists on this topic.');
        const { userProperties } = message.properties;
        return {
          body: {
            topic: message.topic,
            payload: message.payload.toString('base64'),
            qos: message.qos,
            lastModifiedTime: message.updatedAt,
            ...(userProperties
              ? { userProperties: userPropertiesJson(userProperties).toString('base64') }
              : {}),
          },
        };
      },
    },
    {
      name: 'ListRetainedMessages',
      action: 'iot:ListRetainedMessages',
      method: 'GET',
      path: '/retainedMessage',
      plane: 'data',
      readOnly: true,
      async handle(request) {
        const after = decodeToken(queryValue(request.query, 'nextToken'), LIST);
        const page = await broker.retained.page({
          ...(after !== undefined ? { after } : {}),
          limit: maxResultsOf(request),
        });
        const last = page.messages[page.messages.length - 1];
        return {
          body: {
            retainedTopics: page.messages.map((message) => ({
              topic: message.topic,
              payloadSize: message.payload.length,
              qos: message.qos,
              lastModifiedTime: message.updatedAt,
            })),
            ...(page.more && last ? { nextToken: encodeToken(LIST, last.topic) } : {}),
          },
        };
      },
    },
  ];
}
