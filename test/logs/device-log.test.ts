// Device logs in AWS IoT's shape, driven by real clients: the v2 logging API through
// `@aws-sdk/client-iot`, devices through MQTT.js on the dev listener, and the entries read back
// from the server's stderr and its rotating log file.
import {
  AddThingToThingGroupCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteV2LoggingLevelCommand,
  GetV2LoggingOptionsCommand,
  ListV2LoggingLevelsCommand,
  SetV2LoggingLevelCommand,
  SetV2LoggingOptionsCommand,
  type IoTClient,
  type LogTargetType,
} from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { MqttClient } from 'mqtt';
import { iotClient, type ApiTarget } from '../helpers/aws-api.js';
import {
  EPHEMERAL_PORTS_WITH_DEV,
  fileCleanup,
  startServer,
  stopServer,
  type RunningServer,
} from '../helpers/cli.js';
import { connectClient, inbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

const files = fileCleanup();
const ACCOUNT_ID = '123456789012';
const root = tempDir(files, 'bulwark-logs-');
const dataDir = join(root, 'data');
const logFile = join(root, 'logs', 'device.log');
const MAX_FILE_BYTES = 4096;
const MAX_FILES = 2;
const env = {
  BULWARK_ACCOUNT_ID: ACCOUNT_ID,
  BULWARK_LOG_DEVICE_LEVEL: 'WARN',
  BULWARK_LOG_FILE: logFile,
  BULWARK_LOG_MAX_FILE_BYTES: String(MAX_FILE_BYTES),
  BULWARK_LOG_MAX_FILES: String(MAX_FILES),
};
const serve = () =>
  startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV], { env });
let server: RunningServer = await serve();
let target: ApiTarget = { port: server.ready.api, dataDir };
let iot: IoTClient = iotClient(target);
const devPort = () => server.ready.dev as number;

/** Markers put in every payload; none may ever reach a log. */
const PAYLOAD_MARKERS: string[] = [];
let unique = 0;
const id = (name: string) => `${name}-${process.pid}-${++unique}`;
const payload = () => {
  const marker = `PAYLOAD-MARKER-${process.pid}-${++unique}`;
  PAYLOAD_MARKERS.push(marker);
  return `{"secret":"${marker}"}`;
};

interface Entry {
  timestamp: string;
  logLevel: string;
  traceId: string;
  accountId: string;
  status: string;
  eventType: string;
  protocol: string;
  topicName?: string;
  clientId: string;
  principalId?: string;
  sourceIp: string;
  sourcePort?: number;
  reason?: string;
  details?: string;
  disconnectReason?: string;
  deviceShadowName?: string;
}

/** Every device log entry the server wrote on stderr so far (its other lines are pino's). */
function entries(): Entry[] {
  return server
    .stderr()
    .split('\n')
    .filter((line) => line.startsWith('{') && line.includes('"eventType"'))
    .map((line) => JSON.parse(line) as Entry);
}

const entriesOf = (clientId: string, eventType?: string) =>
  entries().filter(
    (entry) => entry.clientId === clientId && (!eventType || entry.eventType === eventType),
  );

async function sdkError(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    return error as Error & { $metadata: { httpStatusCode?: number } };
  }
  assert.fail('the call succeeded');
}

async function assertInvalid(promise: Promise<unknown>, message: RegExp) {
  const error = await sdkError(promise);
  assert.equal(error.name, 'InvalidRequestException', error.message);
  assert.equal(error.$metadata.httpStatusCode, 400);
  assert.match(error.message, message);
}

const setDefault = (defaultLogLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'DISABLED') =>
  iot.send(new SetV2LoggingOptionsCommand({ defaultLogLevel, disableAllLogs: false }));

const setLevel = (
  targetType: LogTargetType,
  targetName: string,
  logLevel: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'DISABLED',
) => iot.send(new SetV2LoggingLevelCommand({ logTarget: { targetType, targetName }, logLevel }));

async function publishAndSettle(client: MqttClient, topic: string): Promise<void> {
  await client.publishAsync(topic, payload(), { qos: 1 });
}

