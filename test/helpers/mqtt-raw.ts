import mqttPacket from 'mqtt-packet';

/** A clean-session CONNECT's bytes, for sessions written byte by byte. */
export function cleanConnect(clientId: string, protocolVersion: 4 | 5): Buffer {
  return mqttPacket.generate(
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion, clientId, clean: true, keepalive: 30 },
    { protocolVersion },
  );
}

/** The whole packets in bytes a server sent. */
export function parsePackets(bytes: Buffer, protocolVersion: 4 | 5 = 5): mqttPacket.Packet[] {
  const parser = mqttPacket.parser({ protocolVersion });
  const packets: mqttPacket.Packet[] = [];
  parser.on('packet', (packet: mqttPacket.Packet) => packets.push(packet));
  parser.parse(bytes);
  return packets;
}
