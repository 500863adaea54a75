import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import {
  BULWARK_TLS_POLICY_NAMES,
  DEFAULT_TLS_POLICY,
  type TlsPolicyName,
} from '../../src/tls/policies.js';
import { EPHEMERAL_PORTS, runCli, startServer } from '../helpers/cli.js';
import { needCommand } from '../helpers/services.js';
import { tempDir } from '../helpers/temp.js';
import { assertScanMatchesPolicy, sslscan, type SslscanReport } from './sslscan.js';

/** Scans the HTTPS API of a real `bulwark serve` started with the given environment. */
async function scanApi(t: TestContext, env: Record<string, string>): Promise<SslscanReport> {
  const dataDir = join(tempDir(t), 'data');
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], { env });
  return await sslscan(server.ready.api);
}

for (const policy of BULWARK_TLS_POLICY_NAMES) {
  test(`BULWARK_TLS_POLICY=${policy}: sslscan finds exactly the policy's versions, suites and groups on the API listener`, async (t) => {
    if (!needCommand(t, 'sslscan', 'apt-get install sslscan')) return;
    const scan = await scanApi(t, { BULWARK_TLS_POLICY: policy });
    assertScanMatchesPolicy(scan, policy, 'ECDSA', 'P-256');
    assert.deepEqual(
      scan.signatureAlgorithms['TLSv1.3'],
      ['ecdsa_secp256r1_sha256'],
      'the P-256 server key signs with ECDSA-SHA256 only',
    );
  });
}

test(`without a setting, the API listener serves the default policy ${DEFAULT_TLS_POLICY}`, async (t) => {
  if (!needCommand(t, 'sslscan', 'apt-get install sslscan')) return;
  assertScanMatchesPolicy(await scanApi(t, {}), DEFAULT_TLS_POLICY, 'ECDSA', 'P-256');
});

test('tls.apiPolicy overrides tls.policy, and an AWS IoT policy name is served by its Bulwark policy', async (t) => {
  if (!needCommand(t, 'sslscan', 'apt-get install sslscan')) return;
  const alias: TlsPolicyName = 'IoTSecurityPolicy_TLS13_1_3_2022_10';
  const scan = await scanApi(t, {
    BULWARK_TLS_POLICY: 'IoTSecurityPolicy_TLS12_1_2_2022_10',
    BULWARK_TLS_API_POLICY: alias,
  });
  assertScanMatchesPolicy(scan, alias, 'ECDSA', 'P-256');
  assert.equal(scan.protocols['TLSv1.2'], false);
});

test('an unknown policy name stops serve with exit 2 and lists the names allowed', (t) => {
  const dataDir = join(tempDir(t), 'data');
  const result = runCli(['serve', '--data-dir', dataDir, ...EPHEMERAL_PORTS], {
    env: { BULWARK_TLS_POLICY: 'TLSv1.0' },
  });
  assert.equal(result.status, 2);
  assert.match(
    result.stderr,
    /^bulwark: invalid configuration: tls\.policy = "TLSv1\.0" \(from BULWARK_TLS_POLICY\): expected one of "Bulwark-TLS12-2026", "Bulwark-TLS13-2026", "IoTSecurityPolicy_TLS13_1_3_2022_10",/,
  );
  assert.equal(result.stdout, '');
});

test('the MQTT/TLS listener serves its own policy (tls.mqttPolicy) and sslscan finds exactly it', async (t) => {
  if (!needCommand(t, 'sslscan', 'apt-get install sslscan')) return;
  const dataDir = join(tempDir(t), 'data');
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
    env: { BULWARK_TLS_MQTT_POLICY: 'Bulwark-TLS13-2026' },
  });
  assertScanMatchesPolicy(await sslscan(server.ready.mqtt), 'Bulwark-TLS13-2026', 'ECDSA', 'P-256');
  assertScanMatchesPolicy(await sslscan(server.ready.api), DEFAULT_TLS_POLICY, 'ECDSA', 'P-256');
});
