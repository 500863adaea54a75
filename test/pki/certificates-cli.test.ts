// Device certificates, CAs and thing principals through the AWS CLI v2 (`aws iot …
// --endpoint-url`), as an operator would use them; the CSR is made with `openssl req`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { needAwsCli, runAwsCli, type ApiTarget } from '../helpers/aws-api.js';
import { createTestCa, issueClientCertificate } from '../helpers/certificates.js';
import { EPHEMERAL_PORTS, fileCleanup, startServer } from '../helpers/cli.js';
import { needCommand } from '../helpers/services.js';
import { tempDir } from '../helpers/temp.js';
import { filesHolding, issueByCa, publicKeyOfCertificate, publicKeyOfPrivate } from './helpers.js';

const files = fileCleanup();
const ACCOUNT_ID = '123456789012';
const dataDir = join(tempDir(files), 'data');
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
  env: { BULWARK_ACCOUNT_ID: ACCOUNT_ID },
});
const target: ApiTarget = { port: server.ready.api, dataDir };
const home = tempDir(files);
const work = tempDir(files);

/** `aws iot ARGS`: its parsed JSON output (`{}` when it prints none). */
function iot(args: string[]): Record<string, unknown> {
  const result = runAwsCli(target, ['iot', ...args], { home });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim() ? (JSON.parse(result.stdout) as Record<string, unknown>) : {};
}

/** `aws iot ARGS` expected to fail with AWS's error `type`: its stderr. */
function iotFails(args: string[], type: string): string {
  const result = runAwsCli(target, ['iot', ...args], { home });
  assert.notEqual(result.status, 0, result.stdout);
  assert.match(result.stderr, new RegExp(`\\(${type}\\)`));
  return result.stderr;
}

function file(name: string, text: string): string {
  const path = join(work, name);
  writeFileSync(path, text);
  return `file://${path}`;
}

function cli(t: TestContext): boolean {
  return needAwsCli(t);
}

test('AWS CLI v2: create-keys-and-certificate, describe, revoke; the key is valid and kept nowhere', (t) => {
  if (!cli(t)) return;
  const created = iot(['create-keys-and-certificate', '--set-as-active']);
  const keyPair = created.keyPair as { PublicKey: string; PrivateKey: string };
  const certificatePem = created.certificatePem as string;
  assert.deepEqual(publicKeyOfPrivate(keyPair.PrivateKey), publicKeyOfCertificate(certificatePem));
  const ca = new X509Certificate(readFileSync(join(dataDir, 'pki', 'device-ca.pem')));
  assert.ok(new X509Certificate(certificatePem).verify(ca.publicKey));
  assert.deepEqual(filesHolding(dataDir, keyPair.PrivateKey), []);

  const id = created.certificateId as string;
  const described = iot(['describe-certificate', '--certificate-id', id])
    .certificateDescription as Record<string, unknown>;
  assert.equal(described.status, 'ACTIVE');
  assert.equal(described.certificateArn, `arn:aws:iot:us-east-1:${ACCOUNT_ID}:cert/${id}`);
  iot(['update-certificate', '--certificate-id', id, '--new-status', 'REVOKED']);
  const revoked = iot(['describe-certificate', '--certificate-id', id])
    .certificateDescription as Record<string, unknown>;
  assert.equal(revoked.status, 'REVOKED');
  iotFails(
    ['update-certificate', '--certificate-id', id, '--new-status', 'ACTIVE'],
    'CertificateStateException',
  );
});

test('AWS CLI v2: create-certificate-from-csr with an `openssl req` CSR', (t) => {
  if (!cli(t) || !needCommand(t, 'openssl', 'apt-get install openssl')) return;
  const keyPath = join(work, 'csr-key.pem');
  const csrPath = join(work, 'device.csr');
  const made = spawnSync('openssl', [
    'req',
    '-new',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    csrPath,
    '-subj',
    '/CN=openssl-device',
  ]);
  assert.equal(made.status, 0, made.stderr.toString());
  const created = iot([
    'create-certificate-from-csr',
    '--certificate-signing-request',
    `file://${csrPath}`,
    '--set-as-active',
  ]);
  const certificatePem = created.certificatePem as string;
  assert.equal(new X509Certificate(certificatePem).subject, 'CN=openssl-device');
  assert.deepEqual(
    publicKeyOfPrivate(readFileSync(keyPath, 'utf8')),
    publicKeyOfCertificate(certificatePem),
  );
});