/** Waits until the server has written a Publish-In for a marker topic, so "nothing logged" checks are not early. */
async function fence(): Promise<void> {
  const clientId = id('fence');
  await setLevel('CLIENT_ID', clientId, 'DEBUG');
  const client = await connectClient(files, devPort(), { clientId });
  await publishAndSettle(client, `fence/${clientId}`);
  await eventually(() => entriesOf(clientId, 'Publish-In').length > 0, 'the fence entry');
  client.end(true);
}

test('GetV2LoggingOptions gives the configured log.deviceLevel until SetV2LoggingOptions changes it', async () => {
  const before = await iot.send(new GetV2LoggingOptionsCommand({}));
  assert.equal(before.defaultLogLevel, 'WARN');
  assert.equal(before.disableAllLogs, false);
  assert.equal(before.roleArn, undefined);

  const roleArn = `arn:aws:iam::${ACCOUNT_ID}:role/service-role/iotLoggingRole`;
  await iot.send(new SetV2LoggingOptionsCommand({ roleArn, defaultLogLevel: 'ERROR' }));
  const after = await iot.send(new GetV2LoggingOptionsCommand({}));
  assert.equal(after.roleArn, roleArn);
  assert.equal(after.defaultLogLevel, 'ERROR');
  assert.equal(after.disableAllLogs, false);

  // Omitted members keep the role and the level; disableAllLogs defaults to false.
  await iot.send(new SetV2LoggingOptionsCommand({ disableAllLogs: true }));
  assert.deepEqual(
    { ...(await iot.send(new GetV2LoggingOptionsCommand({}))), $metadata: undefined },
    { roleArn, defaultLogLevel: 'ERROR', disableAllLogs: true, $metadata: undefined },
  );
  await iot.send(new SetV2LoggingOptionsCommand({}));
  assert.equal((await iot.send(new GetV2LoggingOptionsCommand({}))).disableAllLogs, false);
});

test('SetV2LoggingLevel, ListV2LoggingLevels (filtered, paged) and DeleteV2LoggingLevel', async () => {
  await setDefault('ERROR');
  const clientId = id('listed');
  await setLevel('CLIENT_ID', clientId, 'INFO');
  await setLevel('SOURCE_IP', '::FFFF:192.0.2.7', 'WARN');
  await setLevel('PRINCIPAL_ID', 'a'.repeat(64), 'DEBUG');
  await setLevel('THING_GROUP', 'listed-group', 'DEBUG');

  const all = await iot.send(new ListV2LoggingLevelsCommand({ maxResults: 250 }));
  const configurations = all.logTargetConfigurations ?? [];
  assert.deepEqual(configurations[0], { logTarget: { targetType: 'DEFAULT' }, logLevel: 'ERROR' });
  const find = (type: string, name: string) =>
    configurations.find((c) => c.logTarget?.targetType === type && c.logTarget.targetName === name)
      ?.logLevel;
  assert.equal(find('CLIENT_ID', clientId), 'INFO');
  // An IPv4-mapped address is kept as sockets report it.
  assert.equal(find('SOURCE_IP', '192.0.2.7'), 'WARN');
  assert.equal(find('PRINCIPAL_ID', 'a'.repeat(64)), 'DEBUG');
  assert.equal(find('THING_GROUP', 'listed-group'), 'DEBUG');

  const onlyIps = await iot.send(new ListV2LoggingLevelsCommand({ targetType: 'SOURCE_IP' }));
  assert.ok((onlyIps.logTargetConfigurations ?? []).length >= 1);
  assert.ok(
    (onlyIps.logTargetConfigurations ?? []).every((c) => c.logTarget?.targetType === 'SOURCE_IP'),
  );

  // One at a time, every configuration exactly once.
  const paged: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await iot.send(new ListV2LoggingLevelsCommand({ maxResults: 1, nextToken }));
    assert.ok((page.logTargetConfigurations ?? []).length <= 1);
    for (const c of page.logTargetConfigurations ?? [])
      paged.push(`${c.logTarget?.targetType}/${c.logTarget?.targetName ?? ''}`);
    nextToken = page.nextToken;
  } while (nextToken);
  assert.equal(paged.length, configurations.length);
  assert.equal(new Set(paged).size, paged.length);

  // Setting a target again changes its level; deleting removes it; deleting again is no error.
  await setLevel('CLIENT_ID', clientId, 'DEBUG');
  const changed = await iot.send(new ListV2LoggingLevelsCommand({ targetType: 'CLIENT_ID' }));
  assert.equal(
    changed.logTargetConfigurations?.find((c) => c.logTarget?.targetName === clientId)?.logLevel,
    'DEBUG',
  );
  await iot.send(
    new DeleteV2LoggingLevelCommand({ targetType: 'CLIENT_ID', targetName: clientId }),
  );
  await iot.send(
    new DeleteV2LoggingLevelCommand({ targetType: 'CLIENT_ID', targetName: clientId }),
  );
  const deleted = await iot.send(new ListV2LoggingLevelsCommand({ targetType: 'CLIENT_ID' }));
  assert.equal(
    deleted.logTargetConfigurations?.find((c) => c.logTarget?.targetName === clientId),
    undefined,
  );

  // DEFAULT through SetV2LoggingLevel is the default level.
  await setLevel('DEFAULT', '', 'WARN');
  assert.equal((await iot.send(new GetV2LoggingOptionsCommand({}))).defaultLogLevel, 'WARN');
  await setDefault('ERROR');
});

