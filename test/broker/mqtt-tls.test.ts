import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { createTestCa, issueClientCertificate, writePems } from '../helpers/certificates.js';
import { EPHEMERAL_PORTS, startServer } from '../helpers/cli.js';
import { needCommand } from '../helpers/services.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

test('MQTT over mutual TLS: mosquitto clients with a device certificate publish and subscribe; others are refused at the handshake', async (t) => {
  if (!needCommand(t, 'mosquitto_pub', 'apt-get install mosquitto-clients')) return;
  const dir = tempDir(t);
  const deviceCa = await createTestCa('Fleet CA');
  const otherCa = await createTestCa('Stranger CA');
  writeFileSync(join(dir, 'device-ca.pem'), deviceCa.certificatePem);
  const sensor = writePems(dir, 'sensor', await issueClientCertificate(deviceCa, 'sensor-1'));
  const stranger = writePems(dir, 'stranger', await issueClientCertificate(otherCa, 'intruder'));
  const dataDir = join(dir, 'data');
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
    env: {
      BULWARK_MQTT_DEVICE_CA_FILE: join(dir, 'device-ca.pem'),
      BULWARK_MQTT_DEVICE_CA_POLICY: 'dev-listener',
    },
  });
  const serverCa = join(dataDir, 'pki', 'server-ca.pem');
  const common = ['-h', 'localhost', '-p', String(server.ready.mqtt), '--cafile', serverCa];

  const subscriber = spawn(
    'mosquitto_sub',
    [
      ...common,
      '--cert',
      sensor.cert,
      '--key',
      sensor.key,
      '-t',
      'telemetry/#',
      '-C',
      '2',
      '-v',
      '-V',
      'mqttv5',
      '-q',
      '1',
      '-W',
      '10',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.after(() => subscriber.kill());
  let received = '';
  subscriber.stdout.on('data', (chunk: Buffer) => (received += chunk.toString()));
  const done = new Promise<number | null>((resolve) => subscriber.on('exit', resolve));
  // Give the subscriber time to connect and subscribe before publishing.
  await new Promise((resolve) => setTimeout(resolve, 700));
  for (const [topic, message, version] of [
    ['telemetry/t1', '21.5', 'mqttv311'],
    ['telemetry/t2', '22.0', 'mqttv5'],
  ]) {
    const pub = spawnSync(
      'mosquitto_pub',
      [
        ...common,
        '--cert',
        sensor.cert,
        '--key',
        sensor.key,
        '-t',
        topic as string,
        '-m',
        message as string,
        '-q',
        '1',
        '-V',
        version as string,
      ],
      { encoding: 'utf8', timeout: 10_000 },
    );
    assert.equal(pub.status, 0, pub.stderr);
  }
  assert.equal(await done, 0);
  assert.equal(received, 'telemetry/t1 21.5\ntelemetry/t2 22.0\n');

  const refused = spawnSync(
    'mosquitto_pub',
    [
      ...common,
      '--cert',
      stranger.cert,
      '--key',
      stranger.key,
      '-t',
      'telemetry/x',
      '-m',
      'no',
      '-q',
      '1',
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  assert.notEqual(refused.status, 0, 'a certificate from another CA is refused');
  const anonymous = spawnSync(
    'mosquitto_pub',
    [...common, '-t', 'telemetry/x', '-m', 'no', '-q', '1'],
    { encoding: 'utf8', timeout: 10_000 },
  );
  assert.notEqual(anonymous.status, 0, 'a client without a certificate is refused');
  // Each refusal is logged with OpenSSL's reason; a presented certificate with its serial and
  // fingerprint (Node alone would report only ECONNRESET).
  const refusals = () =>
    server
      .stderr()
      .split('\n')
      .filter((line) => line.includes('TLS handshake refused'))
      .map((line) => JSON.parse(line) as Record<string, string>);
  await eventually(() => refusals().length >= 2, 'both refused handshakes are logged');
  const strangerFingerprint = new X509Certificate(readFileSync(stranger.cert)).fingerprint256
    .replace(/:/g, '')
    .toLowerCase();
  const strangerRefusal = refusals().find((entry) => entry.fingerprint256 === strangerFingerprint);
  assert.ok(strangerRefusal, 'the stranger certificate is named by its fingerprint');
  assert.match(
    strangerRefusal.reason as string,
    /UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER/,
  );
  assert.ok(strangerRefusal.serialNumber);
  assert.equal(strangerRefusal.remoteAddress, '127.0.0.1');
  assert.ok(refusals().some((entry) => entry.reason === 'NO_CLIENT_CERTIFICATE'));
});