test('AWS CLI v2: register-ca-certificate with a verification certificate, register-certificate, list-certificates past a page, delete preconditions', async (t) => {
  if (!cli(t)) return;
  const ca = await createTestCa('CLI Operator CA');
  const code = iot(['get-registration-code']).registrationCode as string;
  const registeredCa = iot([
    'register-ca-certificate',
    '--ca-certificate',
    file('ca.pem', ca.certificatePem),
    '--verification-certificate',
    file('verification.pem', await issueByCa(ca, code)),
    '--set-as-active',
    '--allow-auto-registration',
  ]);
  const caId = registeredCa.certificateId as string;
  const caDescribed = iot(['describe-ca-certificate', '--certificate-id', caId])
    .certificateDescription as Record<string, unknown>;
  assert.equal(caDescribed.status, 'ACTIVE');
  assert.equal(caDescribed.autoRegistrationStatus, 'ENABLE');

  const ids: string[] = [];
  for (let i = 0; i < 3; i++) {
    const device = await issueClientCertificate(ca, `cli-device-${i}`);
    const registered = iot([
      'register-certificate',
      '--certificate-pem',
      file(`device-${i}.pem`, device.certificatePem),
      '--ca-certificate-pem',
      file('ca.pem', ca.certificatePem),
      '--status',
      'ACTIVE',
    ]);
    ids.push(registered.certificateId as string);
  }
  iotFails(
    [
      'register-certificate',
      '--certificate-pem',
      file('device-0.pem', readFileSync(join(work, 'device-0.pem'), 'utf8')),
    ],
    'ResourceAlreadyExistsException',
  );
  iot(['create-keys-and-certificate']);
  // Paged by hand, two at a time, following nextMarker with --marker.
  const all: string[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = iot([
      'list-certificates',
      '--page-size',
      '2',
      '--ascending-order',
      ...(marker ? ['--marker', marker] : []),
    ]);
    all.push(
      ...(page.certificates as { certificateId: string }[]).map((item) => item.certificateId),
    );
    marker = page.nextMarker as string | undefined;
    pages++;
  } while (marker);
  assert.ok(pages >= 2);
  assert.equal(new Set(all).size, all.length);
  for (const id of ids) assert.ok(all.includes(id));
  const byCa = iot(['list-certificates-by-ca', '--ca-certificate-id', caId]).certificates as {
    certificateId: string;
  }[];
  assert.deepEqual(byCa.map((item) => item.certificateId).sort(), [...ids].sort());

  const id = ids[0] as string;
  iotFails(['delete-certificate', '--certificate-id', id], 'CertificateStateException');
  iotFails(['delete-ca-certificate', '--certificate-id', caId], 'CertificateStateException');
  iot(['update-certificate', '--certificate-id', id, '--new-status', 'INACTIVE']);
  iot(['delete-certificate', '--certificate-id', id]);
  iotFails(['describe-certificate', '--certificate-id', id], 'ResourceNotFoundException');
});

test('AWS CLI v2: attach-thing-principal, list-thing-principals, list-principal-things, delete-thing while attached', (t) => {
  if (!cli(t)) return;
  const arn = iot(['create-keys-and-certificate', '--set-as-active']).certificateArn as string;
  iot(['create-thing', '--thing-name', 'cli-principal-thing']);
  iot(['attach-thing-principal', '--thing-name', 'cli-principal-thing', '--principal', arn]);
  assert.deepEqual(
    iot(['list-thing-principals', '--thing-name', 'cli-principal-thing']).principals,
    [arn],
  );
  assert.deepEqual(iot(['list-principal-things', '--principal', arn]).things, [
    'cli-principal-thing',
  ]);
  const refused = iotFails(
    ['delete-thing', '--thing-name', 'cli-principal-thing'],
    'InvalidRequestException',
  );
  assert.match(
    refused,
    /Cannot delete\. Thing cli-principal-thing is still attached to one or more principals/,
  );
  iot(['detach-thing-principal', '--thing-name', 'cli-principal-thing', '--principal', arn]);
  assert.deepEqual(
    iot(['list-thing-principals', '--thing-name', 'cli-principal-thing']).principals,
    [],
  );
  iot(['delete-thing', '--thing-name', 'cli-principal-thing']);
});