test('the v2 logging calls refuse bad input with InvalidRequestException', async () => {
  await assertInvalid(
    iot.send(new SetV2LoggingOptionsCommand({ defaultLogLevel: 'LOUD' as unknown as 'DEBUG' })),
    /defaultLogLevel.*enum value set: \[DEBUG, INFO, ERROR, WARN, DISABLED\]/,
  );
  await assertInvalid(
    iot.send(new SetV2LoggingOptionsCommand({ roleArn: 'not-an-arn' })),
    /roleArn/,
  );
  await assertInvalid(
    iot.send(new SetV2LoggingOptionsCommand({ eventConfigurations: [{ eventType: 'Connect' }] })),
    /eventConfigurations/,
  );
  await assertInvalid(
    iot.send(
      new SetV2LoggingLevelCommand({
        logTarget: { targetType: 'CLIENT_ID', targetName: 'x' },
        logLevel: 'VERBOSE' as unknown as 'DEBUG',
      }),
    ),
    /logLevel/,
  );
  await assertInvalid(
    iot.send(
      new SetV2LoggingLevelCommand({
        logTarget: { targetType: 'THING' as LogTargetType, targetName: 'x' },
        logLevel: 'INFO',
      }),
    ),
    /logTarget\.targetType.*enum value set/,
  );
  await assertInvalid(
    iot.send(
      new SetV2LoggingLevelCommand({ logTarget: { targetType: 'CLIENT_ID' }, logLevel: 'INFO' }),
    ),
    /targetName is required/,
  );
  await assertInvalid(setLevel('SOURCE_IP', '10.0.0.300', 'INFO'), /IPv4 or IPv6/);
  await assertInvalid(setLevel('THING_GROUP', 'no spaces allowed', 'INFO'), /regular expression/);
  await assertInvalid(setLevel('CLIENT_ID', 'c'.repeat(129), 'INFO'), /length less than/);
  await assertInvalid(
    iot.send(new ListV2LoggingLevelsCommand({ maxResults: 251 })),
    /maxResults.*less than or equal to 250/,
  );
  await assertInvalid(
    iot.send(new ListV2LoggingLevelsCommand({ maxResults: 0 })),
    /maxResults.*greater than or equal to 1/,
  );
  await assertInvalid(
    iot.send(new ListV2LoggingLevelsCommand({ nextToken: 'bm90LWEtdG9rZW4' })),
    /nextToken is not valid/,
  );
  await assertInvalid(
    iot.send(new DeleteV2LoggingLevelCommand({ targetType: 'DEFAULT', targetName: 'x' })),
    /DEFAULT log level cannot be deleted/,
  );
});

