// Operators' own CAs with CRLs and OCSP, end to end: one `bulwark serve` whose config names a CRL
// file for a registered CA, an expired and a badly signed CRL, a CRL on a local HTTPS server, an
// `openssl ocsp` responder and one that is down; devices connect with MQTT.js and mosquitto_pub.
// Every key, certificate and CRL is made here, in a temp dir; all traffic stays on 127.0.0.1.
import 'reflect-metadata';
import {
  AttachPolicyCommand,
  CreatePolicyCommand,
  GetRegistrationCodeCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import * as x509 from '@peculiar/x509';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { IClientOptions } from 'mqtt';
import { loadConfig } from '../../src/config/index.js';
import { iotClient, serverCa } from '../helpers/aws-api.js';
import {
  createTestCa,
  issueClientCertificate,
  issueOcspSigningCertificate,
  issueServerCertificate,
  writePems,
  type TestCa,
  type TestCertificate,
} from '../helpers/certificates.js';
import {
  EPHEMERAL_PORTS,
  fileCleanup,
  startServer,
  type Cleanup,
  type RunningServer,
} from '../helpers/cli.js';
import { connectUrlWithInbox } from '../helpers/mqtt-clients.js';
import { needCommand } from '../helpers/services.js';
import { tempDir } from '../helpers/temp.js';
import { issueByCa } from '../pki/helpers.js';

const files = fileCleanup();
const dir = tempDir(files, 'bulwark-revocation-');
const dataDir = join(dir, 'data');
const FLEET_POLICY = 'fleet';
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

let server: RunningServer;
let iot: IoTClient;
let unique = 0;

/** A CA made for this file, with its PEM on disk and the devices it issued. */
interface Ca extends TestCa {
  file: string;
}

interface Device extends TestCertificate {
  serial: string;
  fingerprint: string;
}

const cas = {} as Record<
  'registered' | 'expired' | 'badlySigned' | 'plain' | 'https' | 'ocsp' | 'ocspDown',
  Ca
>;
const devices = {} as Record<
  | 'listed'
  | 'unlisted'
  | 'toRevoke'
  | 'expiredCrl'
  | 'badCrl'
  | 'plain'
  | 'httpsListed'
  | 'httpsUnlisted'
  | 'ocspGood'
  | 'ocspRevoked'
  | 'ocspUnknown'
  | 'ocspDown',
  Device
>;
let registeredCrlFile: string;
let crlDownloads = 0;

async function makeCa(name: string): Promise<Ca> {
  const ca = await createTestCa(name);
  const file = join(dir, `${name.replace(/\W+/g, '-')}.ca.pem`);
  writeFileSync(file, ca.certificatePem);
  return { ...ca, file };
}

async function makeDevice(ca: Ca, extensions: x509.Extension[] = []): Promise<Device> {
  const certificate = await issueClientCertificate(ca, `device-${++unique}`, extensions);
  const parsed = new X509Certificate(certificate.certificatePem);
  return {
    ...certificate,
    serial: parsed.serialNumber,
    fingerprint: parsed.fingerprint256.replace(/:/g, '').toLowerCase(),
  };
}

/** A CRL `ca` signs (or `signer`, to make a forgery) listing `revoked`, current unless told. */
async function crlOf(
  ca: Ca,
  revoked: Device[],
  options: { thisUpdate?: Date; nextUpdate?: Date; signer?: TestCa } = {},
): Promise<x509.X509Crl> {
  const now = Date.now();
  return x509.X509CrlGenerator.create({
    issuer: ca.certificate.subject,
    thisUpdate: options.thisUpdate ?? new Date(now - 1000),
    nextUpdate: options.nextUpdate ?? new Date(now + 3_600_000),
    signingKey: (options.signer ?? ca).keys.privateKey as never,
    signingAlgorithm: SIGNING,
    entries: revoked.map((device) => ({
      serialNumber: device.serial,
      revocationDate: new Date(now - 1000),
      reason: x509.X509CrlReason.keyCompromise,
    })),
  });
}

/** `openssl ca`'s index format, which `openssl ocsp` answers from. */
function ocspIndexLine(device: Device, status: 'V' | 'R'): string {
  const expiry = '491231235959Z';
  const revokedAt = status === 'R' ? '240101000000Z,keyCompromise' : '';
  return [status, expiry, revokedAt, device.serial, 'unknown', '/CN=device'].join('\t');
}

/** A real OCSP responder (`openssl ocsp`) for `ca` on `port`, answering from `index`. */
async function startOcspResponder(ca: Ca, port: number, index: string[]): Promise<void> {
  const signer = await issueOcspSigningCertificate(ca, 'Test OCSP Responder');
  const pems = writePems(dir, 'ocsp-responder', signer);
  const indexFile = join(dir, 'ocsp-index.txt');
  writeFileSync(indexFile, index.map((line) => `${line}\n`).join(''));
  const responder = spawn(
    'openssl',
    [
      ...['ocsp', '-index', indexFile, '-port', String(port), '-CA', ca.file],
      ...['-rsigner', pems.cert, '-rkey', pems.key, '-ignore_err'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  files.after(() => responder.kill());
  await new Promise<void>((resolve, reject) => {
    let output = '';
    const read = (chunk: Buffer) => {
      output += chunk.toString();
      if (/ACCEPT /.test(output)) resolve();
    };
    responder.stdout.on('data', read);
    responder.stderr.on('data', read);
    responder.once('exit', (code) => reject(new Error(`openssl ocsp exited ${code}: ${output}`)));
  });
}

/** A port nothing listens on: bound, then released. */
async function closedPort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', () => resolve()));
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A local HTTPS CRL distribution point serving `crl` at /ca.crl (DER); its URL. */
async function startCrlServer(crl: x509.X509Crl): Promise<{ url: string; caFile: string }> {
  const webCa = await makeCa('Test Web CA');
  const identity = await issueServerCertificate(webCa, 'crl.localhost');
  const https = createHttpsServer(
    { cert: identity.certificatePem, key: identity.privateKeyPem },
    (request, response) => {
      if (request.url !== '/ca.crl') return void response.writeHead(404).end();
      crlDownloads += 1;
      response.writeHead(200, { 'content-type': 'application/pkix-crl' });
      response.end(Buffer.from(crl.rawData));
    },
  );
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', () => resolve()));
  files.after(() => new Promise<void>((resolve) => https.close(() => resolve())));
  return {
    url: `https://127.0.0.1:${(https.address() as AddressInfo).port}/ca.crl`,
    caFile: webCa.file,
  };
}

function caCertificateIdOf(ca: Ca): string {
  return createHash('sha256').update(new X509Certificate(ca.certificatePem).raw).digest('hex');
}

before(async () => {
  for (const [key, name] of [
    ['registered', 'Registered CA'],
    ['expired', 'Expired CRL CA'],
    ['badlySigned', 'Badly Signed CRL CA'],
    ['plain', 'Plain CA'],
    ['https', 'HTTPS CRL CA'],
    ['ocsp', 'OCSP CA'],
    ['ocspDown', 'OCSP Down CA'],
  ] as const)
    cas[key] = await makeCa(name);
  const ocspDownPort = await closedPort();
  Object.assign(devices, {
    listed: await makeDevice(cas.registered),
    unlisted: await makeDevice(cas.registered),
    toRevoke: await makeDevice(cas.registered),
    expiredCrl: await makeDevice(cas.expired),
    badCrl: await makeDevice(cas.badlySigned),
    plain: await makeDevice(cas.plain),
    httpsListed: await makeDevice(cas.https),
    httpsUnlisted: await makeDevice(cas.https),
    ocspDown: await makeDevice(cas.ocspDown),
  });
  // The OCSP CA's certificates name their responder (AIA), on a port picked for it.
  const ocspPort = await closedPort();
  const responderAia = new x509.AuthorityInfoAccessExtension({
    ocsp: `http://127.0.0.1:${ocspPort}/`,
  });
  devices.ocspGood = await makeDevice(cas.ocsp, [responderAia]);
  devices.ocspRevoked = await makeDevice(cas.ocsp, [responderAia]);
  devices.ocspUnknown = await makeDevice(cas.ocsp, [responderAia]);
  await startOcspResponder(cas.ocsp, ocspPort, [
    ocspIndexLine(devices.ocspGood, 'V'),
    ocspIndexLine(devices.ocspRevoked, 'R'),
  ]);

  registeredCrlFile = join(dir, 'registered.crl.pem');
  writeFileSync(registeredCrlFile, (await crlOf(cas.registered, [devices.listed])).toString('pem'));
  const expiredCrlFile = join(dir, 'expired.crl.pem');
  const day = 86_400_000;
  writeFileSync(
    expiredCrlFile,
    (
      await crlOf(cas.expired, [], {
        thisUpdate: new Date(Date.now() - 2 * day),
        nextUpdate: new Date(Date.now() - day),
      })
    ).toString('pem'),
  );
  const badCrlFile = join(dir, 'badly-signed.crl.pem');
  writeFileSync(
    badCrlFile,
    (await crlOf(cas.badlySigned, [], { signer: cas.plain })).toString('pem'),
  );
  const crlServer = await startCrlServer(await crlOf(cas.https, [devices.httpsListed]));

  const bundle = join(dir, 'device-cas.pem');
  writeFileSync(
    bundle,
    [cas.expired, cas.badlySigned, cas.plain, cas.https, cas.ocsp, cas.ocspDown]
      .map((ca) => ca.certificatePem)
      .join(''),
  );
  const configFile = join(dir, 'bulwark.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      mqtt: {
        deviceCaFile: bundle,
        deviceCaPolicy: FLEET_POLICY,
        alpnOnApiPort: true,
        revocation: [
          { ca: caCertificateIdOf(cas.registered), crl: registeredCrlFile },
          { ca: cas.expired.file, crl: expiredCrlFile },
          { ca: cas.badlySigned.file, crl: badCrlFile },
          { ca: cas.https.file, crl: crlServer.url },
          { ca: cas.ocsp.file, ocsp: 'aia', refreshSeconds: 10 },
          { ca: cas.ocspDown.file, ocsp: `http://127.0.0.1:${ocspDownPort}/` },
        ],
      },
    }),
  );
  server = await startServer(
    files,
    ['--data-dir', dataDir, '--config', configFile, ...EPHEMERAL_PORTS],
    // The CRL distribution point's certificate is from a CA made here: trusted as an operator
    // would trust a private PKI's web server.
    { env: { NODE_EXTRA_CA_CERTS: crlServer.caFile } },
  );
  iot = iotClient({ port: server.ready.api, dataDir });
  await iot.send(
    new CreatePolicyCommand({
      policyName: FLEET_POLICY,
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }],
      }),
    }),
  );
  // The registered CA and its devices, through the AWS API (the CA's CRL is configured by its id).
  const { registrationCode } = await iot.send(new GetRegistrationCodeCommand({}));
  await iot.send(
    new RegisterCACertificateCommand({
      caCertificate: cas.registered.certificatePem,
      verificationCertificate: await issueByCa(cas.registered, registrationCode as string),
      setAsActive: true,
    }),
  );
  for (const device of [devices.listed, devices.unlisted, devices.toRevoke]) {
    const registered = await iot.send(
      new RegisterCertificateCommand({
        certificatePem: device.certificatePem,
        caCertificatePem: cas.registered.certificatePem,
        setAsActive: true,
      }),
    );
    await iot.send(
      new AttachPolicyCommand({
        policyName: FLEET_POLICY,
        target: registered.certificateArn as string,
      }),
    );
  }
});

