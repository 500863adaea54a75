import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  AWS_TOPIC_LIMITS,
  MQTT_TOPIC_LIMITS,
  parseSharedFilter,
  validateTopicFilter,
  validateTopicName,
  type TopicLimits,
} from '../../src/broker/topics/topic-validation.js';

const SPEC = MQTT_TOPIC_LIMITS;

/** Names a topic in an assertion message without printing 64 KiB of it. */
function shown(topic: string): string {
  return JSON.stringify(topic.length > 40 ? `${topic.slice(0, 40)}…(${topic.length})` : topic);
}

function assertNameValid(name: string, limits: TopicLimits = SPEC): void {
  assert.equal(validateTopicName(name, limits), undefined, `name ${shown(name)}`);
}

function assertFilterValid(filter: string, limits: TopicLimits = SPEC): void {
  assert.equal(validateTopicFilter(filter, limits), undefined, `filter ${shown(filter)}`);
}

function assertNameInvalid(name: string, why: RegExp, limits: TopicLimits = SPEC): void {
  assert.match(validateTopicName(name, limits) ?? 'valid', why, `name ${shown(name)}`);
}

function assertFilterInvalid(filter: string, why: RegExp, limits: TopicLimits = SPEC): void {
  const problem = validateTopicFilter(filter, limits) ?? 'valid';
  assert.match(problem, why, `filter ${shown(filter)}`);
}

test('[MQTT-4.7.3-1] an empty topic name or filter is invalid', () => {
  assertNameInvalid('', /empty \[MQTT-4\.7\.3-1\]/);
  assertFilterInvalid('', /empty \[MQTT-4\.7\.3-1\]/);
});

test('[MQTT-3.3.2-2] [MQTT-4.7.1-1] a topic name must not contain "+" or "#"', () => {
  for (const name of ['+', '#', 'a/+', 'a/#', 'a+b', 'a/b#', '$SYS/+']) {
    assertNameInvalid(name, /wildcard.*\[MQTT-3\.3\.2-2\]/);
  }
});

test('[MQTT-4.7.1-2] "#" is valid only alone in the last level of a filter', () => {
  for (const filter of ['#', 'a/#', '/#', 'a/b/#', '+/#', 'a//#', '$SYS/#']) {
    assertFilterValid(filter);
  }
  for (const filter of ['a#', '#a', 'a/#/b', '#/a', 'a/b#', '##', 'a/##', '#/', 'a/#/']) {
    assertFilterInvalid(filter, /"#".*\[MQTT-4\.7\.1-2\]/);
  }
});

test('[MQTT-4.7.1-3] "+" is valid only alone in its level of a filter', () => {
  for (const filter of ['+', '+/+', 'a/+/b', '/+', '+/', 'a/+', '+//+', '$SYS/+']) {
    assertFilterValid(filter);
  }
  for (const filter of ['a+', '+a', 'a/b+/c', '++', 'a/++', '+a/b', 'a/+b']) {
    assertFilterInvalid(filter, /"\+".*\[MQTT-4\.7\.1-3\]/);
  }
});

test('[MQTT-4.7.3-2] U+0000 is refused in a topic name and in a filter', () => {
  assertNameInvalid('a/\u0000/b', /U\+0000 \[MQTT-4\.7\.3-2\]/);
  assertFilterInvalid('a/\u0000', /U\+0000 \[MQTT-4\.7\.3-2\]/);
  assertFilterInvalid('$share/g\u0000/a', /U\+0000 \[MQTT-4\.7\.3-2\]/);
});

test('[MQTT-1.5.3-1] a lone surrogate is not well-formed UTF-8; a surrogate pair is fine', () => {
  assertNameInvalid('a/\ud800', /well-formed UTF-8 \[MQTT-1\.5\.3-1\]/);
  assertNameInvalid('a/\udc00b', /well-formed UTF-8/);
  assertFilterInvalid('\ud800\ud800/+', /well-formed UTF-8/);
  assertNameValid('sensors/\u{1f321}');
  assertFilterValid('sensors/\u{1f321}/+');
});