test('a CLIENT_ID level at DEBUG logs that client in AWS IoT entries while another client stays quiet', async (t) => {
  await setDefault('ERROR');
  const loud = id('loud');
  const quiet = id('quiet');
  await setLevel('CLIENT_ID', loud, 'DEBUG');
  const loudClient = await connectClient(t, devPort(), { clientId: loud, protocolVersion: 5 });
  const quietClient = await connectClient(t, devPort(), { clientId: quiet });
  const loudInbox = inbox(loudClient);
  await loudClient.subscribeAsync(`logs/${loud}/#`, { qos: 1 });
  await quietClient.subscribeAsync(`logs/${loud}/#`, { qos: 1 });
  await publishAndSettle(loudClient, `logs/${loud}/own`);
  await publishAndSettle(quietClient, `logs/${loud}/from-quiet`);
  await loudInbox.next();
  await loudInbox.next();

  await eventually(
    () => entriesOf(loud, 'Publish-Out').length >= 2,
    "the loud client's Publish-Out entries",
  );
  const [connect] = entriesOf(loud, 'Connect');
  assert.ok(connect, 'a Connect entry');
  assert.match(connect.timestamp, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/);
  assert.ok(Math.abs(Date.parse(`${connect.timestamp.replace(' ', 'T')}Z`) - Date.now()) < 60_000);
  assert.match(connect.traceId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  assert.deepEqual(
    {
      logLevel: connect.logLevel,
      accountId: connect.accountId,
      status: connect.status,
      protocol: connect.protocol,
      principalId: connect.principalId,
      sourceIp: connect.sourceIp,
      sourcePort: connect.sourcePort,
    },
    {
      logLevel: 'INFO',
      accountId: ACCOUNT_ID,
      status: 'Success',
      protocol: 'MQTT',
      principalId: 'dev',
      sourceIp: '127.0.0.1',
      sourcePort: (loudClient.stream as unknown as { localPort: number }).localPort,
    },
  );
  assert.deepEqual(
    entriesOf(loud, 'Subscribe').map((entry) => entry.topicName),
    [`logs/${loud}/#`],
  );
  const publishIn = entriesOf(loud, 'Publish-In');
  assert.deepEqual(
    publishIn.map((entry) => [entry.topicName, entry.status, entry.logLevel]),
    [[`logs/${loud}/own`, 'Success', 'INFO']],
  );
  const publishOut = entriesOf(loud, 'Publish-Out');
  assert.deepEqual(publishOut.map((entry) => entry.topicName).sort(), [
    `logs/${loud}/from-quiet`,
    `logs/${loud}/own`,
  ]);
  // A message's Publish-In and Publish-Out carry one traceId; another message has its own.
  const ownOut = publishOut.find((entry) => entry.topicName === `logs/${loud}/own`);
  const otherOut = publishOut.find((entry) => entry.topicName === `logs/${loud}/from-quiet`);
  assert.equal(ownOut?.traceId, publishIn[0]?.traceId);
  assert.notEqual(otherOut?.traceId, publishIn[0]?.traceId);

  // The quiet client, at the default ERROR, has no entry for its successes.
  assert.deepEqual(entriesOf(quiet), []);

  // Its failures are errors, and ERROR lets them through: a publish on a reserved topic.
  const quiet5 = await connectClient(t, devPort(), { clientId: id('quiet5'), protocolVersion: 5 });
  const refused = quiet5.options.clientId as string;
  await quiet5.publishAsync('$aws/events/presence/connected/forged', payload(), { qos: 1 }).then(
    () => assert.fail('a publish on a reserved topic was acknowledged'),
    () => undefined,
  );
  await eventually(() => entriesOf(refused, 'Publish-In').length > 0, 'the failure entry');
  const [failure] = entriesOf(refused, 'Publish-In');
  assert.equal(failure?.status, 'Failure');
  assert.equal(failure?.logLevel, 'ERROR');
  assert.equal(failure?.reason, 'AUTHORIZATION_FAILURE');
  assert.equal(failure?.topicName, '$aws/events/presence/connected/forged');
  assert.equal(entriesOf(refused, 'Connect').length, 0, 'its successful Connect is not an error');

  // A Disconnect entry says why.
  loudClient.end();
  await eventually(() => entriesOf(loud, 'Disconnect').length > 0, 'the Disconnect entry');
  assert.equal(entriesOf(loud, 'Disconnect')[0]?.disconnectReason, 'CLIENT_INITIATED_DISCONNECT');
});

test('shadow requests over MQTT are logged as AWS names them: the thing, the topic, and a failure at ERROR', async (t) => {
  const clientId = id('shadow-client');
  const thing = id('shadow-thing');
  await setLevel('CLIENT_ID', clientId, 'DEBUG');
  const client = await connectClient(t, devPort(), { clientId });
  await client.subscribeAsync(`$aws/things/${thing}/shadow/#`, { qos: 1 });
  await client.publishAsync(`$aws/things/${thing}/shadow/get`, '{}', { qos: 1 });
  await client.publishAsync(
    `$aws/things/${thing}/shadow/update`,
    JSON.stringify({ state: { reported: { note: payload() } } }),
    { qos: 1 },
  );
  await eventually(
    () => entriesOf(clientId, 'UpdateThingShadow').length > 0,
    'the UpdateThingShadow entry',
  );
  const [update] = entriesOf(clientId, 'UpdateThingShadow');
  assert.equal(update?.status, 'Success');
  assert.equal(update?.logLevel, 'DEBUG');
  assert.equal(update?.deviceShadowName, thing);
  assert.equal(update?.topicName, `$aws/things/${thing}/shadow/update`);
  const [get] = entriesOf(clientId, 'GetThingShadow');
  assert.equal(get?.status, 'Failure', 'the shadow did not exist yet');
  assert.equal(get?.logLevel, 'ERROR');
  assert.equal(get?.reason, '404');
  assert.match(get?.details ?? '', /No shadow exists with name/);
  client.end(true);
});

test('a level change reaches a connected client at once; DISABLED and disableAllLogs silence it', async (t) => {
  await setDefault('ERROR');
  const clientId = id('switched');
  const client = await connectClient(t, devPort(), { clientId });
  const topic = (name: string) => `logs/${clientId}/${name}`;
  const logged = () => entriesOf(clientId, 'Publish-In').map((entry) => entry.topicName);

  await publishAndSettle(client, topic('before'));
  await setLevel('CLIENT_ID', clientId, 'INFO');
  await publishAndSettle(client, topic('info'));
  await eventually(() => logged().includes(topic('info')), 'the entry at INFO');

  await setLevel('CLIENT_ID', clientId, 'DISABLED');
  await setDefault('DEBUG');
  await publishAndSettle(client, topic('disabled-target'));

  await setLevel('CLIENT_ID', clientId, 'DEBUG');
  await iot.send(
    new SetV2LoggingOptionsCommand({ defaultLogLevel: 'DEBUG', disableAllLogs: true }),
  );
  await publishAndSettle(client, topic('all-disabled'));
  await iot.send(new SetV2LoggingOptionsCommand({ defaultLogLevel: 'ERROR' }));
  await publishAndSettle(client, topic('enabled-again'));
  await eventually(() => logged().includes(topic('enabled-again')), 'the entry once enabled');
  assert.deepEqual(logged(), [topic('info'), topic('enabled-again')]);

  // Several matching targets: the most verbose wins, so DEBUG on the source address overrides
  // DISABLED on the client id.
  await setLevel('CLIENT_ID', clientId, 'DISABLED');
  await setLevel('SOURCE_IP', '127.0.0.1', 'DEBUG');
  await publishAndSettle(client, topic('most-verbose'));
  await eventually(() => logged().includes(topic('most-verbose')), 'the most verbose level');
  await iot.send(
    new DeleteV2LoggingLevelCommand({ targetType: 'SOURCE_IP', targetName: '127.0.0.1' }),
  );
  await publishAndSettle(client, topic('after-delete'));
  await fence();
  assert.ok(!logged().includes(topic('after-delete')));
});

test('THING_GROUP levels follow the hierarchy: a parent covers its children, a child overrides it', async (t) => {
  await setDefault('ERROR');
  const thingName = id('grouped');
  const parent = id('log-parent');
  const child = id('log-child');
  await iot.send(new CreateThingCommand({ thingName }));
  await iot.send(new CreateThingGroupCommand({ thingGroupName: parent }));
  await iot.send(new CreateThingGroupCommand({ thingGroupName: child, parentGroupName: parent }));
  await iot.send(new AddThingToThingGroupCommand({ thingName, thingGroupName: child }));
  await setLevel('THING_GROUP', parent, 'INFO');

  const client = await connectClient(t, devPort(), { clientId: thingName });
  const topic = (name: string) => `logs/${thingName}/${name}`;
  const logged = () => entriesOf(thingName, 'Publish-In').map((entry) => entry.topicName);
  await publishAndSettle(client, topic('parent-info'));
  await eventually(() => logged().includes(topic('parent-info')), "the parent group's level");
  assert.equal(entriesOf(thingName, 'Connect').length, 1, 'the Connect entry too');

  await setLevel('THING_GROUP', child, 'ERROR');
  await publishAndSettle(client, topic('child-error'));
  await setLevel('THING_GROUP', child, 'DEBUG');
  await publishAndSettle(client, topic('child-debug'));
  await eventually(() => logged().includes(topic('child-debug')), "the child group's level");
  assert.deepEqual(logged(), [topic('parent-info'), topic('child-debug')]);

  // A client whose id names no thing in the group is not covered.
  const stranger = id('stranger');
  const other = await connectClient(t, devPort(), { clientId: stranger });
  await publishAndSettle(other, `logs/${stranger}/x`);
  await fence();
  assert.deepEqual(entriesOf(stranger), []);
});

test('the device log file rotates at log.maxFileBytes, keeps log.maxFiles files, all mode 0600', async (t) => {
  await setDefault('ERROR');
  const clientId = id('rotating');
  await setLevel('CLIENT_ID', clientId, 'DEBUG');
  const client = await connectClient(t, devPort(), { clientId });
  await client.subscribeAsync(`logs/${clientId}/#`, { qos: 1 });
  for (let i = 0; i < 40; i++) await publishAndSettle(client, `logs/${clientId}/${i}`);
  await eventually(
    () =>
      existsSync(`${logFile}.${MAX_FILES}`) &&
      readFileSync(logFile, 'utf8').includes(`"topicName":"logs/${clientId}/39"`),
    'rotated files and the newest entries in the current one',
  );
  assert.equal(existsSync(`${logFile}.${MAX_FILES + 1}`), false, 'no more than log.maxFiles');
  for (const file of [logFile, `${logFile}.1`, `${logFile}.${MAX_FILES}`]) {
    assert.equal(statSync(file).mode & 0o777, 0o600, file);
    const text = readFileSync(file, 'utf8');
    for (const line of text.split('\n').filter(Boolean)) {
      const entry = JSON.parse(line) as Entry;
      assert.equal(entry.accountId, ACCOUNT_ID);
    }
  }
  // Each rotated file stopped at about the size limit (one buffered write past it at most).
  assert.ok(statSync(`${logFile}.1`).size >= MAX_FILE_BYTES);
  assert.ok(statSync(`${logFile}.1`).size < MAX_FILE_BYTES * 4);
});

test('settings survive a restart; no payload ever reaches stderr or the log files', async () => {
  await setLevel('CLIENT_ID', 'kept-client', 'INFO');
  const options = await iot.send(new GetV2LoggingOptionsCommand({}));
  const levels = await iot.send(new ListV2LoggingLevelsCommand({ maxResults: 250 }));
  const stderrBefore = server.stderr();
  assert.equal(await stopServer(server), 0);
  server = await serve();
  target = { port: server.ready.api, dataDir };
  iot = iotClient(target);
  assert.deepEqual(
    { ...(await iot.send(new GetV2LoggingOptionsCommand({}))), $metadata: undefined },
    { ...options, $metadata: undefined },
  );
  assert.deepEqual(
    (await iot.send(new ListV2LoggingLevelsCommand({ maxResults: 250 }))).logTargetConfigurations,
    levels.logTargetConfigurations,
  );

  assert.ok(PAYLOAD_MARKERS.length > 40);
  const logs = [
    stderrBefore,
    server.stderr(),
    ...[logFile, `${logFile}.1`, `${logFile}.2`]
      .filter((file) => existsSync(file))
      .map((file) => readFileSync(file, 'utf8')),
  ].join('\n');
  assert.ok(logs.includes('"eventType":"Publish-In"'), 'the logs hold entries');
  for (const marker of PAYLOAD_MARKERS) assert.ok(!logs.includes(marker), marker);
});
