// @peculiar/x509 resolves its ASN.1 schemas through tsyringe, which needs the Reflect metadata API.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { constants, webcrypto } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createSecureContext, createServer } from 'node:tls';
import {
  acceptedSuites,
  AWS_IOT_TLS_POLICY_NAMES,
  bulwarkPolicyName,
  TLS_POLICY_NAMES,
  tlsServerOptions,
} from '../../src/tls/policies.js';
import { needCommand } from '../helpers/services.js';
import { assertScanMatchesPolicy, sslscan } from './sslscan.js';

x509.cryptoProvider.set(webcrypto as never);

test('each AWS IoT policy name is served by the Bulwark policy at least as strict', () => {
  assert.deepEqual(
    Object.fromEntries(AWS_IOT_TLS_POLICY_NAMES.map((name) => [name, bulwarkPolicyName(name)])),
    {
      IoTSecurityPolicy_TLS13_1_3_2022_10: 'Bulwark-TLS13-2026',
      IoTSecurityPolicy_TLS13_1_2_2022_10: 'Bulwark-TLS12-2026',
      IoTSecurityPolicy_TLS12_1_2_2022_10: 'Bulwark-TLS12-2026',
      IoTSecurityPolicy_TLS12_1_0_2016_01: 'Bulwark-TLS12-2026',
      IoTSecurityPolicy_TLS12_1_0_2015_01: 'Bulwark-TLS12-2026',
      IoTSecurityPolicy_TLS13_1_2_2022_01: 'Bulwark-TLS12-2026',
    },
  );
  assert.equal(bulwarkPolicyName('Bulwark-TLS13-2026'), 'Bulwark-TLS13-2026');
});

test('every policy name gives options OpenSSL takes: no tickets, no renegotiation, server order', () => {
  for (const name of TLS_POLICY_NAMES) {
    const options = tlsServerOptions(name);
    assert.doesNotThrow(() => createSecureContext(options), name);
    assert.equal(options.honorCipherOrder, true);
    assert.ok(options.minVersion === 'TLSv1.2' || options.minVersion === 'TLSv1.3', name);
    assert.equal(
      (options.secureOptions ?? 0) & constants.SSL_OP_NO_TICKET,
      constants.SSL_OP_NO_TICKET,
    );
    assert.equal(
      (options.secureOptions ?? 0) & constants.SSL_OP_NO_RENEGOTIATION,
      constants.SSL_OP_NO_RENEGOTIATION,
    );
  }
});

test('the exact accepted suite tables, per policy and certificate type', () => {
  assert.deepEqual(acceptedSuites('Bulwark-TLS12-2026', 'ECDSA'), {
    'TLSv1.2': [
      'ECDHE-ECDSA-AES128-GCM-SHA256',
      'ECDHE-ECDSA-AES256-GCM-SHA384',
      'ECDHE-ECDSA-CHACHA20-POLY1305',
    ],
    'TLSv1.3': ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'],
  });
  assert.deepEqual(acceptedSuites('Bulwark-TLS12-2026', 'RSA')['TLSv1.2'], [
    'ECDHE-RSA-AES128-GCM-SHA256',
    'ECDHE-RSA-AES256-GCM-SHA384',
    'ECDHE-RSA-CHACHA20-POLY1305',
  ]);
  assert.deepEqual(acceptedSuites('Bulwark-TLS13-2026', 'ECDSA'), {
    'TLSv1.2': [],
    'TLSv1.3': ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'],
  });
});

async function rsaIdentity(): Promise<{ cert: string; key: string }> {
  const algorithm = {
    name: 'RSASSA-PKCS1-v1_5',
    hash: 'SHA-256',
    publicExponent: new Uint8Array([1, 0, 1]),
    modulusLength: 2048,
  };
  const keys = (await webcrypto.subtle.generateKey(algorithm, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: 'CN=localhost',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    keys,
    signingAlgorithm: algorithm,
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return {
    cert: certificate.toString('pem'),
    key: `-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----\n`,
  };
}

// The API listener's certificate is ECDSA, so its scans never reach the policies' ECDHE-RSA half;
// an operator's own RSA certificate would.
test('with an RSA certificate, sslscan finds exactly the ECDHE-RSA half of the Bulwark-TLS12-2026 table', async (t) => {
  if (!needCommand(t, 'sslscan', 'apt-get install sslscan')) return;
  const server = createServer(
    { ...(await rsaIdentity()), ...tlsServerOptions('Bulwark-TLS12-2026') },
    (socket) => socket.end(),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const scan = await sslscan((server.address() as AddressInfo).port);
  assertScanMatchesPolicy(scan, 'Bulwark-TLS12-2026', 'RSA');
});
