import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect } from 'node:tls';
import {
  createTestCa,
  issueClientCertificate,
  issueServerCertificate,
  type TestCertificate,
} from '../helpers/certificates.js';
import { EPHEMERAL_PORTS, runCli, startServer, stopServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

/** The serial number of the certificate a new TLS handshake on `port` is served. */
function servedSerial(port: number, ca: string, client?: TestCertificate): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        servername: 'localhost',
        port,
        ca,
        ...(client ? { cert: client.certificatePem, key: client.privateKeyPem } : {}),
      },
      () => {
        const serial = (socket.getPeerX509Certificate() as X509Certificate).serialNumber;
        socket.end();
        resolve(serial);
      },
    );
    socket.on('error', reject);
  });
}

test('an operator certificate is served on both listeners and reloaded without a restart when its files change', async (t) => {
  const dir = tempDir(t);
  const serverCa = await createTestCa('Operator Server CA');
  const deviceCa = await createTestCa('Device CA');
  const device = await issueClientCertificate(deviceCa, 'device-1');
  const first = await issueServerCertificate(serverCa, 'iot.example.test');
  const second = await issueServerCertificate(serverCa, 'iot.example.test');
  const certificateFile = join(dir, 'server.crt');
  const privateKeyFile = join(dir, 'server.key');
  writeFileSync(certificateFile, first.certificatePem);
  writeFileSync(privateKeyFile, first.privateKeyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'device-ca.pem'), deviceCa.certificatePem);
  const server = await startServer(t, ['--data-dir', join(dir, 'data'), ...EPHEMERAL_PORTS], {
    env: {
      BULWARK_TLS_CERTIFICATE_FILE: certificateFile,
      BULWARK_TLS_PRIVATE_KEY_FILE: privateKeyFile,
      BULWARK_MQTT_DEVICE_CA_FILE: join(dir, 'device-ca.pem'),
      BULWARK_MQTT_DEVICE_CA_POLICY: 'dev-listener',
    },
  });
  const serialOf = (pem: string) => new X509Certificate(pem).serialNumber;
  assert.equal(
    await servedSerial(server.ready.mqtt, serverCa.certificatePem, device),
    serialOf(first.certificatePem),
  );
  assert.equal(
    await servedSerial(server.ready.api, serverCa.certificatePem),
    serialOf(first.certificatePem),
  );

  // A key that does not match the certificate is refused; the previous pair stays in use.
  writeFileSync(certificateFile, second.certificatePem);
  await eventually(
    () => /cannot be used; still serving the previous certificate/.test(server.stderr()),
    'the unusable pair is logged',
    8000,
  );
  assert.equal(
    await servedSerial(server.ready.api, serverCa.certificatePem),
    serialOf(first.certificatePem),
  );

  writeFileSync(privateKeyFile, second.privateKeyPem);
  await eventually(
    async () =>
      (await servedSerial(server.ready.mqtt, serverCa.certificatePem, device)) ===
      serialOf(second.certificatePem),
    'the new certificate is served',
    8000,
  );
  assert.equal(
    await servedSerial(server.ready.api, serverCa.certificatePem),
    serialOf(second.certificatePem),
  );
  assert.match(server.stderr(), /server certificate reloaded/);
  assert.equal(await stopServer(server), 0);
});

test('a certificate file without its key, or a pair that does not match, stops start-up with exit 2', async (t) => {
  const dir = tempDir(t);
  const ca = await createTestCa('Operator Server CA');
  const a = await issueServerCertificate(ca, 'a');
  const b = await issueServerCertificate(ca, 'b');
  writeFileSync(join(dir, 'a.crt'), a.certificatePem);
  writeFileSync(join(dir, 'b.key'), b.privateKeyPem);
  const alone = runCli(['serve', '--data-dir', join(dir, 'data'), ...EPHEMERAL_PORTS], {
    env: { BULWARK_TLS_CERTIFICATE_FILE: join(dir, 'a.crt') },
  });
  assert.equal(alone.status, 2);
  assert.match(alone.stderr, /tls\.certificateFile and tls\.privateKeyFile go together/);
  const mismatched = runCli(['serve', '--data-dir', join(dir, 'data'), ...EPHEMERAL_PORTS], {
    env: {
      BULWARK_TLS_CERTIFICATE_FILE: join(dir, 'a.crt'),
      BULWARK_TLS_PRIVATE_KEY_FILE: join(dir, 'b.key'),
    },
  });
  assert.equal(mismatched.status, 2);
  assert.match(mismatched.stderr, /key values mismatch/);
});
