// The shadow service with real clients and real devices: the AWS CLI and the AWS SDK on HTTPS, a
// device on mutual TLS under an IoT policy for its own shadow, the in-flight limit, independence
// from the registry, and the documents sealed at rest under the thing's own key.
import {
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreateThingCommand,
  DeleteThingCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import {
  GetThingShadowCommand,
  ListNamedShadowsForThingCommand,
  PublishCommand,
  UpdateThingShadowCommand,
  type IoTDataPlaneClient,
} from '@aws-sdk/client-iot-data-plane';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { iotClient, runAwsCli, needAwsCli, serverCa } from '../helpers/aws-api.js';
import {
  EPHEMERAL_PORTS_WITH_DEV,
  fileCleanup,
  runCli,
  startServer,
  stopServer,
  type RunningServer,
} from '../helpers/cli.js';
import { connectClient, connectUrlWithInbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';
import { dataPlaneClient } from './shadow-faces.js';

const files = fileCleanup();
const dir = tempDir(files, 'bulwark-shadow-clients-');
const dataDir = join(dir, 'data');
const home = join(dir, 'home');
let server: RunningServer;
let iot: IoTClient;
let data: IoTDataPlaneClient;

const account = 'arn:aws:iot:us-east-1:000000000000';

/** A device may use its own thing's shadows over MQTT, and nothing else. */
const OWN_SHADOW_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: 'iot:Connect',
      Resource: `${account}:client/\${iot:Connection.Thing.ThingName}`,
    },
    {
      Effect: 'Allow',
      Action: ['iot:Publish', 'iot:Receive'],
      Resource: `${account}:topic/$aws/things/\${iot:Connection.Thing.ThingName}/shadow/*`,
    },
    {
      Effect: 'Allow',
      Action: 'iot:Subscribe',
      Resource: `${account}:topicfilter/$aws/things/\${iot:Connection.Thing.ThingName}/shadow/*`,
    },
  ],
};

async function start(): Promise<void> {
  server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV]);
  iot = iotClient({ port: server.ready.api, dataDir });
  data = dataPlaneClient({ port: server.ready.api, dataDir });
}

function payload(document: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(document));
}

function parsed(bytes: Uint8Array | undefined): Record<string, unknown> {
  return JSON.parse(Buffer.from(bytes as Uint8Array).toString('utf8')) as Record<string, unknown>;
}

before(async () => {
  await start();
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'own-shadow',
      policyDocument: JSON.stringify(OWN_SHADOW_POLICY),
    }),
  );
});

test('the AWS CLI drives shadows: update, get, list named shadows, delete', (t) => {
  if (!needAwsCli(t)) return;
  const target = { port: server.ready.api, dataDir };
  const aws = (args: string[]) => runAwsCli(target, args, { home });
  const updated = aws([
    'iot-data',
    'update-thing-shadow',
    '--thing-name',
    'cli-lamp',
    '--cli-binary-format',
    'raw-in-base64-out',
    '--payload',
    '{"state":{"desired":{"on":true}}}',
    join(dir, 'updated.json'),
  ]);
  assert.equal(updated.status, 0, updated.stderr);
  assert.equal(
    (JSON.parse(readFileSync(join(dir, 'updated.json'), 'utf8')) as { version: number }).version,
    1,
  );
  for (const shadowName of ['b-config', 'a-firmware', 'c-network']) {
    const named = aws([
      'iot-data',
      'update-thing-shadow',
      '--thing-name',
      'cli-lamp',
      '--shadow-name',
      shadowName,
      '--cli-binary-format',
      'raw-in-base64-out',
      '--payload',
      '{"state":{"reported":{"ok":1}}}',
      join(dir, 'named.json'),
    ]);
    assert.equal(named.status, 0, named.stderr);
  }
  const got = aws([
    'iot-data',
    'get-thing-shadow',
    '--thing-name',
    'cli-lamp',
    join(dir, 'got.json'),
  ]);
  assert.equal(got.status, 0, got.stderr);
  const shadow = JSON.parse(readFileSync(join(dir, 'got.json'), 'utf8')) as {
    state: Record<string, unknown>;
  };
  assert.deepEqual(shadow.state, { desired: { on: true }, delta: { on: true } });

  const listed = aws(['iot-data', 'list-named-shadows-for-thing', '--thing-name', 'cli-lamp']);
  assert.equal(listed.status, 0, listed.stderr);
  assert.deepEqual((JSON.parse(listed.stdout) as { results: string[] }).results, [
    'a-firmware',
    'b-config',
    'c-network',
  ]);

  const deleted = aws([
    'iot-data',
    'delete-thing-shadow',
    '--thing-name',
    'cli-lamp',
    join(dir, 'deleted.json'),
  ]);
  assert.equal(deleted.status, 0, deleted.stderr);
  assert.equal(
    (JSON.parse(readFileSync(join(dir, 'deleted.json'), 'utf8')) as { version: number }).version,
    1,
  );
  const gone = aws([
    'iot-data',
    'get-thing-shadow',
    '--thing-name',
    'cli-lamp',
    join(dir, 'gone.json'),
  ]);
  assert.notEqual(gone.status, 0);
  assert.match(gone.stderr, /ResourceNotFoundException.*No shadow exists with name: 'cli-lamp'/);
});