test('[MQTT-4.7.3-3] a topic encodes to at most 65535 UTF-8 bytes', () => {
  assertNameValid('a'.repeat(65535));
  assertNameInvalid('a'.repeat(65536), /65535 bytes \[MQTT-4\.7\.3-3\]/);
  // 2 bytes per character: 32768 characters are 65536 bytes.
  assertNameValid('é'.repeat(32767));
  assertNameInvalid('é'.repeat(32768), /\[MQTT-4\.7\.3-3\]/);
  assertNameInvalid('\u{1f321}'.repeat(16384), /\[MQTT-4\.7\.3-3\]/);
  assertFilterValid(`${'a/'.repeat(32767)}#`);
  assertFilterInvalid(`${'a/'.repeat(32768)}#`, /\[MQTT-4\.7\.3-3\]/);
});

test('[MQTT-4.7.3-4] names may hold spaces, "$", empty levels and bare slashes', () => {
  for (const name of ['/', '//', 'a//b', ' ', 'a/ b /c', '$SYS/broker', 'a/', '/a', 'ÄÖÜ/ß']) {
    assertNameValid(name);
    assertFilterValid(name);
  }
});

test('[MQTT-4.8.2-1] a shared subscription needs a non-empty ShareName', () => {
  assertFilterInvalid('$share/', /empty ShareName \[MQTT-4\.8\.2-1\]/);
  assertFilterInvalid('$share//a/b', /empty ShareName \[MQTT-4\.8\.2-1\]/);
});

test('[MQTT-4.8.2-2] a ShareName has no "+" or "#" and is followed by "/" and a filter', () => {
  assertFilterInvalid('$share/g+/a', /"\+" or "#" \[MQTT-4\.8\.2-2\]/);
  assertFilterInvalid('$share/#/a', /"\+" or "#" \[MQTT-4\.8\.2-2\]/);
  assertFilterInvalid('$share/+', /"\+" or "#" \[MQTT-4\.8\.2-2\]/);
  assertFilterInvalid('$share/g', /followed by "\/" and a topic filter \[MQTT-4\.8\.2-2\]/);
  assertFilterInvalid('$share/g/', /followed by "\/" and a topic filter \[MQTT-4\.8\.2-2\]/);
  // The filter after the ShareName follows the ordinary rules; a wildcard may start it.
  assertFilterInvalid('$share/g/a/#/b', /\[MQTT-4\.7\.1-2\]/);
  assertFilterInvalid('$share/g/a+', /\[MQTT-4\.7\.1-3\]/);
  for (const filter of ['$share/g/#', '$share/g/+', '$share/g/+/x', '$share/g//', '$share/g/a/b']) {
    assertFilterValid(filter);
  }
});

test('only "$share/" starts a shared subscription; "$share" and "$shared/…" are plain filters', () => {
  assertFilterValid('$share');
  assertFilterValid('$shared/x');
  assert.equal(parseSharedFilter('$share'), undefined);
  assert.equal(parseSharedFilter('$shared/x'), undefined);
  assert.equal(parseSharedFilter('a/b'), undefined);
  // A PUBLISH topic name under $share is not a subscription; nothing is parsed there.
  assertNameValid('$share/g/a');
});

test('parseSharedFilter splits $share/{ShareName}/{filter} [MQTT-4.8.2-1]', () => {
  assert.deepEqual(parseSharedFilter('$share/g/a/b'), { shareName: 'g', filter: 'a/b' });
  assert.deepEqual(parseSharedFilter('$share/workers/#'), { shareName: 'workers', filter: '#' });
  assert.deepEqual(parseSharedFilter('$share/g//'), { shareName: 'g', filter: '/' });
  assert.deepEqual(parseSharedFilter('$share/g/$share/h/x'), {
    shareName: 'g',
    filter: '$share/h/x',
  });
});

test('AWS limit: at most 256 UTF-8 bytes', () => {
  assert.deepEqual(AWS_TOPIC_LIMITS, { maxTopicBytes: 256, maxSlashes: 7 });
  assertNameValid('a'.repeat(256), AWS_TOPIC_LIMITS);
  assertNameInvalid('a'.repeat(257), /longer than 256 bytes/, AWS_TOPIC_LIMITS);
  assertFilterValid(`${'a'.repeat(254)}/#`, AWS_TOPIC_LIMITS);
  assertFilterInvalid(`${'a'.repeat(255)}/#`, /longer than 256 bytes/, AWS_TOPIC_LIMITS);
  // Bytes, not characters: 'é' is two bytes.
  assertNameValid('é'.repeat(128), AWS_TOPIC_LIMITS);
  assertNameInvalid('é'.repeat(129), /longer than 256 bytes/, AWS_TOPIC_LIMITS);
});

