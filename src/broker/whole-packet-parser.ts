import mqttPacket, { type Packet } from 'mqtt-packet';

/**
 * mqtt-packet's parser, one for the whole broker: the packet framer hands it exactly one whole
 * packet at a time, so nothing is ever left in it between calls and no connection needs a parser
 * of its own. Making one per connection (each with its own buffer-list stream) was 5% of the
 * JavaScript work of an mTLS connect, and every MQTT 5 connection held one.
 */
let parser = newParser();
let parsed: Packet | undefined;
let failure: Error | undefined;
/** The parser's settings per version (it replaces, and never changes, the object it is given). */
const SETTINGS = {
  3: { protocolVersion: 3 },
  4: { protocolVersion: 4 },
  5: { protocolVersion: 5 },
};

function newParser(): mqttPacket.Parser {
  const made = mqttPacket.parser();
  made.on('packet', (packet: Packet) => (parsed = packet));
  made.on('error', (error: Error) => (failure = error));
  return made;
}

/**
 * Reads one whole packet (fixed header included) sent by a client speaking `protocolVersion` (a
 * CONNECT tells its own). Returns the packet, or why it is malformed.
 */
export function parseWholePacket(bytes: Buffer, protocolVersion: 3 | 4 | 5): Packet | Error {
  parsed = undefined;
  failure = undefined;
  // Reading a CONNECT makes it the parser's settings, so they are set afresh for every packet.
  (parser as mqttPacket.Parser & { settings: object }).settings = SETTINGS[protocolVersion];
  parser.parse(bytes);
  // Set by the parser's callback during parse(), which the compiler cannot see.
  const packet = parsed as Packet | undefined;
  if (failure === undefined && packet !== undefined) {
    parsed = undefined;
    // mqtt-packet reads a packet identifier the packet has no room for as -1 instead of failing;
    // such a packet is malformed ([MQTT-2.3.1-1]: the identifier is two bytes).
    if ((packet as { messageId?: number }).messageId === -1)
      return new Error(`${packet.cmd} packet too short for its 2-byte packet identifier`);
    return packet;
  }
  // A parser that failed part-way may hold some of the packet: the next one starts clean.
  parser = newParser();
  return failure ?? new Error('Incomplete packet');
}