test('ListNamedShadowsForThing pages with nextToken; an unknown thing has an empty list', async () => {
  for (const shadowName of ['s1', 's2', 's3', 's4', 's5'])
    await data.send(
      new UpdateThingShadowCommand({
        thingName: 'paged',
        shadowName,
        payload: payload({ state: { reported: { n: 1 } } }),
      }),
    );
  await data.send(
    new UpdateThingShadowCommand({ thingName: 'paged', payload: payload({ state: {} }) }),
  );
  const names: string[] = [];
  let nextToken: string | undefined;
  let pages = 0;
  do {
    const page = await data.send(
      new ListNamedShadowsForThingCommand({ thingName: 'paged', pageSize: 2, nextToken }),
    );
    names.push(...(page.results ?? []));
    nextToken = page.nextToken;
    pages++;
  } while (nextToken);
  assert.deepEqual(names, ['s1', 's2', 's3', 's4', 's5'], 'the classic shadow is not listed');
  assert.equal(pages, 3);
  const none = await data.send(new ListNamedShadowsForThingCommand({ thingName: 'nobody' }));
  assert.deepEqual(none.results, []);
});

test('a device on mutual TLS gets /update/delta after a REST update, reports over MQTT, and cannot touch another thing', async (t) => {
  const thingName = 'thermostat';
  await iot.send(new CreateThingCommand({ thingName }));
  const created = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  const certificateArn = created.certificateArn as string;
  await iot.send(new AttachThingPrincipalCommand({ thingName, principal: certificateArn }));
  await iot.send(new AttachPolicyCommand({ policyName: 'own-shadow', target: certificateArn }));
  const { client, messages } = await connectUrlWithInbox(
    t,
    `mqtts://127.0.0.1:${server.ready.mqtt}`,
    {
      ca: serverCa(dataDir),
      cert: created.certificatePem as string,
      key: created.keyPair?.PrivateKey as string,
      servername: 'localhost',
      protocolVersion: 5,
      clientId: thingName,
    },
  );
  const prefix = `$aws/things/${thingName}/shadow`;
  await client.subscribeAsync([`${prefix}/update/delta`, `${prefix}/update/accepted`], { qos: 1 });

  await data.send(
    new UpdateThingShadowCommand({
      thingName,
      payload: payload({ state: { desired: { target: 21 } } }),
    }),
  );
  const accepted = await messages.next();
  assert.equal(accepted.topic, `${prefix}/update/accepted`);
  const delta = await messages.next();
  assert.equal(delta.topic, `${prefix}/update/delta`);
  assert.deepEqual((JSON.parse(delta.payload.toString()) as { state: unknown }).state, {
    target: 21,
  });

  await client.publishAsync(
    `${prefix}/update`,
    JSON.stringify({ state: { reported: { target: 21 } } }),
    {
      qos: 1,
    },
  );
  const reported = JSON.parse((await messages.next()).payload.toString()) as { version: number };
  assert.equal(reported.version, 2);
  const shadow = parsed((await data.send(new GetThingShadowCommand({ thingName }))).payload);
  assert.deepEqual(shadow.state, { desired: { target: 21 }, reported: { target: 21 } });

  // Another thing's shadow: the publish is refused (MQTT 5 0x87) and nothing is written.
  await assert.rejects(
    client.publishAsync('$aws/things/other-thing/shadow/update', '{"state":{"desired":{"x":1}}}', {
      qos: 1,
    }),
    /Not authorized/i,
  );
  await assert.rejects(
    data.send(new GetThingShadowCommand({ thingName: 'other-thing' })),
    (error: Error) => error.name === 'ResourceNotFoundException',
  );
});