test('AWS limit: at most 7 slashes (8 levels), empty levels included', () => {
  assertNameValid('1/2/3/4/5/6/7/8', AWS_TOPIC_LIMITS);
  assertNameInvalid('1/2/3/4/5/6/7/8/9', /more than 7 slashes/, AWS_TOPIC_LIMITS);
  assertNameValid('///////', AWS_TOPIC_LIMITS);
  assertNameInvalid('////////', /more than 7 slashes/, AWS_TOPIC_LIMITS);
  assertFilterValid('+/+/+/+/+/+/+/#', AWS_TOPIC_LIMITS);
  assertFilterInvalid('+/+/+/+/+/+/+/+/#', /more than 7 slashes/, AWS_TOPIC_LIMITS);
});

test('AWS limit: the Basic Ingest prefix $aws/rules/{rule}/ counts toward neither limit', () => {
  const prefix = '$aws/rules/my_rule/';
  assertNameValid(`${prefix}1/2/3/4/5/6/7/8`, AWS_TOPIC_LIMITS);
  assertNameInvalid(`${prefix}1/2/3/4/5/6/7/8/9`, /more than 7 slashes/, AWS_TOPIC_LIMITS);
  assertNameValid(`${prefix}${'a'.repeat(256)}`, AWS_TOPIC_LIMITS);
  assertNameInvalid(`${prefix}${'a'.repeat(257)}`, /longer than 256 bytes/, AWS_TOPIC_LIMITS);
  assertFilterValid(`${prefix}1/2/3/4/5/6/7/#`, AWS_TOPIC_LIMITS);
  // Without the full prefix (rule name and something after it), every slash and byte counts.
  assertNameInvalid('$aws/rules//1/2/3/4/5/6', /more than 7 slashes/, AWS_TOPIC_LIMITS);
  assertNameInvalid('$aws/rulesx/r/1/2/3/4/5/6', /more than 7 slashes/, AWS_TOPIC_LIMITS);
  assertNameInvalid('$aws/things/t/1/2/3/4/5/6', /more than 7 slashes/, AWS_TOPIC_LIMITS);
  // Topics are case-sensitive [MQTT-4.7.3-4]; so is the prefix.
  assertNameInvalid('$AWS/rules/r/1/2/3/4/5/6', /more than 7 slashes/, AWS_TOPIC_LIMITS);
  assertNameValid('$aws/rules/r/', AWS_TOPIC_LIMITS);
});

test('AWS limit: a shared subscription prefix $share/{ShareName}/ is not counted either', () => {
  assertFilterValid('$share/group/1/2/3/4/5/6/7/#', AWS_TOPIC_LIMITS);
  assertFilterInvalid('$share/group/1/2/3/4/5/6/7/8/#', /more than 7 slashes/, AWS_TOPIC_LIMITS);
  assertFilterValid(`$share/${'g'.repeat(300)}/${'a'.repeat(256)}`, AWS_TOPIC_LIMITS);
  assertFilterInvalid(`$share/g/${'a'.repeat(257)}`, /longer than 256 bytes/, AWS_TOPIC_LIMITS);
  assertFilterValid('$share/g/$aws/rules/r/1/2/3/4/5/6/7/8', AWS_TOPIC_LIMITS);
});

test('limits are configurable', () => {
  const tight: TopicLimits = { maxTopicBytes: 5, maxSlashes: 1 };
  assertNameValid('ab/cd', tight);
  assertNameInvalid('ab/cde', /longer than 5 bytes/, tight);
  assertNameInvalid('a/b/c', /more than 1 slashes/, tight);
  assertNameValid('a/b/c/d/e/f/g/h/i/j', SPEC);
});

test('a reason never quotes the topic, so it is safe to log or send back', () => {
  const secret = 'patient-4711-diagnosis';
  const cases = [
    validateTopicName(`${secret}/+`, SPEC),
    validateTopicName(`${secret}/${'x'.repeat(300)}`, AWS_TOPIC_LIMITS),
    validateTopicFilter(`${secret}/#/x`, SPEC),
    validateTopicFilter(`$share/${secret}+/x`, SPEC),
  ];
  for (const reason of cases) {
    assert.ok(reason !== undefined);
    assert.ok(!reason.includes(secret), reason);
  }
});
