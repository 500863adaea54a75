import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { parseWholePacket } from '../../src/broker/whole-packet-parser.js';

// One parser serves every connection: nothing one packet leaves behind may reach the next.

const connect5 = mqttPacket.generate({
  cmd: 'connect',
  protocolId: 'MQTT',
  protocolVersion: 5,
  clientId: 'five',
  clean: true,
  keepalive: 30,
  properties: { sessionExpiryInterval: 60 },
});
const subscribe4 = mqttPacket.generate({
  cmd: 'subscribe',
  messageId: 7,
  subscriptions: [{ topic: 'a/+', qos: 1 }],
});
const subscribe5 = mqttPacket.generate(
  {
    cmd: 'subscribe',
    messageId: 8,
    subscriptions: [{ topic: 'b/#', qos: 0 }],
    properties: { subscriptionIdentifier: 42 },
  },
  { protocolVersion: 5 },
);

function parsed(bytes: Buffer, version: 3 | 4 | 5): Packet {
  const packet = parseWholePacket(bytes, version);
  assert.ok(!(packet instanceof Error), `parse failed: ${String(packet)}`);
  return packet;
}

test("a CONNECT does not change how the next client's packets are read", () => {
  const connect = parsed(connect5, 4);
  assert.equal(connect.cmd, 'connect');
  assert.equal((connect as { protocolVersion: number }).protocolVersion, 5);
  // Read as 3.1.1, the SUBSCRIBE has no properties; as 5, its subscription identifier is read.
  const four = parsed(subscribe4, 4);
  assert.deepEqual((four as { subscriptions: unknown }).subscriptions, [{ topic: 'a/+', qos: 1 }]);
  assert.equal((four as { properties?: unknown }).properties, undefined);
  const five = parsed(subscribe5, 5);
  assert.deepEqual((five as { properties?: unknown }).properties, { subscriptionIdentifier: 42 });
});

test('a malformed packet is refused with a reason, and the next one reads whole', () => {
  // A SUBSCRIBE whose topic length runs past the packet's end.
  const broken = Buffer.from(subscribe4);
  broken.writeUInt16BE(0x7fff, 4);
  const refused = parseWholePacket(broken, 4);
  assert.ok(refused instanceof Error, 'the broken packet must be refused');
  // A packet cut short of its declared length.
  const cut = Buffer.from(subscribe4.subarray(0, subscribe4.length - 3));
  assert.ok(parseWholePacket(cut, 4) instanceof Error, 'a cut packet must be refused');
  const next = parsed(subscribe4, 4);
  assert.equal(next.cmd, 'subscribe');
  assert.equal((next as { messageId: number }).messageId, 7);
});

test('an acknowledgement too short for its packet identifier is refused, in 3.1.1 and 5', () => {
  // PUBACK, PUBREC, PUBREL and PUBCOMP with a remaining length of 1: one byte of the identifier.
  for (const first of [0x40, 0x50, 0x62, 0x70])
    for (const version of [4, 5] as const) {
      const refused = parseWholePacket(Buffer.from([first, 1, 0]), version);
      assert.ok(refused instanceof Error, `0x${first.toString(16)} in ${version} was read`);
      assert.match(refused.message, /too short for its 2-byte packet identifier/);
    }
  const pubrel = parsed(Buffer.from([0x62, 2, 0x12, 0x34]), 4);
  assert.equal((pubrel as { messageId?: number }).messageId, 0x1234);
});
