// Device security events in the audit trail, end to end on a real `bulwark serve` with real
// clients: refused handshakes on MQTT/TLS, MQTT over WSS and the ALPN-shared HTTPS port (with
// OpenSSL's reason, the certificate's serial and SHA-256 fingerprint, source IP and SNI), a
// certificate revoked and cut off, a CONNECT refused for a REVOKED certificate, and a client
// hammering a denied topic summarised into one event. Then the summariser on its own, with a
// clock of the test's. Summaries are written when their minute is over or when the server stops,
// so each end-to-end test stops its server before it reads the trail.
import 'reflect-metadata';
import {
  AttachPolicyCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { X509Certificate, webcrypto } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { WebSocket, type ClientOptions } from 'ws';
import { openDataDir } from '../../src/app/data-dir.js';
import {
  DeviceSecurityEvents,
  type ConnectRefusal,
  type PolicyDenial,
} from '../../src/audit/device-events.js';
import { lookupEvents } from '../../src/audit/lookup.js';
import type { AuditEvent, AuditRecord } from '../../src/audit/record.js';
import { loadConfig } from '../../src/config/index.js';
import type { Logger } from '../../src/logs/logger.js';
import { adminCredentials, iotClient, serverCa } from '../helpers/aws-api.js';
import {
  createTestCa,
  issueClientCertificate,
  type TestCa,
  type TestCertificate,
} from '../helpers/certificates.js';
import {
  EPHEMERAL_PORTS,
  fileCleanup,
  startServer,
  stopServer,
  type Cleanup,
  type RunningServer,
} from '../helpers/cli.js';
import { connectUrlWithInbox } from '../helpers/mqtt-clients.js';
import { presignedMqttPath } from '../helpers/presigned-mqtt-url.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

const files = fileCleanup();
const dir = tempDir(files, 'bulwark-device-events-');
const dataDir = join(dir, 'data');
const configFile = join(dir, 'bulwark.json');
const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

interface Device extends TestCertificate {
  serial: string;
  fingerprint: string;
}

let fleetCa: TestCa;
const devices = {} as Record<'good' | 'listed' | 'expired' | 'stranger', Device>;
/** A certificate registered through the API (Bulwark's device CA), ACTIVE, under `fleet`. */
let registered: Device & { certificateId: string; certificateArn: string };

function described(certificate: TestCertificate): Device {
  const parsed = new X509Certificate(certificate.certificatePem);
  return {
    ...certificate,
    serial: parsed.serialNumber,
    fingerprint: parsed.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

/** A client certificate from `ca` whose validity ended yesterday. */
async function issueExpired(ca: TestCa, commonName: string): Promise<Device> {
  const keys = (await webcrypto.subtle.generateKey(ALGORITHM, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const day = 86_400_000;
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: '0badc0de01',
    subject: `CN=${commonName}`,
    issuer: ca.certificate.subject,
    notBefore: new Date(Date.now() - 10 * day),
    notAfter: new Date(Date.now() - day),
    signingKey: ca.keys.privateKey as never,
    publicKey: keys.publicKey as never,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey));
  return described({
    certificatePem: certificate.toString('pem') + '\n',
    privateKeyPem: `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/.{1,64}/g, '$&\n')}-----END PRIVATE KEY-----\n`,
  });
}

async function start(t: Cleanup): Promise<RunningServer> {
  return startServer(t, ['--data-dir', dataDir, '--config', configFile, ...EPHEMERAL_PORTS]);
}

/** The trail's events named `eventName`, oldest first, read from the data dir (server stopped). */
async function eventsNamed(eventName: string): Promise<AuditRecord[]> {
  const config = loadConfig({ env: {}, flags: { dataDir } });
  const opened = await openDataDir(config, {}, { create: false });
  try {
    const { records } = await lookupEvents(opened.store, {
      attributes: [{ key: 'EventName', value: eventName }],
      maxResults: 1000,
    });
    return records.reverse();
  } finally {
    await opened.close();
  }
}

before(async () => {
  fleetCa = await createTestCa('Fleet CA');
  const strangerCa = await createTestCa('Stranger CA');
  devices.good = described(await issueClientCertificate(fleetCa, 'good-device'));
  devices.listed = described(await issueClientCertificate(fleetCa, 'listed-device'));
  devices.expired = await issueExpired(fleetCa, 'expired-device');
  devices.stranger = described(await issueClientCertificate(strangerCa, 'stranger-device'));

  const caFile = join(dir, 'fleet-ca.pem');
  writeFileSync(caFile, fleetCa.certificatePem);
  const crl = await x509.X509CrlGenerator.create({
    issuer: fleetCa.certificate.subject,
    thisUpdate: new Date(Date.now() - 1000),
    nextUpdate: new Date(Date.now() + 3_600_000),
    signingKey: fleetCa.keys.privateKey as never,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    entries: [
      {
        serialNumber: devices.listed.serial,
        revocationDate: new Date(Date.now() - 1000),
        reason: x509.X509CrlReason.keyCompromise,
      },
    ],
  });
  const crlFile = join(dir, 'fleet.crl.pem');
  writeFileSync(crlFile, crl.toString('pem'));
  writeFileSync(
    configFile,
    JSON.stringify({
      mqtt: {
        deviceCaFile: caFile,
        deviceCaPolicy: 'fleet',
        alpnOnApiPort: true,
        revocation: [{ ca: 'deviceCaFile', crl: crlFile }],
      },
    }),
  );

  const server = await start(files);
  const iot = iotClient({ port: server.ready.api, dataDir });
  const arn = 'arn:aws:iot:us-east-1:000000000000';
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'fleet',
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 'iot:Connect', Resource: '*' },
          {
            Effect: 'Allow',
            Action: ['iot:Publish', 'iot:Receive'],
            Resource: `${arn}:topic/devices/*`,
          },
          { Effect: 'Allow', Action: 'iot:Subscribe', Resource: `${arn}:topicfilter/devices/*` },
        ],
      }),
    }),
  );
  const created = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(
    new AttachPolicyCommand({ policyName: 'fleet', target: created.certificateArn as string }),
  );
  registered = {
    ...described({
      certificatePem: created.certificatePem as string,
      privateKeyPem: created.keyPair?.PrivateKey as string,
    }),
    certificateId: created.certificateId as string,
    certificateArn: created.certificateArn as string,
  };
  await stopServer(server);
});

