import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTestCa, issueClientCertificate } from '../helpers/certificates.js';
import { EPHEMERAL_PORTS, httpsGet, startServer } from '../helpers/cli.js';
import { connectUrlWithInbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

test('with mqtt.alpnOnApiPort, MQTT over ALPN x-amzn-mqtt-ca shares the HTTPS port; HTTPS still answers; a client without a device certificate is refused', async (t) => {
  const dir = tempDir(t);
  const deviceCa = await createTestCa('Fleet CA');
  writeFileSync(join(dir, 'device-ca.pem'), deviceCa.certificatePem);
  const device = await issueClientCertificate(deviceCa, 'sensor-alpn');
  const server = await startServer(t, ['--data-dir', join(dir, 'data'), ...EPHEMERAL_PORTS], {
    env: {
      BULWARK_MQTT_DEVICE_CA_FILE: join(dir, 'device-ca.pem'),
      BULWARK_MQTT_DEVICE_CA_POLICY: 'dev-listener',
      BULWARK_MQTT_ALPN_ON_API_PORT: 'true',
    },
  });
  const ca = readFileSync(join(dir, 'data', 'pki', 'server-ca.pem'), 'utf8');
  const tls = {
    ca,
    cert: device.certificatePem,
    key: device.privateKeyPem,
    servername: 'localhost',
    reconnectPeriod: 0,
    protocolVersion: 5 as const,
  };
  const onApiPort = await connectUrlWithInbox(t, `mqtts://127.0.0.1:${server.ready.api}`, {
    ...tls,
    clientId: 'alpn-1',
    ALPNProtocols: ['x-amzn-mqtt-ca'],
  });
  const onMqttPort = await connectUrlWithInbox(t, `mqtts://127.0.0.1:${server.ready.mqtt}`, {
    ...tls,
    clientId: 'tls-1',
  });
  await onMqttPort.client.subscribeAsync('alpn/+', { qos: 1 });
  await onApiPort.client.publishAsync('alpn/hello', 'over 443-style ALPN', { qos: 1 });
  const got = await onMqttPort.messages.next();
  assert.equal(got.payload.toString(), 'over 443-style ALPN');
  assert.equal((await httpsGet(server.ready.api, '/health', ca)).status, 200);
  await assert.rejects(
    connectUrlWithInbox(t, `mqtts://127.0.0.1:${server.ready.api}`, {
      ca,
      servername: 'localhost',
      reconnectPeriod: 0,
      clientId: 'alpn-anon',
      ALPNProtocols: ['x-amzn-mqtt-ca'],
      connectTimeout: 2000,
    }),
  );
  await eventually(
    () => /MQTT over ALPN refused/.test(server.stderr()),
    'the refused ALPN client is logged',
  );
  assert.match(server.stderr(), /MQTT over ALPN refused/);
});
