import assert from 'node:assert/strict';
import { test } from 'node:test';
import mqttPacket, { type Packet, type QoS } from 'mqtt-packet';
import { PacketFramer, type FramerSink } from '../../src/broker/packet-framer.js';
import { parseWholePacket } from '../../src/broker/whole-packet-parser.js';

// The framer against mqtt-packet itself: the same packets, whatever the chunking.

const MAX_PACKET_BYTES = 200_000;

/** A framer whose general-parser packets go through the shared parser, as in Connection. */
function framing(readsHere = true) {
  const packets: Packet[] = [];
  const errors: { why: string; tooLarge: boolean }[] = [];
  let readHere = 0;
  const sink: FramerSink = {
    readsPacketsHere: () => readsHere,
    framedPacket: (packet) => {
      readHere += 1;
      packets.push(packet);
    },
    wholePacket: (bytes) => {
      const packet = parseWholePacket(bytes, 4);
      if (packet instanceof Error) errors.push({ why: packet.message, tooLarge: false });
      else packets.push(packet);
    },
    malformedPacket: (why, tooLarge) => errors.push({ why, tooLarge }),
    ended: () => errors.length > 0,
  };
  return {
    framer: new PacketFramer(sink, MAX_PACKET_BYTES),
    packets,
    errors,
    read: () => readHere,
  };
}

/** A deterministic pseudo-random sequence (xorshift32), so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function stream(next: () => number, count: number): Packet[] {
  const packets: Packet[] = [];
  for (let i = 0; i < count; i++) {
    const kind = Math.floor(next() * 7);
    const messageId = 1 + Math.floor(next() * 65_535);
    if (kind <= 2) {
      const qos = kind as QoS;
      const size = [0, 1, 64, 127, 128, 16_384, 70_000][Math.floor(next() * 7)] as number;
      packets.push({
        cmd: 'publish',
        topic: ['a', 'plant/line-7/state', 'düsseldorf/°C/温度'][i % 3] as string,
        payload: Buffer.alloc(size, i % 251),
        qos,
        retain: next() < 0.3,
        dup: qos > 0 && next() < 0.3,
        ...(qos > 0 ? { messageId } : {}),
      });
    } else if (kind === 3) packets.push({ cmd: 'puback', messageId });
    else if (kind === 4) packets.push({ cmd: 'pingreq' });
    else if (kind === 5) packets.push({ cmd: 'disconnect' });
    else
      packets.push({
        cmd: 'subscribe',
        messageId,
        subscriptions: [{ topic: 'plant/#', qos: 1 }],
      });
  }
  return packets;
}

/** The fields a handler reads, so framer-made and parser-made packets compare equal. */
function essentials(packet: Packet) {
  const { cmd } = packet;
  if (cmd === 'publish')
    return {
      cmd,
      topic: packet.topic,
      payload: Buffer.from(packet.payload as Buffer).toString('base64'),
      qos: packet.qos,
      retain: packet.retain,
      dup: packet.dup,
      messageId: packet.messageId,
    };
  if (cmd === 'puback') return { cmd, messageId: packet.messageId };
  if (cmd === 'subscribe')
    return { cmd, messageId: packet.messageId, subscriptions: packet.subscriptions };
  return { cmd };
}

test('any chunking of a stream yields exactly the packets written into it', () => {
  const next = random(0x5eed);
  for (let round = 0; round < 40; round++) {
    const sent = stream(next, 60);
    const bytes = Buffer.concat(sent.map((packet) => mqttPacket.generate(packet)));
    const { framer, packets, errors, read } = framing();
    // Chunks from 1 byte (a header split anywhere) to larger than several packets.
    for (let at = 0; at < bytes.length;) {
      const size = next() < 0.2 ? 1 + Math.floor(next() * 4) : 1 + Math.floor(next() * 40_000);
      framer.push(bytes.subarray(at, at + size));
      at += size;
    }
    assert.deepEqual(errors, []);
    assert.deepEqual(packets.map(essentials), sent.map(essentials), `round ${round}`);
    const here = sent.filter((packet) => packet.cmd !== 'subscribe');
    assert.equal(
      read(),
      here.length,
      'PUBLISH, PUBACK, PINGREQ and DISCONNECT are read by the framer itself',
    );
  }
});

test('when the framer may not read them (MQTT 5, or before CONNACK), every packet goes to the parser', () => {
  const sent = stream(random(7), 30);
  const { framer, packets, read } = framing(false);
  framer.push(Buffer.concat(sent.map((packet) => mqttPacket.generate(packet))));
  assert.equal(read(), 0);
  assert.deepEqual(packets.map(essentials), sent.map(essentials));
});

test('malformed input ends the connection with a reason, and nothing after it is read', () => {
  const publish = (first: number, body: number[]) => Buffer.from([first, body.length, ...body]);
  const cases: [string, Buffer, RegExp, boolean][] = [
    ['QoS 3 [MQTT-3.3.1-4]', publish(0x36, [0, 1, 0x61, 0, 1]), /both QoS bits/, false],
    ['topic longer than the packet', publish(0x30, [0, 9, 0x61]), /Cannot parse topic/, false],
    ['no room for the packet id', publish(0x32, [0, 1, 0x61, 0]), /messageId/, false],
    ['PUBREL without its flags [MQTT-2.2.2-2]', Buffer.from([0x60, 2, 0, 1]), /flag bits/, false],
    ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\n'), /flag bits/, false],
    ['reserved packet type 0', Buffer.from([0x00, 0]), /Not supported/, false],
    [
      'a five-byte length',
      Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
      /variable byte/,
      false,
    ],
    [
      'over the size limit, refused from its header',
      Buffer.from([0x30, 0xff, 0xff, 0x7f]),
      /larger than/,
      true,
    ],
  ];
  for (const [what, bytes, why, tooLarge] of cases) {
    const { framer, packets, errors } = framing();
    framer.push(Buffer.concat([bytes, mqttPacket.generate({ cmd: 'pingreq' })]));
    assert.equal(errors.length, 1, what);
    assert.match(errors[0]?.why as string, why, what);
    assert.equal(errors[0]?.tooLarge, tooLarge, what);
    assert.deepEqual(packets, [], `${what}: nothing after it is read`);
  }
});