type Listener = 'mqtts' | 'wss' | 'alpn';

function connect(
  t: Cleanup,
  device: Device,
  listener: Listener = 'mqtts',
  extra: IClientOptions = {},
) {
  const url =
    listener === 'mqtts'
      ? `mqtts://127.0.0.1:${server.ready.mqtt}`
      : listener === 'wss'
        ? `wss://127.0.0.1:${server.ready.api}/mqtt`
        : `mqtts://127.0.0.1:${server.ready.api}`;
  return connectUrlWithInbox(t, url, {
    ca: serverCa(dataDir),
    cert: device.certificatePem,
    key: device.privateKeyPem,
    servername: 'localhost',
    protocolVersion: 5,
    clientId: `client-${++unique}`,
    ...(listener === 'alpn' ? { ALPNProtocols: ['x-amzn-mqtt-ca'] } : {}),
    ...extra,
  });
}

async function assertRefused(t: Cleanup, device: Device, listener: Listener = 'mqtts') {
  await assert.rejects(connect(t, device, listener), `${listener} connection refused`);
}

/** The server's JSON log lines. */
function logLines(): Record<string, unknown>[] {
  return server
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** The refusal logged for `device`'s certificate (waits a little: logs are written async). */
async function refusalOf(device: Device, message: string): Promise<Record<string, unknown>> {
  for (let tries = 0; tries < 40; tries += 1) {
    const line = logLines().find(
      (entry) => entry.msg === message && entry.serialNumber === device.serial,
    );
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return assert.fail(`no "${message}" logged for serial ${device.serial}`);
}

test('configuration: mqtt.revocation from a JSON environment variable; a bad source is named with its origin', () => {
  const config = loadConfig({
    env: { BULWARK_MQTT_REVOCATION: '[{"ca":"deviceCaFile","ocsp":"aia"}]' },
  });
  assert.deepEqual(config.mqtt.revocation, [
    { ca: 'deviceCaFile', ocsp: 'aia', refreshSeconds: 3600 },
  ]);
  assert.throws(
    () =>
      loadConfig({
        env: {
          BULWARK_MQTT_REVOCATION: '[{"ca":"deviceCaFile","crl":"http://crl.example/ca.crl"}]',
        },
      }),
    /mqtt\.revocation\.0\.crl .*\(from BULWARK_MQTT_REVOCATION\): a file path or an https:\/\/ URL/,
  );
  assert.throws(
    () => loadConfig({ env: { BULWARK_MQTT_REVOCATION: '[{"ca":"deviceCaFile"}]' } }),
    /a CRL \(crl\), an OCSP responder \(ocsp\), or both/,
  );
});

test("a registered CA's CRL file: the certificate it lists is refused at the handshake, logged as CERT_REVOKED", async (t) => {
  await connect(t, devices.unlisted);
  await assertRefused(t, devices.listed);
  const refusal = await refusalOf(devices.listed, 'TLS handshake refused');
  assert.equal(refusal.reason, 'CERT_REVOKED');
  assert.equal(refusal.fingerprint256, devices.listed.fingerprint);
  assert.equal(refusal.sni, 'localhost');
  assert.match(String(refusal.remoteAddress), /127\.0\.0\.1/);

  if (!needCommand(t, 'mosquitto_pub', 'apt-get install mosquitto-clients')) return;
  const pems = writePems(dir, 'listed', devices.listed);
  const caFile = join(dir, 'server-ca.pem');
  writeFileSync(caFile, serverCa(dataDir));
  const publish = spawnSync(
    'mosquitto_pub',
    [
      ...['-h', '127.0.0.1', '-p', String(server.ready.mqtt), '--cafile', caFile],
      ...['--cert', pems.cert, '--key', pems.key, '-i', 'listed', '-V', 'mqttv5'],
      ...['-t', 'fleet/t', '-m', 'hello', '-q', '1'],
    ],
    { encoding: 'utf8', timeout: 10_000 },
  );
  assert.notEqual(publish.status, 0, 'mosquitto_pub with a revoked certificate must fail');
});

test('a CRL rewritten to list a connected certificate cuts its live connection within seconds; it cannot reconnect', async (t) => {
  const { client } = await connect(t, devices.toRevoke);
  const bystander = await connect(t, devices.unlisted);
  // The close, or a failure once it is clearly late (never a hang).
  const closed = new Promise<number>((resolve, reject) => {
    const late = setTimeout(() => reject(new Error('the live connection was not cut')), 10_000);
    client.once('close', () => {
      clearTimeout(late);
      resolve(Date.now());
    });
  });
  const rewrittenAt = Date.now();
  writeFileSync(
    registeredCrlFile,
    (await crlOf(cas.registered, [devices.listed, devices.toRevoke])).toString('pem'),
  );
  const cutAfter = (await closed) - rewrittenAt;
  assert.ok(cutAfter < 5000, `cut off ${cutAfter} ms after the CRL was rewritten`);
  await assertRefused(t, devices.toRevoke);
  assert.equal((await refusalOf(devices.toRevoke, 'TLS handshake refused')).reason, 'CERT_REVOKED');
  assert.equal(bystander.client.connected, true, 'a certificate the CRL does not list stays');
});

test('an expired CRL refuses every certificate of its CA (fail closed); other CAs are unaffected', async (t) => {
  await assertRefused(t, devices.expiredCrl);
  const refusal = await refusalOf(devices.expiredCrl, 'TLS handshake refused');
  assert.equal(refusal.reason, 'CRL_HAS_EXPIRED');
  await connect(t, devices.plain);
});

test('a CRL not signed by its CA refuses every certificate of its CA (fail closed)', async (t) => {
  await assertRefused(t, devices.badCrl);
  const refusal = await refusalOf(devices.badCrl, 'TLS handshake refused');
  assert.equal(refusal.reason, 'CRL_SIGNATURE_FAILURE');
  await connect(t, devices.plain);
});

test('a CRL from an HTTPS URL: the certificate it lists is refused, the others accepted', async (t) => {
  assert.ok(crlDownloads >= 1, 'the CRL was downloaded from the HTTPS distribution point');
  await connect(t, devices.httpsUnlisted);
  await assertRefused(t, devices.httpsListed);
  assert.equal(
    (await refusalOf(devices.httpsListed, 'TLS handshake refused')).reason,
    'CERT_REVOKED',
  );
});

test("OCSP through the certificate's AIA: good is accepted, revoked and unknown are refused", async (t) => {
  await connect(t, devices.ocspGood);
  await assertRefused(t, devices.ocspRevoked);
  assert.equal(
    (await refusalOf(devices.ocspRevoked, 'TLS handshake refused')).reason,
    'CERT_REVOKED',
  );
  await assertRefused(t, devices.ocspUnknown);
  assert.equal(
    (await refusalOf(devices.ocspUnknown, 'TLS handshake refused')).reason,
    'OCSP_CERT_UNKNOWN',
  );
});

test('an OCSP responder that is down refuses its CA’s certificates (fail closed)', async (t) => {
  await assertRefused(t, devices.ocspDown);
  const refusal = await refusalOf(devices.ocspDown, 'TLS handshake refused');
  assert.equal(refusal.reason, 'OCSP_VERIFY_FAILED');
  assert.match(String(refusal.detail), /ECONNREFUSED/);
});

test('MQTT over WSS and over ALPN on the API port refuse a revoked certificate too', async (t) => {
  await connect(t, devices.unlisted, 'wss');
  await assertRefused(t, devices.listed, 'wss');
  assert.equal(
    (await refusalOf(devices.listed, 'WebSocket upgrade refused')).reason,
    'CERT_REVOKED',
  );
  await connect(t, devices.ocspGood, 'alpn');
  await assertRefused(t, devices.ocspRevoked, 'alpn');
  assert.equal(
    (await refusalOf(devices.ocspRevoked, 'MQTT over ALPN refused')).reason,
    'CERT_REVOKED',
  );
});

test('HTTPS publish with a client certificate: a revoked certificate is refused, a good one accepted', async () => {
  const publish = (device: Device) =>
    new Promise<number>((resolve, reject) => {
      const outgoing = httpsRequest(
        {
          host: '127.0.0.1',
          servername: 'localhost',
          port: server.ready.api,
          ca: serverCa(dataDir),
          cert: device.certificatePem,
          key: device.privateKeyPem,
          agent: false,
          method: 'POST',
          path: '/topics/fleet%2Fhttps?qos=1',
        },
        (response) => {
          response.resume();
          response.on('end', () => resolve(response.statusCode ?? 0));
        },
      );
      outgoing.on('error', reject);
      outgoing.end('hello');
    });
  assert.equal(await publish(devices.unlisted), 200);
  assert.equal(await publish(devices.listed), 403);
  assert.equal(
    (await refusalOf(devices.listed, 'HTTPS client certificate refused')).reason,
    'CERT_REVOKED',
  );
});
