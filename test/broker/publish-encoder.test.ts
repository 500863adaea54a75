import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { test } from 'node:test';
import mqttPacket, { type IPublishPacket, type QoS } from 'mqtt-packet';
import { encodePacket, encodePublish, withPacketId } from '../../src/broker/publish-encoder.js';
import { parsePackets } from '../helpers/mqtt-raw.js';

// Payload sizes either side of each remaining-length varint boundary (1, 2, 3 and 4 bytes).
const PAYLOAD_SIZES = [0, 1, 100, 120, 127, 128, 16_370, 16_383, 16_384, 2_097_140, 2_097_152];
const TOPICS = ['a', 'plant/line-7/state', 'düsseldorf/°C/温度', '$aws/things/x/shadow/update'];

function packets(): IPublishPacket[] {
  const all: IPublishPacket[] = [];
  for (const size of PAYLOAD_SIZES)
    for (const topic of TOPICS)
      for (const qos of [0, 1, 2] as QoS[])
        for (const flags of [0, 1, 2, 3])
          all.push({
            cmd: 'publish',
            topic,
            payload: Buffer.alloc(size, size % 251),
            qos,
            retain: (flags & 1) === 1,
            dup: qos > 0 && (flags & 2) === 2,
            ...(qos > 0 ? { messageId: 1 + ((size * 7 + flags) % 65535) } : {}),
          });
  return all;
}

test('a PUBLISH without properties is encoded byte for byte as mqtt-packet encodes it, in 3.1, 3.1.1 and 5', () => {
  let compared = 0;
  for (const version of [3, 4, 5] as const)
    for (const packet of packets()) {
      const expected = mqttPacket.generate(packet, { protocolVersion: version });
      assert.deepEqual(encodePublish(packet, version), expected, `${version} ${packet.topic}`);
      compared++;
    }
  assert.equal(compared, 3 * PAYLOAD_SIZES.length * TOPICS.length * 3 * 4);
});

test('a PUBLISH with MQTT 5 properties goes through mqtt-packet and parses back with them', () => {
  const packet: IPublishPacket = {
    cmd: 'publish',
    topic: 'with/properties',
    payload: Buffer.from('{"t":21}'),
    qos: 1,
    retain: false,
    dup: false,
    messageId: 42,
    properties: { contentType: 'application/json', userProperties: { site: 'b7' } },
  };
  const [parsed] = parsePackets(encodePublish(packet, 5), 5) as IPublishPacket[];
  assert.equal(parsed?.properties?.contentType, 'application/json');
  assert.deepEqual({ ...parsed?.properties?.userProperties }, { site: 'b7' });
  assert.equal(parsed?.messageId, 42);
});

test('withPacketId patches only the packet id, in a copy', () => {
  for (const version of [4, 5] as const)
    for (const packet of packets().filter((p) => p.qos > 0 && p.payload.length < 20_000)) {
      const encoded = encodePublish(packet, version);
      const original = Buffer.from(encoded);
      const patched = withPacketId(encoded, 65535);
      assert.deepEqual(
        patched,
        mqttPacket.generate({ ...packet, messageId: 65535 }, { protocolVersion: version }),
      );
      assert.deepEqual(encoded, original, 'the shared bytes are left as they were');
    }
});

function parseOne(bytes: Buffer, protocolVersion: 4 | 5): Record<string, unknown> {
  const parsed = parsePackets(bytes, protocolVersion);
  assert.equal(parsed.length, 1);
  return parsed[0] as unknown as Record<string, unknown>;
}

test("encoding leaves mqtt-packet's table of 65,536 number Buffers unbuilt, and numbers right", () => {
  // The table mqtt-packet fills on its first encode unless told not to (7.5 MiB of V8's heap).
  const numbers = createRequire(import.meta.url)('mqtt-packet/numbers.js') as {
    cache: Record<number, Buffer>;
  };
  const suback = encodePacket({ cmd: 'suback', messageId: 0xbeef, granted: [1, 0, 128] }, 4);
  const unsubscribe = encodePacket(
    { cmd: 'unsubscribe', messageId: 513, unsubscriptions: ['a/b'] },
    5,
  );
  assert.equal(Object.keys(numbers.cache).length, 0, 'the number table was built');
  const parsedSuback = parseOne(suback, 4);
  assert.equal(parsedSuback.messageId, 0xbeef);
  assert.deepEqual(parsedSuback.granted, [1, 0, 128]);
  const parsedUnsubscribe = parseOne(unsubscribe, 5);
  assert.equal(parsedUnsubscribe.messageId, 513);
  assert.deepEqual(parsedUnsubscribe.unsubscriptions, ['a/b']);
});
