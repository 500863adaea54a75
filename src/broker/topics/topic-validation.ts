/**
 * Validation of PUBLISH topic names and SUBSCRIBE topic filters: the MQTT 3.1.1/5 rules, then
 * AWS IoT Core's topic quotas as configurable limits. Each check cites the spec's normative id
 * (3.1.1 numbering first, MQTT 5's where it differs).
 *
 * Problems are returned as reason strings that never quote the topic, so they can be logged or
 * sent back as an MQTT 5 Reason String without leaking whatever a device put in its topic.
 */

/** Quotas on the counted part of a topic: what is left after an uncounted prefix (see below). */
export interface TopicLimits {
  /** Most UTF-8 bytes. */
  readonly maxTopicBytes: number;
  /** Most `/` characters; n slashes make n + 1 levels. */
  readonly maxSlashes: number;
}

/**
 * AWS IoT Core's topic quotas: 256 bytes and 7 slashes. As in AWS's device SDKs, neither counts
 * a Basic Ingest prefix `$aws/rules/{rule}/`, nor a filter's shared subscription prefix
 * `$share/{ShareName}/`.
 */
export const AWS_TOPIC_LIMITS: TopicLimits = Object.freeze({ maxTopicBytes: 256, maxSlashes: 7 });

/** A UTF-8 string in an MQTT packet has a 16-bit length [MQTT-4.7.3-3]. */
export const MQTT_MAX_TOPIC_BYTES = 65535;

/** The protocol's own bounds only, for code that applies no AWS quota. */
export const MQTT_TOPIC_LIMITS: TopicLimits = Object.freeze({
  maxTopicBytes: MQTT_MAX_TOPIC_BYTES,
  maxSlashes: Infinity,
});

/** `$share/{ShareName}/{filter}` taken apart. */
export interface SharedFilter {
  readonly shareName: string;
  readonly filter: string;
}

const SHARE_PREFIX = '$share/';
const RULES_PREFIX = '$aws/rules/';

const NUL = 0x00;
const HASH = 0x23;
const PLUS = 0x2b;
const SLASH = 0x2f;

/** A PUBLISH topic name's problem, or undefined when it is valid. Check it after alias resolution. */
export function validateTopicName(name: string, limits: TopicLimits): string | undefined {
  if (name.length === 0) return 'the topic name is empty [MQTT-4.7.3-1]';
  return checkTopic(name, 0, rulesPrefixEnd(name, 0), false, limits);
}

/** A SUBSCRIBE or UNSUBSCRIBE topic filter's problem, or undefined when it is valid. */
export function validateTopicFilter(filter: string, limits: TopicLimits): string | undefined {
  if (filter.length === 0) return 'the topic filter is empty [MQTT-4.7.3-1]';
  let filterStart = 0;
  if (filter.startsWith(SHARE_PREFIX)) {
    const nameEnd = filter.indexOf('/', SHARE_PREFIX.length);
    const shareNameEnd = nameEnd < 0 ? filter.length : nameEnd;
    if (shareNameEnd === SHARE_PREFIX.length) {
      return 'the shared subscription has an empty ShareName [MQTT-4.8.2-1]';
    }
    for (let i = SHARE_PREFIX.length; i < shareNameEnd; i++) {
      const c = filter.charCodeAt(i);
      if (c === PLUS || c === HASH) {
        return 'the ShareName contains "+" or "#" [MQTT-4.8.2-2]';
      }
    }
    if (nameEnd < 0 || nameEnd + 1 === filter.length) {
      return 'the ShareName is not followed by "/" and a topic filter [MQTT-4.8.2-2]';
    }
    filterStart = nameEnd + 1;
  }
  return checkTopic(filter, filterStart, rulesPrefixEnd(filter, filterStart), true, limits);
}

/**
 * Takes a shared subscription filter apart; undefined for a non-shared one. Expects a filter that
 * validateTopicFilter accepted.
 */
