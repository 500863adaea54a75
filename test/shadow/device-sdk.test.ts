// The AWS IoT Device SDK v2's own shadow client (IotShadowClientv2, on MQTT 5 over mutual TLS)
// against the real server: its topics, clientToken correlation and documents, unchanged.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { runSdkDevice } from '../helpers/aws-sdk.js';
import { createTestCa, issueClientCertificate, writePems } from '../helpers/certificates.js';
import { EPHEMERAL_PORTS, fileCleanup, startServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const TIMEOUT_MS = 10_000;
const files = fileCleanup();

test('the Device SDK v2 shadow client sets desired, gets the delta, reports, gets and deletes a named shadow', async (t) => {
  const dir = tempDir(files, 'bulwark-shadow-sdk-');
  const deviceCa = await createTestCa('Fleet CA');
  writeFileSync(join(dir, 'device-ca.pem'), deviceCa.certificatePem);
  const device = writePems(dir, 'lamp', await issueClientCertificate(deviceCa, 'lamp-1'));
  const dataDir = join(dir, 'data');
  const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
    env: {
      BULWARK_MQTT_DEVICE_CA_FILE: join(dir, 'device-ca.pem'),
      BULWARK_MQTT_DEVICE_CA_POLICY: 'dev-listener',
    },
  });
  const report = await runSdkDevice(t, {
    protocol: 'mqtt5',
    host: 'localhost',
    port: server.ready.mqtt,
    certPath: device.cert,
    keyPath: device.key,
    caPath: join(dataDir, 'pki', 'server-ca.pem'),
    clientId: 'lamp-1',
    shadow: { thingName: 'lamp-1', shadowName: 'light' },
    timeoutMs: TIMEOUT_MS,
  });
  assert.equal(report.error, undefined);
  assert.deepEqual(report.shadow, {
    desiredVersion: 1,
    delta: { color: 'blue', on: true },
    reportedVersion: 2,
    got: {
      state: { desired: { color: 'blue', on: true }, reported: { color: 'blue', on: true } },
      version: 2,
    },
    deletedVersion: 2,
    getAfterDelete: report.shadow?.getAfterDelete,
  });
  const rejected = JSON.parse(report.shadow?.getAfterDelete ?? 'null') as Record<string, unknown>;
  assert.equal(rejected.code, 404);
  assert.equal(rejected.message, "No shadow exists with name: 'light'");
});