/**
 * A raw TLS client with `device`'s certificate: resolves once the server has closed the
 * connection (a refusal), or rejects if it is still open after `openForMs` (an acceptance).
 */
function refusedHandshake(
  port: number,
  device: Device,
  options: {
    servername: string;
    alpn?: string;
    openForMs?: number;
    tls?: { maxVersion: 'TLSv1.2'; ciphers: string };
  },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({
      host: '127.0.0.1',
      port,
      servername: options.servername,
      ca: serverCa(dataDir),
      cert: device.certificatePem,
      key: device.privateKeyPem,
      // The server is Bulwark's, trusted through its CA; the SNI sent is what is under test.
      checkServerIdentity: () => undefined,
      ...(options.alpn ? { ALPNProtocols: [options.alpn] } : {}),
      ...options.tls,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the connection was not refused'));
    }, options.openForMs ?? 3000);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * MQTT over WSS with `device`'s certificate, or on a signed `path` without one: the HTTP status
 * the upgrade was answered with.
 */
function wssUpgradeStatus(
  port: number,
  device: Device | undefined,
  path = '/mqtt',
): Promise<number> {
  return new Promise((resolve, reject) => {
    // ws hands these to tls.connect, servername (the SNI) included, though its types omit it.
    const options: ClientOptions & { servername: string } = {
      ca: serverCa(dataDir),
      ...(device ? { cert: device.certificatePem, key: device.privateKeyPem } : {}),
      servername: 'localhost',
    };
    const ws = new WebSocket(`wss://127.0.0.1:${port}${path}`, 'mqtt', options);
    ws.on('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      ws.terminate();
    });
    ws.on('open', () => {
      ws.terminate();
      reject(new Error('the upgrade was accepted'));
    });
    ws.on('error', () => undefined);
  });
}

function refusalsOf(events: AuditRecord[], device: Device, listener: string): AuditRecord[] {
  return events.filter(
    (event) =>
      (event.additionalEventData?.certificate as { serialNumber?: string } | undefined)
        ?.serialNumber === device.serial && event.additionalEventData?.listener === listener,
  );
}

