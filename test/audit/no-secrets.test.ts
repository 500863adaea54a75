import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  CreateAccessKeyCommand,
  CreateLoginProfileCommand,
  CreateUserCommand,
  CreateVirtualMFADeviceCommand,
  EnableMFADeviceCommand,
  IAMClient,
} from '@aws-sdk/client-iam';
import { CreateKeysAndCertificateCommand, CreateThingCommand } from '@aws-sdk/client-iot';
import {
  IoTDataPlaneClient,
  PublishCommand,
  UpdateThingShadowCommand,
} from '@aws-sdk/client-iot-data-plane';
import { GetSessionTokenCommand, STSClient } from '@aws-sdk/client-sts';
import { generateSync } from 'otplib';
import { adminCredentials, iotClient, sdkClientConfig, serverCa } from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS_WITH_DEV, runCli, startServer, stopServer } from '../helpers/cli.js';
import { connectWithInbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';

/**
 * Secrets and payloads never reach the operational log, the device log file, the audit trail
 * (its export) or the raw database: a server run handles each kind of secret Bulwark sees and
 * device payloads carrying markers, then every byte written is searched for them.
 */

function postJson(port: number, ca: string, path: string, body: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'POST',
        ca,
        servername: 'localhost',
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
      },
      (response) => {
        response.resume();
        response.on('end', () => resolve(response.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

/** Every file under `dir`, with its bytes. */
function filesUnder(dir: string): { path: string; bytes: Buffer }[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [{ path, bytes: readFileSync(path) }];
  });
}

test('no secret and no payload is in the logs, the audit export or the raw database', async (t) => {
  const dir = tempDir(t, 'bulwark-secrets-');
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'device.log');
  const server = await startServer(
    t,
    ['--data-dir', dataDir, '--host', '127.0.0.1', ...EPHEMERAL_PORTS_WITH_DEV],
    {
      env: {
        BULWARK_LOG_LEVEL: 'DEBUG',
        BULWARK_LOG_DEVICE_LEVEL: 'DEBUG',
        BULWARK_LOG_FILE: logFile,
        BULWARK_IAM_REQUIRE_MFA_FOR_CONSOLE: 'false',
        BULWARK_IAM_PASSWORD_SCRYPT_LOG_N: '14',
      },
    },
  );
  const target = { port: server.ready.api, dataDir };
  const admin = adminCredentials(dataDir);
  const secrets: Record<string, string> = { adminSecretAccessKey: admin.secretAccessKey };

  // Device credentials: a private key is returned once.
  const iot = iotClient(target);
  const keys = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const privateKey = keys.keyPair?.PrivateKey as string;
  secrets.devicePrivateKey = privateKey.split('\n').slice(2, 3).join('');

  // An operator's access key, password and MFA seed; temporary credentials.
  const iam = new IAMClient(sdkClientConfig(target, admin));
  await iam.send(new CreateUserCommand({ UserName: 'carol' }));
  const accessKey = await iam.send(new CreateAccessKeyCommand({ UserName: 'carol' }));
  secrets.carolSecretAccessKey = accessKey.AccessKey?.SecretAccessKey as string;
  const password = `Marker-Password-${randomBytes(9).toString('base64url')}`;
  secrets.password = password;
  await iam.send(new CreateLoginProfileCommand({ UserName: 'carol', Password: password }));
  // Console sign-in, before the user has MFA: once right, once with a wrong password that is a
  // secret too.
  const ca = serverCa(dataDir);
  assert.equal(
    await postJson(server.ready.api, ca, '/console/sign-in', { userName: 'carol', password }),
    200,
  );
  const wrong = `Marker-Wrong-${randomBytes(9).toString('base64url')}`;
  secrets.wrongPassword = wrong;
  assert.equal(
    await postJson(server.ready.api, ca, '/console/sign-in', {
      userName: 'carol',
      password: wrong,
    }),
    401,
  );
  const device = await iam.send(
    new CreateVirtualMFADeviceCommand({ VirtualMFADeviceName: 'carol' }),
  );
  const seed = Buffer.from(device.VirtualMFADevice?.Base32StringSeed as Uint8Array).toString(
    'utf8',
  );
  secrets.mfaSeed = seed;
  const serialNumber = device.VirtualMFADevice?.SerialNumber as string;
  const step = Math.floor(Date.now() / 30_000);
  const code = (at: number) => generateSync({ secret: seed, strategy: 'hotp', counter: at });
  await iam.send(
    new EnableMFADeviceCommand({
      UserName: 'carol',
      SerialNumber: serialNumber,
      AuthenticationCode1: code(step - 1),
      AuthenticationCode2: code(step),
    }),
  );
  const sts = new STSClient(
    sdkClientConfig(target, {
      accessKeyId: accessKey.AccessKey?.AccessKeyId as string,
      secretAccessKey: secrets.carolSecretAccessKey,
    }),
  );
  const session = await sts.send(
    new GetSessionTokenCommand({ SerialNumber: serialNumber, TokenCode: code(step + 1) }),
  );
  secrets.sessionToken = session.Credentials?.SessionToken as string;
  secrets.sessionSecret = session.Credentials?.SecretAccessKey as string;

  // Device payloads, over MQTT, the HTTPS data plane and a shadow update.
  const payloads = {
    mqtt: `Marker-Mqtt-${randomBytes(9).toString('base64url')}`,
    https: `Marker-Https-${randomBytes(9).toString('base64url')}`,
    shadow: `Marker-Shadow-${randomBytes(9).toString('base64url')}`,
  };
  await iot.send(new CreateThingCommand({ thingName: 'meter' }));
  const { client, messages } = await connectWithInbox(t, server.ready.dev as number, {
    clientId: 'meter',
  });
  await client.subscribeAsync('meters/#', { qos: 1 });
  await client.publishAsync('meters/1', payloads.mqtt, { qos: 1 });
  const data = new IoTDataPlaneClient(sdkClientConfig(target, admin));
  await data.send(
    new PublishCommand({ topic: 'meters/2', qos: 1, payload: Buffer.from(payloads.https) }),
  );
  await data.send(
    new UpdateThingShadowCommand({
      thingName: 'meter',
      payload: Buffer.from(JSON.stringify({ state: { reported: { note: payloads.shadow } } })),
    }),
  );
  // The markers did go through: the subscriber saw both messages.
  const seen = [await messages.next(), await messages.next()].map((message) =>
    message.payload.toString(),
  );
  assert.deepEqual(seen.sort(), [payloads.mqtt, payloads.https].sort());
  client.end();

  assert.equal(await stopServer(server), 0, server.stderr());
  const exportFile = join(dir, 'audit.jsonl');
  const exported = runCli(['audit', 'export', '--data-dir', dataDir, '--output', exportFile]);
  assert.equal(exported.status, 0, exported.stderr);
  const trail = readFileSync(exportFile, 'utf8');
  // The trail is not empty of what matters: these calls are in it.
  for (const eventName of [
    'CreateKeysAndCertificate',
    'CreateAccessKey',
    'CreateLoginProfile',
    'GetSessionToken',
    'ConsoleLogin',
    'Publish',
    'UpdateThingShadow',
  ])
    assert.ok(
      trail.includes(`"eventName":"${eventName}"`),
      `${eventName} is audited: ${[...new Set(trail.match(/"eventName":"[A-Za-z]+"/g))].join(' ')}`,
    );
  assert.ok(trail.includes('HIDDEN_DUE_TO_SECURITY_REASONS'));

  const places = [
    { path: 'stderr (operational and device log)', bytes: Buffer.from(server.stderr()) },
    { path: 'the audit export', bytes: Buffer.from(trail) },
    ...filesUnder(dir).filter(
      (file) => file.path !== exportFile && !file.path.endsWith('admin-credentials.json'),
    ),
  ];
  assert.ok(
    places.some((place) => place.path.endsWith('bulwark.db')),
    'the raw database is searched',
  );
  assert.ok(
    places.some((place) => place.path === logFile),
    'the device log file is searched',
  );
  const found: string[] = [];
  for (const [name, value] of Object.entries({ ...secrets, ...payloads })) {
    assert.ok(value.length >= 16, `${name} is a meaningful marker`);
    for (const place of places)
      if (place.bytes.includes(value)) found.push(`${name} in ${place.path}`);
  }
  assert.deepEqual(found, []);
});