test('an HTTPS Publish on a shadow update topic is a shadow update, as over MQTT', async () => {
  await data.send(
    new PublishCommand({
      topic: '$aws/things/via-publish/shadow/name/cfg/update',
      qos: 1,
      payload: payload({ state: { reported: { fromPublish: true } } }),
    }),
  );
  let shadow: Record<string, unknown> | undefined;
  for (let attempt = 0; attempt < 100 && !shadow; attempt++) {
    shadow = await data
      .send(new GetThingShadowCommand({ thingName: 'via-publish', shadowName: 'cfg' }))
      .then(
        (answer) => parsed(answer.payload),
        () => undefined,
      );
    if (!shadow) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  assert.deepEqual(shadow?.state, { reported: { fromPublish: true } });
});

/** A request over HTTPS with a client certificate and no signature, as a device makes one. */
function deviceRequest(
  method: string,
  path: string,
  identity: { cert: string; key: string },
  body?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(
      {
        host: '127.0.0.1',
        port: server.ready.api,
        method,
        path,
        ca: serverCa(dataDir),
        servername: 'localhost',
        cert: identity.cert,
        key: identity.key,
        headers: body ? { 'content-type': 'application/json' } : {},
      },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve({ status: response.statusCode as number, body: text }));
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

test('a device with a certificate uses the shadow REST API as its IoT policy allows: its own shadow only', async () => {
  await iot.send(
    new CreatePolicyCommand({
      policyName: 'rest-shadow',
      policyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: ['iot:GetThingShadow', 'iot:UpdateThingShadow'],
            Resource: [`${account}:thing/rest-device`, `${account}:thing/rest-device/*`],
          },
        ],
      }),
    }),
  );
  const created = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
  await iot.send(
    new AttachPolicyCommand({
      policyName: 'rest-shadow',
      target: created.certificateArn as string,
    }),
  );
  const identity = {
    cert: created.certificatePem as string,
    key: created.keyPair?.PrivateKey as string,
  };
  const own = await deviceRequest(
    'POST',
    '/things/rest-device/shadow?name=cfg',
    identity,
    '{"state":{"reported":{"rest":true}}}',
  );
  assert.equal(own.status, 200, own.body);
  assert.equal((JSON.parse(own.body) as { version: number }).version, 1);
  const read = await deviceRequest('GET', '/things/rest-device/shadow?name=cfg', identity);
  assert.equal(read.status, 200, read.body);
  assert.deepEqual((JSON.parse(read.body) as { state: unknown }).state, {
    reported: { rest: true },
  });
  const other = await deviceRequest(
    'POST',
    '/things/someone-else/shadow',
    identity,
    '{"state":{"reported":{"x":1}}}',
  );
  assert.equal(other.status, 403, other.body);
  const remove = await deviceRequest('DELETE', '/things/rest-device/shadow?name=cfg', identity);
  assert.equal(remove.status, 403, 'iot:DeleteThingShadow is not in the policy');
});