export function parseSharedFilter(filter: string): SharedFilter | undefined {
  if (!filter.startsWith(SHARE_PREFIX)) return undefined;
  const nameEnd = filter.indexOf('/', SHARE_PREFIX.length);
  if (nameEnd < 0) return undefined;
  return {
    shareName: filter.slice(SHARE_PREFIX.length, nameEnd),
    filter: filter.slice(nameEnd + 1),
  };
}

/**
 * Where the counted part begins: after `$aws/rules/{rule}/` when the topic (from `start`) has one
 * with a non-empty rule name and something after it, as AWS's device SDK counts; else `start`.
 * Case-sensitive, because topics are [MQTT-4.7.3-4].
 */
function rulesPrefixEnd(topic: string, start: number): number {
  if (!topic.startsWith(RULES_PREFIX, start)) return start;
  const ruleStart = start + RULES_PREFIX.length;
  const ruleEnd = topic.indexOf('/', ruleStart);
  if (ruleEnd <= ruleStart || ruleEnd + 1 === topic.length) return start;
  return ruleEnd + 1;
}

/**
 * One pass over the whole string: character rules everywhere, wildcard rules from `filterStart`
 * (a ShareName's own rules were checked before), limits on the part from `countedStart`.
 */
function checkTopic(
  topic: string,
  filterStart: number,
  countedStart: number,
  isFilter: boolean,
  limits: TopicLimits,
): string | undefined {
  const subject = isFilter ? 'the topic filter' : 'the topic name';
  // Each UTF-16 unit encodes to at least one byte, so this bounds the work on hostile input.
  if (topic.length > MQTT_MAX_TOPIC_BYTES) return tooLongForMqtt(subject);
  let totalBytes = 0;
  let countedBytes = 0;
  let countedSlashes = 0;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    let bytes: number;
    if (c < 0x80) {
      bytes = 1;
      if (c === NUL) return `${subject} contains U+0000 [MQTT-4.7.3-2]`;
      if ((c === PLUS || c === HASH) && i >= filterStart) {
        // [MQTT-3.3.2-2], [MQTT-4.7.1-1] (v5: [MQTT-4.7.0-1])
        if (!isFilter) return 'the topic name contains a wildcard "+" or "#" [MQTT-3.3.2-2]';
        const startsLevel = i === filterStart || topic.charCodeAt(i - 1) === SLASH;
        const isLast = i + 1 === topic.length;
        if (c === HASH && !(startsLevel && isLast)) {
          // v5: [MQTT-4.7.1-1]
          return '"#" must be alone in the last level of the topic filter [MQTT-4.7.1-2]';
        }
        if (c === PLUS && !(startsLevel && (isLast || topic.charCodeAt(i + 1) === SLASH))) {
          // v5: [MQTT-4.7.1-2]
          return '"+" must be alone in its level of the topic filter [MQTT-4.7.1-3]';
        }
      } else if (c === SLASH && i >= countedStart) {
        countedSlashes++;
      }
    } else if (c < 0x800) {
      bytes = 2;
    } else if (c >= 0xd800 && c <= 0xdfff) {
      // A lone surrogate has no UTF-8 encoding [MQTT-1.5.3-1] (v5: [MQTT-1.5.4-1]).
      const low = topic.charCodeAt(i + 1);
      if (c > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) {
        return `${subject} is not well-formed UTF-8 [MQTT-1.5.3-1]`;
      }
      bytes = 4;
      i++;
    } else {
      bytes = 3;
    }
    totalBytes += bytes;
    if (i >= countedStart) countedBytes += bytes;
  }
  if (totalBytes > MQTT_MAX_TOPIC_BYTES) return tooLongForMqtt(subject);
  if (countedBytes > limits.maxTopicBytes) {
    return `${subject} is longer than ${limits.maxTopicBytes} bytes, the topic size limit`;
  }
  if (countedSlashes > limits.maxSlashes) {
    return `${subject} has more than ${limits.maxSlashes} slashes, the topic level limit`;
  }
  return undefined;
}

function tooLongForMqtt(subject: string): string {
  return `${subject} encodes to more than ${MQTT_MAX_TOPIC_BYTES} bytes [MQTT-4.7.3-3]`;
}
