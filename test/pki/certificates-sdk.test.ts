// Device certificates and CA certificates through the real server with the AWS SDK v3
// (@aws-sdk/client-iot): AWS's shapes and errors, the keys Bulwark returns, and what it keeps.
import {
  AttachThingPrincipalCommand,
  CreateCertificateFromCsrCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteCACertificateCommand,
  AttachPolicyCommand,
  CreatePolicyCommand,
  DeleteCertificateCommand,
  ListTargetsForPolicyCommand,
  DeleteThingCommand,
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  DetachThingPrincipalCommand,
  GetRegistrationCodeCommand,
  ListCACertificatesCommand,
  ListCertificatesByCACommand,
  ListCertificatesCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  RegisterCertificateWithoutCACommand,
  UpdateCACertificateCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { createHash, webcrypto, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { eventually } from '../helpers/wait.js';
import { iotClient, type ApiTarget } from '../helpers/aws-api.js';
import { createTestCa, issueClientCertificate } from '../helpers/certificates.js';
import { EPHEMERAL_PORTS, fileCleanup, startServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import {
  createCsr,
  filesHolding,
  issueByCa,
  publicKeyOfCertificate,
  publicKeyOfPrivate,
} from './helpers.js';

const files = fileCleanup();
const ACCOUNT_ID = '123456789012';
const dataDir = join(tempDir(files), 'data');
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
  env: { BULWARK_ACCOUNT_ID: ACCOUNT_ID },
});
const target: ApiTarget = { port: server.ready.api, dataDir };
const client = iotClient(target);
const arnPrefix = `arn:aws:iot:us-east-1:${ACCOUNT_ID}`;

type SdkError = Error & { $metadata: { httpStatusCode?: number } };

async function fails(promise: Promise<unknown>, name: string, status: number): Promise<SdkError> {
  try {
    await promise;
  } catch (error) {
    const sdkError = error as SdkError;
    assert.equal(sdkError.name, name, sdkError.message);
    assert.equal(sdkError.$metadata.httpStatusCode, status);
    return sdkError;
  }
  assert.fail(`expected ${name}, the call succeeded`);
}

function deviceCa(): X509Certificate {
  return new X509Certificate(readFileSync(join(dataDir, 'pki', 'device-ca.pem')));
}

/** A registered, ACTIVE CA (made at test time) with auto-registration as asked. */
async function registerTestCa(name: string) {
  const ca = await createTestCa(name);
  const { registrationCode } = await client.send(new GetRegistrationCodeCommand({}));
  const registered = await client.send(
    new RegisterCACertificateCommand({
      caCertificate: ca.certificatePem,
      verificationCertificate: await issueByCa(ca, registrationCode as string),
      setAsActive: true,
    }),
  );
  return { ca, caCertificateId: registered.certificateId as string };
}

test('CreateKeysAndCertificate: an RSA 2048 key returned once, a certificate chaining to DIR/pki/device-ca.pem, the key stored nowhere', async () => {
  const created = await client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const certificate = new X509Certificate(created.certificatePem as string);
  const id = createHash('sha256').update(certificate.raw).digest('hex');
  assert.equal(created.certificateId, id);
  assert.equal(created.certificateArn, `${arnPrefix}:cert/${id}`);
  const privateKey = created.keyPair?.PrivateKey as string;
  assert.match(privateKey, /^-----BEGIN RSA PRIVATE KEY-----/);
  assert.equal(certificate.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.deepEqual(
    publicKeyOfPrivate(privateKey),
    publicKeyOfCertificate(created.certificatePem as string),
  );
  assert.match(created.keyPair?.PublicKey as string, /^-----BEGIN PUBLIC KEY-----/);
  const ca = deviceCa();
  assert.ok(certificate.checkIssued(ca) && certificate.verify(ca.publicKey));
  assert.ok(ca.ca);
  // The device CA is Bulwark's own, not the server CA.
  assert.notEqual(
    ca.fingerprint256,
    new X509Certificate(readFileSync(join(dataDir, 'pki', 'server-ca.pem'))).fingerprint256,
  );

  const described = await client.send(new DescribeCertificateCommand({ certificateId: id }));
  const description = described.certificateDescription;
  assert.equal(description?.status, 'ACTIVE');
  assert.equal(description?.ownedBy, ACCOUNT_ID);
  assert.equal(description?.certificateMode, 'DEFAULT');
  assert.equal(description?.caCertificateId, undefined);
  assert.equal(description?.certificatePem, created.certificatePem);
  assert.ok(description?.creationDate instanceof Date);
  assert.ok(Math.abs((description?.creationDate as Date).getTime() - Date.now()) < 60_000);
  assert.equal(description?.validity?.notAfter?.toISOString(), '2049-12-31T23:59:59.000Z');

  // The private key is in no file of the data dir, in any layout; nor in the server's logs.
  assert.deepEqual(filesHolding(dataDir, privateKey), []);
  assert.ok(!server.stderr().includes(privateKey.split('\n')[1] as string));
});

test('certificate PEMs are sealed at rest: no file of the data dir holds one', async () => {
  const created = await client.send(new CreateKeysAndCertificateCommand({}));
  assert.deepEqual(filesHolding(dataDir, created.certificatePem as string), []);
  const { ca } = await registerTestCa('Sealed Test CA');
  const device = await issueClientCertificate(ca, 'sealed-device');
  await client.send(new RegisterCertificateCommand({ certificatePem: device.certificatePem }));
  assert.deepEqual(filesHolding(dataDir, device.certificatePem), []);
  assert.deepEqual(filesHolding(dataDir, ca.certificatePem), []);
});

test('CreateCertificateFromCsr: a verified CSR gets a certificate for its key and subject; bad CSRs are refused', async () => {
  const { csrPem, keys } = await createCsr('CN=csr-device, O=Example');
  const created = await client.send(
    new CreateCertificateFromCsrCommand({ certificateSigningRequest: csrPem, setAsActive: true }),
  );
  const certificate = new X509Certificate(created.certificatePem as string);
  assert.equal(certificate.subject, 'CN=csr-device\nO=Example');
  const spki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  assert.deepEqual(publicKeyOfCertificate(created.certificatePem as string), spki);
  assert.ok(certificate.verify(deviceCa().publicKey));
  const described = await client.send(
    new DescribeCertificateCommand({ certificateId: created.certificateId }),
  );
  assert.equal(described.certificateDescription?.status, 'ACTIVE');

  // A CSR whose signature does not verify (its subject altered after signing).
  const tampered = Buffer.from(csrPem.replace(/-----[^-]+-----|\s/g, ''), 'base64');
  const at = tampered.indexOf(Buffer.from('csr-device'));
  tampered[at] = 'x'.charCodeAt(0);
  const tamperedPem = `-----BEGIN CERTIFICATE REQUEST-----\n${tampered.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
  await fails(
    client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: tamperedPem })),
    'InvalidRequestException',
    400,
  );
  const weak = await createCsr('CN=weak', 1024);
  const error = await fails(
    client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: weak.csrPem })),
    'InvalidRequestException',
    400,
  );
  assert.match(error.message, /2048/);
  await fails(
    client.send(new CreateCertificateFromCsrCommand({ certificateSigningRequest: 'not a csr' })),
    'InvalidRequestException',
    400,
  );
});

test('RegisterCACertificate: the verification certificate must carry the registration code and be signed by the CA', async () => {
  const ca = await createTestCa('Operator CA');
  const { registrationCode } = await client.send(new GetRegistrationCodeCommand({}));
  assert.match(registrationCode as string, /^[0-9a-f]{64}$/);
  assert.equal(
    (await client.send(new GetRegistrationCodeCommand({}))).registrationCode,
    registrationCode,
  );
  await fails(
    client.send(
      new RegisterCACertificateCommand({
        caCertificate: ca.certificatePem,
        verificationCertificate: await issueByCa(ca, 'not-the-code'),
      }),
    ),
    'RegistrationCodeValidationException',
    400,
  );
  const other = await createTestCa('Another CA');
  await fails(
    client.send(
      new RegisterCACertificateCommand({
        caCertificate: ca.certificatePem,
        verificationCertificate: await issueByCa(other, registrationCode as string),
      }),
    ),
    'CertificateValidationException',
    400,
  );
  await fails(
    client.send(new RegisterCACertificateCommand({ caCertificate: ca.certificatePem })),
    'InvalidRequestException',
    400,
  );
  const registered = await client.send(
    new RegisterCACertificateCommand({
      caCertificate: ca.certificatePem,
      verificationCertificate: await issueByCa(ca, registrationCode as string),
      setAsActive: true,
      allowAutoRegistration: true,
    }),
  );
  const caId = createHash('sha256')
    .update(new X509Certificate(ca.certificatePem).raw)
    .digest('hex');
  assert.equal(registered.certificateId, caId);
  assert.equal(registered.certificateArn, `${arnPrefix}:cacert/${caId}`);
  const duplicate = await fails(
    client.send(
      new RegisterCACertificateCommand({
        caCertificate: ca.certificatePem,
        verificationCertificate: await issueByCa(ca, registrationCode as string),
      }),
    ),
    'ResourceAlreadyExistsException',
    409,
  );
  assert.equal((duplicate as unknown as { resourceId: string }).resourceId, caId);

  const described = await client.send(new DescribeCACertificateCommand({ certificateId: caId }));
  assert.equal(described.certificateDescription?.status, 'ACTIVE');
  assert.equal(described.certificateDescription?.autoRegistrationStatus, 'ENABLE');
  assert.equal(described.certificateDescription?.certificateMode, 'DEFAULT');
  assert.equal(described.certificateDescription?.ownedBy, ACCOUNT_ID);
  const listed = await client.send(new ListCACertificatesCommand({}));
  assert.ok(listed.certificates?.some((item) => item.certificateId === caId));

  // SNI_ONLY: no verification certificate, and none may be given.
  const sniCa = await createTestCa('SNI CA');
  const sni = await client.send(
    new RegisterCACertificateCommand({
      caCertificate: sniCa.certificatePem,
      certificateMode: 'SNI_ONLY',
    }),
  );
  const sniDescribed = await client.send(
    new DescribeCACertificateCommand({ certificateId: sni.certificateId }),
  );
  assert.equal(sniDescribed.certificateDescription?.certificateMode, 'SNI_ONLY');
  assert.equal(sniDescribed.certificateDescription?.status, 'INACTIVE');
});

test('RegisterCertificate: only certificates of a registered CA, never PENDING_ACTIVATION, never twice', async () => {
  const { ca, caCertificateId } = await registerTestCa('Register CA');
  const device = await issueClientCertificate(ca, 'registered-device');
  await fails(
    client.send(
      new RegisterCertificateCommand({
        certificatePem: device.certificatePem,
        status: 'PENDING_ACTIVATION',
      }),
    ),
    'CertificateStateException',
    406,
  );
  const registered = await client.send(
    new RegisterCertificateCommand({
      certificatePem: device.certificatePem,
      caCertificatePem: ca.certificatePem,
      status: 'ACTIVE',
    }),
  );
  const described = await client.send(
    new DescribeCertificateCommand({ certificateId: registered.certificateId }),
  );
  assert.equal(described.certificateDescription?.caCertificateId, caCertificateId);
  assert.equal(described.certificateDescription?.status, 'ACTIVE');
  await fails(
    client.send(new RegisterCertificateCommand({ certificatePem: device.certificatePem })),
    'ResourceAlreadyExistsException',
    409,
  );
  // Without a status (and without the deprecated setAsActive) a registration is INACTIVE.
  const second = await issueClientCertificate(ca, 'second-device');
  const inactive = await client.send(
    new RegisterCertificateCommand({ certificatePem: second.certificatePem }),
  );
  assert.equal(
    (await client.send(new DescribeCertificateCommand({ certificateId: inactive.certificateId })))
      .certificateDescription?.status,
    'INACTIVE',
  );
  const byCa = await client.send(new ListCertificatesByCACommand({ caCertificateId }));
  assert.deepEqual(
    byCa.certificates?.map((item) => item.certificateId).sort(),
    [registered.certificateId, inactive.certificateId].sort(),
  );

  const unknownCa = await createTestCa('Unregistered CA');
  const stranger = await issueClientCertificate(unknownCa, 'stranger');
  await fails(
    client.send(new RegisterCertificateCommand({ certificatePem: stranger.certificatePem })),
    'CertificateValidationException',
    400,
  );
  await fails(
    client.send(
      new RegisterCertificateCommand({
        certificatePem: stranger.certificatePem,
        caCertificatePem: unknownCa.certificatePem,
      }),
    ),
    'CertificateValidationException',
    400,
  );
  await fails(
    client.send(new RegisterCertificateCommand({ certificatePem: 'garbage' })),
    'CertificateValidationException',
    400,
  );

  const withoutCa = await client.send(
    new RegisterCertificateWithoutCACommand({
      certificatePem: stranger.certificatePem,
      status: 'ACTIVE',
    }),
  );
  const sniOnly = await client.send(
    new DescribeCertificateCommand({ certificateId: withoutCa.certificateId }),
  );
  assert.equal(sniOnly.certificateDescription?.certificateMode, 'SNI_ONLY');
  assert.equal(sniOnly.certificateDescription?.caCertificateId, undefined);
});

test('UpdateCertificate: REVOKED is final, PENDING_ statuses cannot be set, unknown ids are 404', async () => {
  const created = await client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const certificateId = created.certificateId as string;
  await client.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
  await client.send(new UpdateCertificateCommand({ certificateId, newStatus: 'ACTIVE' }));
  await fails(
    client.send(new UpdateCertificateCommand({ certificateId, newStatus: 'PENDING_TRANSFER' })),
    'InvalidRequestException',
    400,
  );
  await client.send(new UpdateCertificateCommand({ certificateId, newStatus: 'REVOKED' }));
  const described = await client.send(new DescribeCertificateCommand({ certificateId }));
  assert.equal(described.certificateDescription?.status, 'REVOKED');
  assert.equal(described.certificateDescription?.customerVersion, 4);
  await fails(
    client.send(new UpdateCertificateCommand({ certificateId, newStatus: 'ACTIVE' })),
    'CertificateStateException',
    406,
  );
  await fails(
    client.send(
      new UpdateCertificateCommand({ certificateId: 'a'.repeat(64), newStatus: 'ACTIVE' }),
    ),
    'ResourceNotFoundException',
    404,
  );
  await fails(
    client.send(new DescribeCertificateCommand({ certificateId: 'not-an-id' })),
    'InvalidRequestException',
    400,
  );
});

test('DeleteCertificate: not while ACTIVE (406), not while attached to a thing (409)', async () => {
  const created = await client.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const certificateId = created.certificateId as string;
  const principal = created.certificateArn as string;
  await client.send(new CreateThingCommand({ thingName: 'delete-cert-thing' }));
  await client.send(new AttachThingPrincipalCommand({ thingName: 'delete-cert-thing', principal }));
  const active = await fails(
    client.send(new DeleteCertificateCommand({ certificateId })),
    'CertificateStateException',
    406,
  );
  assert.match(active.message, /deactivated/);
  await client.send(new UpdateCertificateCommand({ certificateId, newStatus: 'INACTIVE' }));
  await fails(
    client.send(new DeleteCertificateCommand({ certificateId, forceDelete: true })),
    'DeleteConflictException',
    409,
  );
  await client.send(new DetachThingPrincipalCommand({ thingName: 'delete-cert-thing', principal }));
  await client.send(new DeleteCertificateCommand({ certificateId }));
  await fails(
    client.send(new DescribeCertificateCommand({ certificateId })),
    'ResourceNotFoundException',
    404,
  );
  await client.send(new DeleteThingCommand({ thingName: 'delete-cert-thing' }));
});

test('DeleteCertificate: attached policies refuse it (409) unless forceDelete, which detaches them', async () => {
  const created = await client.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
  const certificateId = created.certificateId as string;
  const target = created.certificateArn as string;
  await client.send(
    new CreatePolicyCommand({
      policyName: 'deleted-cert-policy',
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' }],
      }),
    }),
  );
  await client.send(new AttachPolicyCommand({ policyName: 'deleted-cert-policy', target }));
  await fails(
    client.send(new DeleteCertificateCommand({ certificateId })),
    'DeleteConflictException',
    409,
  );
  await client.send(new DeleteCertificateCommand({ certificateId, forceDelete: true }));
  await eventually(async () => {
    const targets = await client.send(
      new ListTargetsForPolicyCommand({ policyName: 'deleted-cert-policy' }),
    );
    return (targets.targets ?? []).length === 0;
  }, 'the deleted certificate no longer holds the policy');
});

test('ListCertificates pages with pageSize and marker, newest first unless ascending', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 5; i++)
    ids.push((await client.send(new CreateKeysAndCertificateCommand({}))).certificateId as string);
  const seen: string[] = [];
  let marker: string | undefined;
  let pages = 0;
  do {
    const page = await client.send(
      new ListCertificatesCommand({
        pageSize: 2,
        ascendingOrder: true,
        ...(marker ? { marker } : {}),
      }),
    );
    assert.ok((page.certificates?.length ?? 0) <= 2);
    for (const item of page.certificates ?? []) {
      assert.equal(item.certificateArn, `${arnPrefix}:cert/${item.certificateId}`);
      assert.ok(item.creationDate instanceof Date);
      seen.push(item.certificateId as string);
    }
    marker = page.nextMarker;
    pages++;
  } while (marker);
  assert.ok(pages >= 3);
  assert.equal(new Set(seen).size, seen.length);
  // Ascending by creation: the five just made come last, in the order they were made.
  assert.deepEqual(seen.slice(-5), ids);
  const newest = await client.send(new ListCertificatesCommand({ pageSize: 1 }));
  assert.equal(newest.certificates?.[0]?.certificateId, ids[4]);
  await fails(
    client.send(new ListCertificatesCommand({ marker: 'bogus' })),
    'InvalidRequestException',
    400,
  );
});

test('CA lifecycle: UpdateCACertificate, DeleteCACertificate not while ACTIVE nor while it has certificates', async () => {
  const { ca, caCertificateId } = await registerTestCa('Lifecycle CA');
  const device = await issueClientCertificate(ca, 'lifecycle-device');
  const registered = await client.send(
    new RegisterCertificateCommand({ certificatePem: device.certificatePem, status: 'INACTIVE' }),
  );
  await fails(
    client.send(new DeleteCACertificateCommand({ certificateId: caCertificateId })),
    'CertificateStateException',
    406,
  );
  await client.send(
    new UpdateCACertificateCommand({
      certificateId: caCertificateId,
      newStatus: 'INACTIVE',
      newAutoRegistrationStatus: 'ENABLE',
    }),
  );
  const described = await client.send(
    new DescribeCACertificateCommand({ certificateId: caCertificateId }),
  );
  assert.equal(described.certificateDescription?.status, 'INACTIVE');
  assert.equal(described.certificateDescription?.autoRegistrationStatus, 'ENABLE');
  // A device certificate cannot be registered under an inactive CA.
  const late = await issueClientCertificate(ca, 'late-device');
  await fails(
    client.send(new RegisterCertificateCommand({ certificatePem: late.certificatePem })),
    'CertificateStateException',
    406,
  );
  await fails(
    client.send(new DeleteCACertificateCommand({ certificateId: caCertificateId })),
    'CertificateStateException',
    406,
  );
  await client.send(new DeleteCertificateCommand({ certificateId: registered.certificateId }));
  await client.send(new DeleteCACertificateCommand({ certificateId: caCertificateId }));
  await fails(
    client.send(new DescribeCACertificateCommand({ certificateId: caCertificateId })),
    'ResourceNotFoundException',
    404,
  );
});
