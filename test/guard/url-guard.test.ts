// The URL guard: one case per rule on checkOperatorUrl with the detectors a config builds, then
// through the real interface, `bulwark serve --config FILE` refusing URLs that carry credentials
// (named by setting, never echoed) and fetching a CRL over loopback http only when allowed.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { Guard } from '../../src/guard/guard.js';
import {
  checkOperatorUrl,
  CREDENTIAL_QUERY_KEYS,
  redactUrlCredentials,
  type UrlRules,
} from '../../src/guard/url-guard.js';
import { createTestCa } from '../helpers/certificates.js';
import { EPHEMERAL_PORTS, runCli, startServer, stopServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

/** A credentials detector of the operator's own, as `guard.detectors.custom` defines one. */
const ACME_KEY = () => `acme_${randomBytes(16).toString('hex')}`;
const guard = new Guard(
  loadConfig({
    env: {
      BULWARK_GUARD_DETECTORS_CUSTOM: JSON.stringify([
        {
          id: 'ACME_API_KEY',
          description: 'ACME API keys',
          category: 'CREDENTIALS',
          severity: 'HIGH',
          pattern: 'acme_[0-9a-f]{32}',
        },
      ]),
    },
  }).guard,
);
const https: UrlRules = { field: 'test.url', schemes: ['https:'], detectors: guard.detectors };

/** Letters and digits only, so that it needs no escaping in a URL. */
function randomSecret(length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  return [...randomBytes(length)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

const base64url = (text: string) => Buffer.from(text).toString('base64url');
const jwt = () =>
  `${base64url('{"alg":"HS256","typ":"JWT"}')}.${base64url('{"sub":"device-7","iat":1700000000}')}.${randomBytes(32).toString('base64url')}`;

/** The refusal's message, asserted to name the field and never to hold `secret`. */
function refused(url: string, secret: string, rules: UrlRules = https): string {
  const refusal = checkOperatorUrl(url, rules);
  assert.ok(refusal, `${url} was accepted`);
  assert.ok(refusal.message.startsWith(`${rules.field}: `), refusal.message);
  assert.ok(!refusal.message.includes(secret), `the message echoes the secret: ${refusal.message}`);
  assert.ok(!refusal.reason.includes(secret));
  return refusal.message;
}

test('user-info: a password, or for http(s) any user name, is refused with where a secret goes instead', () => {
  const password = randomSecret(16);
  assert.match(
    refused(`https://ops:${password}@crl.example/ca.crl`, password),
    /a password in the URL \(user:password@\) is refused.*put the secret in a request header instead, from the environment or a secret reference sealed by Bulwark's KMS/,
  );
  assert.match(
    refused('https://ops@crl.example/ca.crl', 'ops@'),
    /a user name in the URL \(user@\)/,
  );
  // A database login name is no secret; its password is, even with user names allowed.
  const postgres: UrlRules = {
    field: 'store.postgres.url',
    schemes: ['postgres:', 'postgresql:'],
    allowUserName: true,
    secretAdvice: 'set the password in the environment (PGPASSWORD) instead',
  };
  assert.equal(checkOperatorUrl('postgres://bulwark@db.internal:5432/iot', postgres), undefined);
  assert.match(
    refused(`postgresql://bulwark:${password}@db.internal/iot`, password, postgres),
    /PGPASSWORD/,
  );
});

test('query and fragment parameters named like credentials are refused, whatever their case', () => {
  for (const key of CREDENTIAL_QUERY_KEYS) {
    const value = randomSecret(24);
    for (const spelling of [key, key.toUpperCase()]) {
      const message = refused(`https://hooks.example/in?a=1&${spelling}=${value}`, value);
      assert.ok(message.includes(`query parameter "${spelling}"`), message);
    }
  }
  const token = randomSecret(32);
  assert.match(
    refused(`https://app.example/cb#state=1&access_token=${token}`, token),
    /fragment parameter "access_token"/,
  );
  // Ordinary parameters pass.
  assert.equal(
    checkOperatorUrl('https://crl.example/ca.crl?version=2&nextToken=x', https),
    undefined,
  );
});

test('a query value or a path a credentials detector matches is refused, naming the detector', () => {
  const key = ACME_KEY();
  assert.match(
    refused(`https://hooks.example/in?state=${key}`, key),
    /a credential \(ACME_API_KEY\) in the value of the query parameter "state"/,
  );
  const another = ACME_KEY();
  assert.match(
    refused(`https://hooks.example/v1/${another}/in`, another),
    /\(ACME_API_KEY\) in the path/,
  );
  // Escaped in the URL, found all the same.
  const escaped = ACME_KEY();
  assert.match(
    refused(`https://hooks.example/v1/${escaped.replace('_', '%5F')}`, escaped.slice(5)),
    /in the path/,
  );
  const asName = ACME_KEY();
  assert.match(
    refused(`https://hooks.example/in?${asName}`, asName),
    /in a query parameter's name/,
  );
  const inFragment = ACME_KEY();
  assert.match(refused(`https://hooks.example/in#${inFragment}`, inFragment), /in the fragment/);
  // Personal data is not a credential: the URL guard leaves it to the field guard.
  assert.equal(
    checkOperatorUrl('https://hooks.example/in?owner=alice@example.org', https),
    undefined,
  );
});

test('built-in credentials detectors: a JWT in the path, an AWS secret key in a query value', () => {
  const token = jwt();
  assert.match(
    refused(`https://hooks.example/t/${token}/in`, token),
    /JSON_WEB_TOKEN\) in the path/,
  );
  const secret = randomSecret(40);
  assert.match(
    refused(`https://hooks.example/in?aws_secret_access_key=${secret}`, secret),
    /AWS_CREDENTIALS\) in the value of the query parameter "aws_secret_access_key"/,
  );
});

test('https only; http to a loopback host only with allowLoopbackHttp; other schemes never', () => {
  const loopback = { ...https, allowLoopbackHttp: true };
  assert.equal(checkOperatorUrl('https://crl.example/ca.crl', https), undefined);
  assert.match(
    refused('http://127.0.0.1:8080/ca.crl', 'no secret here', https),
    /an https:\/\/ URL is required, not http:\/\/ \(http:\/\/ only to a loopback host, with guard\.urls\.allowLoopbackHttp: true\)/,
  );
  for (const url of [
    'http://127.0.0.1:8080/ca.crl',
    'http://127.9.8.7/ca.crl',
    'http://[::1]:8080/ca.crl',
    'http://localhost/ca.crl',
    'http://LOCALHOST:9/ca.crl',
  ])
    assert.equal(checkOperatorUrl(url, loopback), undefined, url);
  for (const url of [
    'http://10.0.0.1/ca.crl',
    'http://128.0.0.1/ca.crl',
    'http://localhost.example.com/ca.crl',
    'http://[::2]/ca.crl',
  ])
    assert.match(refused(url, 'no secret here', loopback), /https:\/\/ URL is required/, url);
  assert.match(refused('ftp://crl.example/ca.crl', 'none'), /not ftp:\/\//);
  assert.match(refused('https://', 'none'), /does not parse as a URL/);
  // Credentials are refused on loopback too.
  const token = randomSecret(20);
  assert.match(refused(`http://127.0.0.1/ca.crl?token=${token}`, token, loopback), /"token"/);
});

test('log lines: credential query values in URLs become REDACTED, the rest of the line and its JSON stay', () => {
  const signature = randomBytes(32).toString('hex');
  const token = randomSecret(60);
  const line = JSON.stringify({
    msg: 'request',
    url: `/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z&X-Amz-Signature=${signature}&X-Amz-Security-Token=${token}`,
    quoted: `https://h.example/?api-key=a\\"b`,
  });
  const redacted = redactUrlCredentials(line);
  assert.deepEqual(JSON.parse(redacted), {
    msg: 'request',
    url: '/mqtt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260101T000000Z&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED',
    quoted: 'https://h.example/?api-key=REDACTED\\"b',
  });
});

// ---- through `bulwark serve --config FILE` ----

/** Runs `serve` with `config` and returns its refusal: exit status 2 and one line on stderr. */
function serveRefuses(t: TestContext, config: unknown, secret: string): string {
  const dir = tempDir(t, 'bulwark-url-guard-');
  const file = join(dir, 'bulwark.json');
  writeFileSync(file, JSON.stringify(config));
  const result = runCli([
    'serve',
    '--data-dir',
    join(dir, 'data'),
    '--config',
    file,
    ...EPHEMERAL_PORTS,
  ]);
  assert.equal(result.status, 2, result.stderr);
  assert.equal(result.stdout, '', 'no ready line');
  assert.ok(!result.stderr.includes(secret), `stderr echoes the secret: ${result.stderr}`);
  return result.stderr;
}

test('serve refuses a CRL URL with user:pass@, naming the setting and the file, never the password', (t) => {
  const password = randomSecret(20);
  const stderr = serveRefuses(
    t,
    {
      mqtt: {
        revocation: [{ ca: 'deviceCaFile', crl: `https://fleet:${password}@crl.example/ca.crl` }],
      },
    },
    password,
  );
  assert.match(
    stderr,
    /^bulwark: invalid configuration: mqtt\.revocation\.0\.crl \(from .*bulwark\.json\): a password in the URL \(user:password@\) is refused/,
  );
});

test('serve refuses an OCSP URL with ?token=…', (t) => {
  const token = randomSecret(32);
  const stderr = serveRefuses(
    t,
    { mqtt: { revocation: [{ ca: 'deviceCaFile', ocsp: `http://ocsp.example/?token=${token}` }] } },
    token,
  );
  assert.match(
    stderr,
    /mqtt\.revocation\.0\.ocsp .*the query parameter "token", which carries a credential, is refused/,
  );
});

test('serve refuses a PostgreSQL URL with a password, pointing to PGPASSWORD', (t) => {
  const password = randomSecret(20);
  const stderr = serveRefuses(
    t,
    { store: { postgres: { url: `postgres://bulwark:${password}@127.0.0.1:5432/iot` } } },
    password,
  );
  assert.match(stderr, /store\.postgres\.url .*a password in the URL.*PGPASSWORD/);
});

test('serve refuses an http:// CRL URL unless allowLoopbackHttp, and then only to a loopback host', (t) => {
  const crl = (url: string) => ({ revocation: [{ ca: 'deviceCaFile', crl: url }] });
  assert.match(
    serveRefuses(t, { mqtt: crl('http://127.0.0.1:9/ca.crl') }, '\0'),
    /mqtt\.revocation\.0\.crl .*a file path or an https:\/\/ URL is required, not http:\/\//,
  );
  assert.match(
    serveRefuses(
      t,
      { mqtt: crl('http://crl.example/ca.crl'), guard: { urls: { allowLoopbackHttp: true } } },
      '\0',
    ),
    /mqtt\.revocation\.0\.crl .*https:\/\/ URL is required, not http:\/\//,
  );
});

test('with allowLoopbackHttp, serve fetches a CRL over http from a loopback host', async (t) => {
  const dir = tempDir(t, 'bulwark-url-guard-');
  const ca = await createTestCa('Loopback CRL CA');
  const caFile = join(dir, 'ca.pem');
  writeFileSync(caFile, ca.certificatePem);
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.certificate.subject,
    thisUpdate: new Date(Date.now() - 1000),
    nextUpdate: new Date(Date.now() + 3_600_000),
    signingKey: ca.keys.privateKey as never,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
  });
  const crlServer = createServer((request, response) => {
    if (request.url !== '/ca.crl') return void response.writeHead(404).end();
    response.writeHead(200, { 'content-type': 'application/pkix-crl' });
    response.end(Buffer.from(crl.rawData));
  });
  await new Promise<void>((resolve) => crlServer.listen(0, '127.0.0.1', resolve));
  t.after(() => crlServer.close());
  const url = `http://127.0.0.1:${(crlServer.address() as AddressInfo).port}/ca.crl`;
  const file = join(dir, 'bulwark.json');
  writeFileSync(
    file,
    JSON.stringify({
      mqtt: { revocation: [{ ca: caFile, crl: url }] },
      guard: { urls: { allowLoopbackHttp: true } },
    }),
  );
  const server = await startServer(t, [
    '--data-dir',
    join(dir, 'data'),
    '--config',
    file,
    '--host',
    '127.0.0.1',
    ...EPHEMERAL_PORTS,
  ]);
  await eventually(
    () =>
      server
        .stderr()
        .split('\n')
        .some((line) => line.includes('"CRL loaded"') && line.includes(`"crl":"${url}"`)),
    `"CRL loaded" from ${url}`,
    15_000,
  );
  assert.equal(await stopServer(server), 0);
});
