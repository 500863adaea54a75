// The broker's synchronous certificate directory (DeviceCertificates) on a real store: status,
// issuer, the TLS trust list, status-change signals, and just-in-time registration.
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { migrations } from '../../src/app/migrations.js';
import { ensureDeviceCa, Pki, type StatusChange } from '../../src/pki/index.js';
import { Registry } from '../../src/registry/index.js';
import { createTestCa, issueClientCertificate } from '../helpers/certificates.js';
import { newLocation, openHarnessAt } from '../helpers/store-harness.js';
import { issueByCa } from './helpers.js';

const REGION = 'eu-west-1';
const ACCOUNT_ID = '123456789012';

async function openPki(t: TestContext, kind: 'sqlite' | 'postgres') {
  const location = await newLocation(t, kind);
  if (!location) return undefined;
  const harness = await openHarnessAt(location, migrations);
  t.after(() => harness.close());
  const deviceCa = await ensureDeviceCa(harness.store, location.dataDir);
  const open = () =>
    Pki.open({ store: harness.store, region: REGION, accountId: ACCOUNT_ID, deviceCa });
  return { pki: await open(), open, store: harness.store };
}

/** An operator CA registered (ACTIVE) with the given auto-registration. */
async function registerCa(pki: Pki, allowAutoRegistration: boolean) {
  const ca = await createTestCa('Directory Test CA');
  const code = await pki.caCertificates.registrationCode();
  const { certificateId } = await pki.caCertificates.register({
    caCertificate: ca.certificatePem,
    verificationCertificate: await issueByCa(ca, code),
    setAsActive: true,
    allowAutoRegistration,
    certificateMode: 'DEFAULT',
    tags: [],
  });
  return { ca, caCertificateId: certificateId };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`status and issuer of Bulwark's own certificates; a status change leaving ACTIVE is signalled [${kind}]`, async (t) => {
    const opened = await openPki(t, kind);
    if (!opened) return;
    const { pki } = opened;
    const changes: StatusChange[] = [];
    pki.directory.onStatusChange((change) => changes.push(change));
    const created = await pki.certificates.createKeysAndCertificate(true);
    const certificate = new X509Certificate(created.certificatePem);
    assert.equal(pki.directory.status(created.certificateId), 'ACTIVE');
    assert.ok(pki.directory.isActive(created.certificateId));
    assert.deepEqual(pki.directory.issuerOf(certificate), { kind: 'bulwark' });
    assert.equal(pki.directory.status('f'.repeat(64)), undefined);

    await pki.certificates.update(created.certificateId, 'INACTIVE');
    assert.deepEqual(changes, [
      { kind: 'certificate', certificateId: created.certificateId, status: 'INACTIVE' },
    ]);
    assert.ok(!pki.directory.isActive(created.certificateId));
    await pki.certificates.update(created.certificateId, 'ACTIVE');
    await pki.certificates.update(created.certificateId, 'REVOKED');
    assert.equal(changes.length, 2);
    assert.equal(changes[1]?.kind === 'certificate' && changes[1].status, 'REVOKED');

    // A new process loads the same view from the store.
    const reopened = await opened.open();
    assert.equal(reopened.directory.status(created.certificateId), 'REVOKED');
  });

  test(`registered CAs: issuer lookup, trusted PEMs, a CA leaving ACTIVE is signalled [${kind}]`, async (t) => {
    const opened = await openPki(t, kind);
    if (!opened) return;
    const { pki } = opened;
    const { ca, caCertificateId } = await registerCa(pki, false);
    const device = await issueClientCertificate(ca, 'directory-device');
    const registered = await pki.certificates.register({
      certificatePem: device.certificatePem,
      status: 'ACTIVE',
    });
    const issuer = pki.directory.issuerOf(new X509Certificate(device.certificatePem));
    assert.equal(issuer?.kind === 'registered' && issuer.caCertificateId, caCertificateId);
    assert.equal(
      pki.directory.certificate(registered.certificateId)?.caCertificateId,
      caCertificateId,
    );
    assert.equal(pki.directory.trustedCaPems().length, 2);
    assert.ok(pki.directory.isActive(registered.certificateId));

    const changes: StatusChange[] = [];
    pki.directory.onStatusChange((change) => changes.push(change));
    await pki.caCertificates.update({ certificateId: caCertificateId, newStatus: 'INACTIVE' });
    assert.deepEqual(changes, [{ kind: 'ca', caCertificateId, status: 'INACTIVE' }]);
    // The certificate is ACTIVE, but its CA is not: it may not connect.
    assert.equal(pki.directory.status(registered.certificateId), 'ACTIVE');
    assert.ok(!pki.directory.isActive(registered.certificateId));
    assert.equal(pki.directory.trustedCaPems().length, 1);
    const unknown = await createTestCa('Unknown CA');
    const stranger = await issueClientCertificate(unknown, 'stranger');
    assert.equal(pki.directory.issuerOf(new X509Certificate(stranger.certificatePem)), undefined);
  });

  test(`just-in-time registration: PENDING_ACTIVATION and the registered event, only from an ACTIVE CA with auto-registration [${kind}]`, async (t) => {
    const opened = await openPki(t, kind);
    if (!opened) return;
    const { pki } = opened;
    const { ca, caCertificateId } = await registerCa(pki, true);
    const device = new X509Certificate((await issueClientCertificate(ca, 'jitr')).certificatePem);
    const event = await pki.directory.registerPendingActivation(device);
    assert.ok(event);
    assert.equal(event.caCertificateId, caCertificateId);
    assert.equal(event.certificateStatus, 'PENDING_ACTIVATION');
    assert.equal(event.awsAccountId, ACCOUNT_ID);
    assert.equal(event.certificateRegistrationTimestamp, null);
    assert.equal(pki.directory.status(event.certificateId), 'PENDING_ACTIVATION');
    assert.ok(!pki.directory.isActive(event.certificateId));
    const described = await pki.certificates.describe(event.certificateId);
    assert.equal(described.status, 'PENDING_ACTIVATION');
    assert.equal(described.caCertificateId, caCertificateId);
    // Repeated while pending (AWS publishes again on each connect).
    assert.equal(
      (await pki.directory.registerPendingActivation(device))?.certificateId,
      event.certificateId,
    );
    // The operator activates it: no more events; it may connect.
    await pki.certificates.update(event.certificateId, 'ACTIVE');
    assert.equal(await pki.directory.registerPendingActivation(device), undefined);
    assert.ok(pki.directory.isActive(event.certificateId));

    // Auto-registration disabled: nothing is registered.
    await pki.caCertificates.update({
      certificateId: caCertificateId,
      newAutoRegistrationStatus: 'DISABLE',
    });
    const other = new X509Certificate((await issueClientCertificate(ca, 'jitr-2')).certificatePem);
    assert.equal(await pki.directory.registerPendingActivation(other), undefined);
    // Bulwark's own certificates and unknown issuers are never auto-registered.
    const unknown = await createTestCa('Stranger CA');
    const stranger = new X509Certificate(
      (await issueClientCertificate(unknown, 's')).certificatePem,
    );
    assert.equal(await pki.directory.registerPendingActivation(stranger), undefined);
  });

  test(`the registry's principal index: things of a principal, the connected thing for policy variables [${kind}]`, async (t) => {
    const opened = await openPki(t, kind);
    if (!opened) return;
    const { pki, store } = opened;
    const makeRegistry = () =>
      new Registry({
        store,
        region: REGION,
        accountId: ACCOUNT_ID,
        principalExists: (principal) => pki.certificates.exists(principal),
      });
    const registry = makeRegistry();
    await registry.principals.load();
    const cert = await pki.certificates.createKeysAndCertificate(true);
    const other = await pki.certificates.createKeysAndCertificate(true);
    await registry.things.create({ thingName: 'sensor-1', attributes: { room: 'r1' } });
    await registry.things.create({ thingName: 'sensor-2' });
    await registry.principals.attach('sensor-1', cert.certificateArn);
    await registry.principals.attach('sensor-2', cert.certificateArn);
    assert.deepEqual([...registry.principals.thingsOfPrincipal(cert.certificateArn)].sort(), [
      'sensor-1',
      'sensor-2',
    ]);
    assert.deepEqual(registry.principals.principalsOfThing('sensor-1'), [cert.certificateArn]);
    assert.deepEqual(registry.principals.thingForConnection('sensor-1', cert.certificateArn), {
      thingName: 'sensor-1',
      attributes: { room: 'r1' },
      isAttached: true,
    });
    // Non-exclusive: the client id must be an attached thing's name.
    assert.equal(
      registry.principals.thingForConnection('someone-else', cert.certificateArn),
      undefined,
    );
    assert.equal(
      registry.principals.thingForConnection('sensor-1', other.certificateArn),
      undefined,
    );
    // Attribute changes reach the index.
    await registry.things.update({
      thingName: 'sensor-1',
      attributePayload: { attributes: { room: 'r2' }, merge: true },
    });
    assert.deepEqual(
      registry.principals.thingForConnection('sensor-1', cert.certificateArn)?.attributes,
      { room: 'r2' },
    );
    // Exclusive: the thing resolves whatever the client id.
    await registry.principals.attach('sensor-2', other.certificateArn, 'EXCLUSIVE_THING');
    assert.equal(
      registry.principals.thingForConnection('any-client', other.certificateArn)?.thingName,
      'sensor-2',
    );
    await assert.rejects(
      registry.principals.attach('sensor-1', other.certificateArn),
      /attached exclusively to thing sensor-2/,
    );
    // A new process loads the same index.
    const reloaded = makeRegistry();
    await reloaded.principals.load();
    assert.equal(
      reloaded.principals.thingForConnection('sensor-1', cert.certificateArn)?.attributes.room,
      'r2',
    );
    await registry.principals.detach('sensor-1', cert.certificateArn);
    assert.equal(
      registry.principals.thingForConnection('sensor-1', cert.certificateArn),
      undefined,
    );
    assert.deepEqual(registry.principals.thingsOfPrincipal(cert.certificateArn), ['sensor-2']);
  });
}