test("shadows are independent of the registry: DeleteThing leaves the thing's shadows", async () => {
  await iot.send(new CreateThingCommand({ thingName: 'short-lived' }));
  await data.send(
    new UpdateThingShadowCommand({
      thingName: 'short-lived',
      payload: payload({ state: { reported: { a: 1 } } }),
    }),
  );
  await iot.send(new DeleteThingCommand({ thingName: 'short-lived' }));
  const shadow = parsed(
    (await data.send(new GetThingShadowCommand({ thingName: 'short-lived' }))).payload,
  );
  assert.deepEqual(shadow.state, { reported: { a: 1 } });
});

test('more than 10 shadow requests in progress on one connection are rejected with 429', async (t) => {
  const publisher = await connectClient(t, server.ready.dev as number, { clientId: 'burst' });
  const observer = await connectClient(t, server.ready.dev as number, {
    clientId: 'burst-observer',
  });
  const prefix = '$aws/things/burst/shadow/update';
  const answers: {
    topic: string;
    body: { code?: number; version?: number; clientToken: string };
  }[] = [];
  observer.on('message', (topic, body) =>
    answers.push({ topic, body: JSON.parse(body.toString()) }),
  );
  await observer.subscribeAsync([`${prefix}/accepted`, `${prefix}/rejected`], { qos: 1 });
  const requests = 60;
  // QoS 0, written at once: they arrive together and are taken while the first are in progress.
  for (let index = 0; index < requests; index++)
    publisher.publish(
      prefix,
      JSON.stringify({ state: { reported: { [`f${index}`]: index } }, clientToken: `b${index}` }),
    );
  const deadline = Date.now() + 10_000;
  while (answers.length < requests && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 20));
  assert.equal(answers.length, requests, 'every request is answered');
  const throttled = answers.filter((answer) => answer.topic.endsWith('/rejected'));
  assert.ok(throttled.length > 0, 'some requests were over the limit');
  for (const answer of throttled) assert.equal(answer.body.code, 429);
  const versions = answers
    .filter((answer) => answer.topic.endsWith('/accepted'))
    .map((answer) => answer.body.version as number)
    .sort((a, b) => a - b);
  assert.deepEqual(
    versions,
    Array.from({ length: versions.length }, (_, index) => index + 1),
  );
});

test("shadow documents are sealed at rest and erased with the thing's key", async () => {
  const marker = 'plaintext-marker-7f3a9c';
  for (const thingName of ['kept', 'erased'])
    await data.send(
      new UpdateThingShadowCommand({
        thingName,
        shadowName: 'secrets',
        payload: payload({ state: { reported: { note: `${marker}-${thingName}` } } }),
      }),
    );
  await data.send(
    new UpdateThingShadowCommand({
      thingName: 'erased',
      payload: payload({ state: { reported: { n: 1 } } }),
    }),
  );
  await stopServer(server);
  const database = join(dataDir, 'db', 'bulwark.db');
  const bytes = Buffer.concat(
    [database, `${database}-wal`]
      .filter((path) => existsSync(path))
      .map((path) => readFileSync(path)),
  );
  assert.ok(bytes.length > 0);
  assert.equal(bytes.includes(Buffer.from(marker)), false, 'no shadow value in the database file');

  const erased = runCli(['kms', 'erase-scope', '--scope', 'thing/erased', '--data-dir', dataDir]);
  assert.equal(erased.status, 0, erased.stderr);
  await start();
  for (const shadowName of ['secrets', undefined])
    await assert.rejects(
      data.send(
        new GetThingShadowCommand({ thingName: 'erased', ...(shadowName ? { shadowName } : {}) }),
      ),
      (error: Error) => error.name === 'ResourceNotFoundException',
    );
  const kept = parsed(
    (await data.send(new GetThingShadowCommand({ thingName: 'kept', shadowName: 'secrets' })))
      .payload,
  );
  assert.deepEqual(kept.state, { reported: { note: `${marker}-kept` } });
});