function only(events: AuditRecord[], what: string): AuditRecord {
  assert.equal(events.length, 1, `${what}: ${JSON.stringify(events, null, 1)}`);
  return events[0] as AuditRecord;
}

test('refused handshakes on MQTT/TLS, WSS and ALPN are audited with the verify reason, serial, fingerprint, source IP and SNI; repeats are counted, not repeated', async (t) => {
  const server = await start(t);
  const { mqtt, api } = server.ready;
  await refusedHandshake(mqtt, devices.expired, { servername: 'localhost' });
  await refusedHandshake(mqtt, devices.listed, { servername: 'localhost' });
  for (let attempt = 0; attempt < 3; attempt++)
    await refusedHandshake(mqtt, devices.stranger, { servername: 'devices.bulwark.test' });
  assert.equal(await wssUpgradeStatus(api, devices.listed), 401);
  const admin = adminCredentials(dataDir);
  const forged = await presignedMqttPath(api, { ...admin, secretAccessKey: 'not-the-secret' });
  assert.equal(await wssUpgradeStatus(api, undefined, forged), 403);
  await refusedHandshake(api, devices.expired, {
    servername: 'localhost',
    alpn: 'x-amzn-mqtt-ca',
  });
  // A handshake OpenSSL itself aborts (no cipher in common: CBC is outside the policy).
  await refusedHandshake(mqtt, devices.good, {
    servername: 'localhost',
    tls: { maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA' },
  });
  // The good certificate is not refused: the refusals above are about the certificates.
  await assert.rejects(
    refusedHandshake(mqtt, devices.good, { servername: 'localhost', openForMs: 500 }),
    /not refused/,
  );
  assert.equal(await stopServer(server), 0);

  const events = await eventsNamed('AuthenticationFailure');
  for (const event of events) {
    assert.equal(event.eventSource, 'iot.amazonaws.com');
    assert.equal(event.eventType, 'AwsServiceEvent');
    assert.equal(event.eventCategory, 'Data');
    assert.equal(event.managementEvent, false);
    assert.equal(event.sourceIPAddress, '127.0.0.1');
    assert.equal(event.userIdentity.type, 'Unknown');
  }

  const expired = only(refusalsOf(events, devices.expired, 'tls'), 'expired on MQTT/TLS');
  assert.equal(expired.errorCode, 'CERT_HAS_EXPIRED');
  assert.match(expired.errorMessage as string, /TLS handshake refused: CERT_HAS_EXPIRED/);
  assert.equal(expired.userIdentity.principalId, devices.expired.fingerprint);
  assert.deepEqual(expired.additionalEventData?.certificate, {
    certificateId: devices.expired.fingerprint,
    serialNumber: devices.expired.serial,
    fingerprintSha256: devices.expired.fingerprint,
    subject: 'CN=expired-device',
    issuer: 'CN=Fleet CA',
    validTo: new X509Certificate(devices.expired.certificatePem).validTo,
  });
  assert.equal(expired.additionalEventData?.stage, 'tls-handshake');
  assert.equal(expired.additionalEventData?.count, 1);
  assert.deepEqual(expired.additionalEventData?.serverNames, ['localhost']);
  assert.equal(expired.tlsDetails?.clientProvidedServerName, 'localhost');
  assert.match(expired.tlsDetails?.tlsVersion ?? '', /^TLSv1\.[23]$/);
  assert.ok(expired.tlsDetails?.cipherSuite, 'the cipher suite is recorded');
  // An unregistered certificate has no ARN and names no resource.
  assert.equal(expired.userIdentity.arn, undefined);
  assert.equal(expired.resources, undefined);

  const listed = only(refusalsOf(events, devices.listed, 'tls'), 'CRL-listed on MQTT/TLS');
  assert.equal(listed.errorCode, 'CERT_REVOKED');
  assert.equal(
    (listed.additionalEventData?.certificate as { fingerprintSha256: string }).fingerprintSha256,
    devices.listed.fingerprint,
  );
  assert.ok(listed.additionalEventData?.detail, 'the CRL is named');

  // Three refusals of one certificate from one address for one reason: one event, counted.
  const stranger = only(refusalsOf(events, devices.stranger, 'tls'), 'stranger on MQTT/TLS');
  assert.match(stranger.errorCode as string, /^UNABLE_TO_(GET_ISSUER_CERT|VERIFY_LEAF_SIGNATURE)/);
  assert.equal(stranger.additionalEventData?.count, 3);
  assert.ok(
    Date.parse(stranger.additionalEventData?.firstTime as string) <=
      Date.parse(stranger.additionalEventData?.lastTime as string),
  );
  assert.equal(stranger.tlsDetails?.clientProvidedServerName, 'devices.bulwark.test');
  assert.deepEqual(stranger.additionalEventData?.serverNames, ['devices.bulwark.test']);

  const wss = only(refusalsOf(events, devices.listed, 'wss'), 'CRL-listed on WSS');
  assert.equal(wss.errorCode, 'CERT_REVOKED');
  assert.equal(wss.additionalEventData?.stage, 'websocket-upgrade');
  assert.equal(wss.tlsDetails?.clientProvidedServerName, 'localhost');
  assert.match(wss.tlsDetails?.clientProvidedHostHeader ?? '', /^127\.0\.0\.1:\d+$/);

  const alpn = only(refusalsOf(events, devices.expired, 'alpn'), 'expired over ALPN');
  assert.equal(alpn.errorCode, 'CERT_HAS_EXPIRED');
  assert.equal(alpn.userAgent, 'MQTT over TLS (ALPN x-amzn-mqtt-ca)');

  assert.equal(refusalsOf(events, devices.good, 'tls').length, 0);
  // A signed URL with a wrong signature: named by its access key, never by anything secret.
  const signed = only(
    events.filter((event) => event.additionalEventData?.accessKeyId !== undefined),
    'the forged signed URL',
  );
  assert.equal(signed.userIdentity.accessKeyId, admin.accessKeyId);
  assert.match(signed.errorCode as string, /Signature/);
  assert.equal(signed.additionalEventData?.listener, 'wss');
  assert.equal(signed.additionalEventData?.stage, 'websocket-upgrade');
  assert.ok(!JSON.stringify(signed).includes(admin.secretAccessKey));

  const aborted = only(
    events.filter(
      (event) =>
        event.additionalEventData?.certificate === undefined &&
        event.additionalEventData?.accessKeyId === undefined,
    ),
    'the handshake OpenSSL aborted',
  );
  assert.equal(aborted.errorCode, 'ERR_SSL_NO_SHARED_CIPHER');
  assert.deepEqual(aborted.additionalEventData?.serverNames, ['localhost']);
  assert.equal(aborted.additionalEventData?.listener, 'tls');
  assert.equal(aborted.userIdentity.principalId, undefined);
});

test('UpdateCertificate to REVOKED cuts the live connection and records the cut-off; the next CONNECT is refused and recorded; 200 denied publishes make one summarised event', async (t) => {
  const server = await start(t);
  const url = `mqtts://127.0.0.1:${server.ready.mqtt}`;
  const tlsOptions = {
    ca: serverCa(dataDir),
    servername: 'localhost',
    protocolVersion: 5 as const,
  };
  const { client: victim } = await connectUrlWithInbox(t, url, {
    ...tlsOptions,
    cert: registered.certificatePem,
    key: registered.privateKeyPem,
    clientId: 'cut-off-device',
  });
  const iot = iotClient({ port: server.ready.api, dataDir });
  await iot.send(
    new UpdateCertificateCommand({
      certificateId: registered.certificateId,
      newStatus: 'REVOKED',
    }),
  );
  await eventually(() => !victim.connected, 'the revoked certificate is cut off', 1000);
  await assert.rejects(
    connectUrlWithInbox(t, url, {
      ...tlsOptions,
      cert: registered.certificatePem,
      key: registered.privateKeyPem,
      clientId: 'cut-off-device',
    }),
  );

  // The same certificate on the HTTPS data plane: refused (403) and recorded as such.
  const status = await new Promise<number>((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port: server.ready.api,
        path: '/topics/devices%2Fcut-off-device',
        method: 'POST',
        ca: serverCa(dataDir),
        servername: 'localhost',
        cert: registered.certificatePem,
        key: registered.privateKeyPem,
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end('x');
  });
  assert.equal(status, 403);

  const { client: hammer } = await connectUrlWithInbox(t, url, {
    ...tlsOptions,
    cert: devices.good.certificatePem,
    key: devices.good.privateKeyPem,
    clientId: 'hammer',
  });
  const started = Date.now();
  for (let i = 0; i < 200; i++)
    await assert.rejects(hammer.publishAsync(`forbidden/${i % 7}`, 'x', { qos: 1 }));
  assert.ok(Date.now() - started < 30_000, 'the flood took a few seconds');
  await hammer.publishAsync('devices/good-device', 'allowed', { qos: 1 });
  assert.equal(hammer.connected, true, 'an MQTT 5 client stays connected after denials');
  assert.equal(await stopServer(server), 0);

  const cutOff = only(
    (await eventsNamed('DisconnectCertificate')).filter(
      (event) => event.requestParameters?.certificateId === registered.certificateId,
    ),
    'the cut-off',
  );
  assert.equal(cutOff.eventSource, 'iot.amazonaws.com');
  assert.equal(cutOff.eventType, 'AwsServiceEvent');
  assert.equal(cutOff.userIdentity.type, 'Unknown');
  assert.equal(cutOff.userIdentity.principalId, registered.certificateId);
  assert.equal(cutOff.userIdentity.arn, registered.certificateArn);
  assert.deepEqual(cutOff.resources, [
    { ARN: registered.certificateArn, type: 'AWS::IoT::Certificate', accountId: '000000000000' },
  ]);
  assert.equal(cutOff.additionalEventData?.connectionsClosed, 1);
  assert.equal(cutOff.additionalEventData?.reason, 'certificate REVOKED');
  assert.equal(cutOff.additionalEventData?.certificateStatus, 'REVOKED');
  assert.deepEqual(cutOff.additionalEventData?.connections, [
    { clientId: 'cut-off-device', sourceIp: '127.0.0.1', listener: 'tls' },
  ]);
  assert.equal(cutOff.sourceIPAddress, '127.0.0.1');
  assert.equal(cutOff.tlsDetails?.clientProvidedServerName, 'localhost');

  const refusedConnect = only(
    (await eventsNamed('AuthenticationFailure')).filter(
      (event) => event.additionalEventData?.stage === 'mqtt-connect',
    ),
    'the refused CONNECT',
  );
  assert.equal(refusedConnect.errorCode, 'CERTIFICATE_REVOKED');
  assert.equal(refusedConnect.userIdentity.principalId, registered.certificateId);
  assert.equal(refusedConnect.userIdentity.arn, registered.certificateArn);
  assert.deepEqual(refusedConnect.requestParameters, { clientId: 'cut-off-device' });
  assert.equal(
    (refusedConnect.additionalEventData?.certificate as { serialNumber: string }).serialNumber,
    registered.serial,
  );

  const refusedRequest = only(
    (await eventsNamed('AuthenticationFailure')).filter(
      (event) => event.additionalEventData?.stage === 'https-request',
    ),
    'the refused HTTPS request',
  );
  assert.equal(refusedRequest.errorCode, 'CERTIFICATE_REVOKED');
  assert.equal(refusedRequest.userIdentity.principalId, registered.certificateId);
  assert.equal(refusedRequest.additionalEventData?.listener, 'https');
  assert.equal(refusedRequest.tlsDetails?.clientProvidedServerName, 'localhost');

  const denials = (await eventsNamed('AuthorizationFailure')).filter(
    (event) => event.additionalEventData?.clientId === 'hammer',
  );
  const summary = only(denials, 'the denials of the hammering client');
  assert.equal(summary.errorCode, 'AUTHORIZATION_FAILURE');
  assert.equal(summary.eventCategory, 'Data');
  assert.equal(summary.additionalEventData?.count, 200);
  const actions = summary.additionalEventData?.actions as Record<
    string,
    { count: number; resources: string[] }
  >;
  assert.deepEqual(Object.keys(actions), ['iot:Publish']);
  assert.equal(actions['iot:Publish']?.count, 200);
  // A sample of the topics, no payloads.
  assert.equal(actions['iot:Publish']?.resources.length, 5);
  for (const topic of actions['iot:Publish']?.resources ?? []) assert.match(topic, /^forbidden\//);
  assert.ok(!JSON.stringify(summary).includes('"x"'));
  assert.equal(summary.userIdentity.principalId, devices.good.fingerprint);
  assert.equal(summary.sourceIPAddress, '127.0.0.1');
  assert.equal(summary.tlsDetails?.clientProvidedServerName, 'localhost');
});

// ---- the summariser on its own -------------------------------------------------------------

function silentLogger(): Logger & { errors: unknown[] } {
  const errors: unknown[] = [];
  const logger = {
    errors,
    warn: () => undefined,
    info: () => undefined,
    error: (fields: unknown) => void errors.push(fields),
    child: () => logger,
  };
  return logger as unknown as Logger & { errors: unknown[] };
}

function refusal(sourceIp: string, reason: string): ConnectRefusal {
  return {
    origin: { sourceIp, listener: 'tls' },
    stage: 'tls-handshake',
    reason,
    certificate: { certificateId: 'ab'.repeat(32), serialNumber: '01' },
  };
}

function denial(clientId: string, topic: string): PolicyDenial {
  return {
    clientId,
    identity: { kind: 'certificate', principalId: 'cd'.repeat(32) },
    action: 'publish',
    resource: topic,
    origin: { sourceIp: '10.0.0.7', listener: 'tls' },
  };
}

test('the summariser: one event per key and window, written when the window is over or at close; later reports ignored', async () => {
  let now = 1_000_000;
  const written: AuditEvent[] = [];
  const events = new DeviceSecurityEvents({
    sink: { record: async (event) => void written.push(event) },
    logger: silentLogger(),
    accountId: '000000000000',
    windowMs: 60_000,
    checkEveryMs: 5,
    now: () => now,
  });
  for (let i = 0; i < 50; i++) events.connectRefused(refusal('10.0.0.1', 'CERT_REVOKED'));
  events.connectRefused(refusal('10.0.0.2', 'CERT_REVOKED'));
  events.connectRefused(refusal('10.0.0.1', 'CERT_HAS_EXPIRED'));
  for (let i = 0; i < 30; i++) events.policyDenied(denial('a', `t/${i}`));
  now += 30_000;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(written.length, 0, 'nothing is written before its minute is over');
  events.policyDenied(denial('a', 't/late'));
  now += 30_000;
  await new Promise((resolve) => setTimeout(resolve, 30));
  assert.equal(written.length, 4, 'each summary is written once its minute is over');
  const first = written.find(
    (event) =>
      event.errorCode === 'CERT_REVOKED' && event.additionalEventData?.sourceIp === '10.0.0.1',
  );
  assert.equal(first?.additionalEventData?.count, 50);
  const denied = written.find((event) => event.eventName === 'AuthorizationFailure');
  assert.equal(denied?.additionalEventData?.count, 31);
  assert.equal(denied?.additionalEventData?.firstTime, new Date(1_000_000).toISOString());
  assert.equal(denied?.additionalEventData?.lastTime, new Date(1_030_000).toISOString());
  assert.deepEqual(
    (denied?.additionalEventData?.actions as Record<string, { resources: string[] }>)['iot:Publish']
      ?.resources,
    ['t/0', 't/1', 't/2', 't/3', 't/4'],
  );

  // A new minute starts a new summary; close writes it without waiting.
  events.policyDenied(denial('a', 't/next'));
  await events.close();
  assert.equal(written.length, 5);
  assert.equal(written[4]?.additionalEventData?.count, 1);
  events.policyDenied(denial('a', 't/after-close'));
  events.connectRefused(refusal('10.0.0.1', 'CERT_REVOKED'));
  await events.flush();
  assert.equal(written.length, 5, 'nothing is recorded after close');
});

test('the summariser: a flood of distinct keys is written early rather than held without bound; a failed write is logged, not thrown', async () => {
  const written: AuditEvent[] = [];
  const logger = silentLogger();
  let fail = false;
  const events = new DeviceSecurityEvents({
    sink: {
      record: async (event) => {
        if (fail) throw new Error('disk full');
        written.push(event);
      },
    },
    logger,
    accountId: '000000000000',
    maxSummaries: 100,
  });
  for (let i = 0; i < 250; i++) events.connectRefused(refusal(`10.0.${i >> 8}.${i & 255}`, 'X'));
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(written.length, 200, 'two full sets of 100 were written early');
  fail = true;
  await events.close();
  assert.equal(written.length, 200);
  assert.equal(logger.errors.length, 50, 'each failed write is logged');
});
