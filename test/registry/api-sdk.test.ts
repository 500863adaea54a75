// The registry through the real server: the AWS SDK v3 (@aws-sdk/client-iot) with SigV4, raw
// signed requests for malformed input, the database files for sealing, MQTT.js for events.
import {
  AddThingToThingGroupCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  DeleteThingCommand,
  DeleteThingGroupCommand,
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  DescribeEventConfigurationsCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  DescribeThingTypeCommand,
  ListTagsForResourceCommand,
  ListThingGroupsCommand,
  ListThingGroupsForThingCommand,
  ListThingsInThingGroupCommand,
  ListThingTypesCommand,
  paginateListThings,
  RemoveThingFromThingGroupCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateEventConfigurationsCommand,
  UpdateThingCommand,
  UpdateThingGroupCommand,
} from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { iotClient, signedRequest, type ApiTarget, type WireResponse } from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS_WITH_DEV, fileCleanup, startServer } from '../helpers/cli.js';
import { connectWithInbox } from '../helpers/mqtt-clients.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const ACCOUNT_ID = '210987654321';
const dataDir = join(tempDir(files), 'data');
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV], {
  env: { BULWARK_ACCOUNT_ID: ACCOUNT_ID },
});
const target: ApiTarget = { port: server.ready.api, dataDir };
const client = iotClient(target);
const arnPrefix = `arn:aws:iot:us-east-1:${ACCOUNT_ID}`;

type SdkError = Error & { $metadata: { httpStatusCode?: number } } & Record<string, unknown>;

async function sdkError(promise: Promise<unknown>): Promise<SdkError> {
  try {
    await promise;
  } catch (error) {
    return error as SdkError;
  }
  assert.fail('the call succeeded');
}

function assertAwsError(response: WireResponse, type: string, message?: RegExp): void {
  assert.equal(response.headers['x-amzn-errortype'], type, response.body);
  assert.equal(response.status, 400);
  if (message) assert.match((JSON.parse(response.body) as { message: string }).message, message);
}

test('things: create, describe, list past one page, update, delete with the SDK', async () => {
  const created = await client.send(
    new CreateThingCommand({
      thingName: 'sdk-thing',
      attributePayload: { attributes: { model: 'x1', serial: 'sn-1' } },
    }),
  );
  assert.equal(created.thingArn, `${arnPrefix}:thing/sdk-thing`);
  assert.match(created.thingId ?? '', /^[0-9a-f-]{36}$/);
  const described = await client.send(new DescribeThingCommand({ thingName: 'sdk-thing' }));
  assert.equal(described.defaultClientId, 'sdk-thing');
  assert.deepEqual(described.attributes, { model: 'x1', serial: 'sn-1' });
  assert.equal(described.version, 1);

  for (let i = 0; i < 30; i++)
    await client.send(new CreateThingCommand({ thingName: `page-${String(i).padStart(2, '0')}` }));
  const pages: number[] = [];
  const listed: string[] = [];
  for await (const page of paginateListThings({ client, pageSize: 10 }, {})) {
    pages.push(page.things?.length ?? 0);
    for (const thing of page.things ?? []) listed.push(thing.thingName as string);
  }
  assert.ok(pages.length >= 4, `31 things in pages of 10: ${pages.join(',')}`);
  assert.equal(new Set(listed).size, 31);
  assert.ok(listed.includes('page-29') && listed.includes('sdk-thing'));

  await client.send(
    new UpdateThingCommand({
      thingName: 'sdk-thing',
      attributePayload: { attributes: { serial: '', color: 'red' }, merge: true },
      expectedVersion: 1,
    }),
  );
  const updated = await client.send(new DescribeThingCommand({ thingName: 'sdk-thing' }));
  assert.deepEqual(updated.attributes, { model: 'x1', color: 'red' });
  assert.equal(updated.version, 2);
  const conflict = await sdkError(
    client.send(new UpdateThingCommand({ thingName: 'sdk-thing', expectedVersion: 1 })),
  );
  assert.equal(conflict.name, 'VersionConflictException');
  assert.equal(conflict.$metadata.httpStatusCode, 409);

  const duplicate = await sdkError(client.send(new CreateThingCommand({ thingName: 'sdk-thing' })));
  assert.equal(duplicate.name, 'ResourceAlreadyExistsException');
  assert.equal(duplicate.resourceId, created.thingId);
  assert.equal(duplicate.resourceArn, created.thingArn);

  await client.send(new DeleteThingCommand({ thingName: 'sdk-thing', expectedVersion: 2 }));
  await client.send(new DeleteThingCommand({ thingName: 'sdk-thing' }));
  const missing = await sdkError(client.send(new DescribeThingCommand({ thingName: 'sdk-thing' })));
  assert.equal(missing.name, 'ResourceNotFoundException');
  assert.equal(missing.$metadata.httpStatusCode, 404);
});

test('thing types: create with tags, describe (dates as Date), list, deprecate, delete rules', async () => {
  const created = await client.send(
    new CreateThingTypeCommand({
      thingTypeName: 'sdk-type',
      thingTypeProperties: { thingTypeDescription: 'a type', searchableAttributes: ['color'] },
      tags: [{ Key: 'team', Value: 'field' }],
    }),
  );
  assert.equal(created.thingTypeArn, `${arnPrefix}:thingtype/sdk-type`);
  const described = await client.send(new DescribeThingTypeCommand({ thingTypeName: 'sdk-type' }));
  assert.deepEqual(described.thingTypeProperties?.searchableAttributes, ['color']);
  assert.ok(described.thingTypeMetadata?.creationDate instanceof Date);
  assert.ok(
    Math.abs((described.thingTypeMetadata?.creationDate?.getTime() ?? 0) - Date.now()) < 60_000,
  );
  const types = await client.send(new ListThingTypesCommand({}));
  assert.deepEqual(
    types.thingTypes?.map((type) => type.thingTypeName),
    ['sdk-type'],
  );
  const tags = await client.send(
    new ListTagsForResourceCommand({ resourceArn: created.thingTypeArn }),
  );
  assert.deepEqual(tags.tags, [{ Key: 'team', Value: 'field' }]);

  const notDeprecated = await sdkError(
    client.send(new DeleteThingTypeCommand({ thingTypeName: 'sdk-type' })),
  );
  assert.equal(notDeprecated.name, 'InvalidRequestException');
  await client.send(new DeprecateThingTypeCommand({ thingTypeName: 'sdk-type' }));
  const deprecated = await client.send(new DescribeThingTypeCommand({ thingTypeName: 'sdk-type' }));
  assert.equal(deprecated.thingTypeMetadata?.deprecated, true);
  assert.ok(deprecated.thingTypeMetadata?.deprecationDate instanceof Date);
  const typed = await sdkError(
    client.send(new CreateThingCommand({ thingName: 'typed', thingTypeName: 'sdk-type' })),
  );
  assert.equal(typed.name, 'InvalidRequestException');
  // AWS makes a deprecated type wait five minutes before it can be deleted.
  const tooSoon = await sdkError(
    client.send(new DeleteThingTypeCommand({ thingTypeName: 'sdk-type' })),
  );
  assert.equal(tooSoon.name, 'InvalidRequestException');
  assert.match(tooSoon.message, /300 seconds/);
  await client.send(
    new DeprecateThingTypeCommand({ thingTypeName: 'sdk-type', undoDeprecate: true }),
  );
  await client.send(new CreateThingCommand({ thingName: 'typed', thingTypeName: 'sdk-type' }));
  assert.equal(
    (await client.send(new DescribeThingCommand({ thingName: 'typed' }))).thingTypeName,
    'sdk-type',
  );
});

test('thing groups: hierarchy, update, membership, listings, tags and delete with the SDK', async () => {
  await client.send(new CreateThingGroupCommand({ thingGroupName: 'sdk-root' }));
  const child = await client.send(
    new CreateThingGroupCommand({
      thingGroupName: 'sdk-child',
      parentGroupName: 'sdk-root',
      thingGroupProperties: {
        thingGroupDescription: 'child group',
        attributePayload: { attributes: { floor: '3' } },
      },
      tags: [{ Key: 'site', Value: 'north' }],
    }),
  );
  assert.equal(child.thingGroupArn, `${arnPrefix}:thinggroup/sdk-child`);
  const described = await client.send(
    new DescribeThingGroupCommand({ thingGroupName: 'sdk-child' }),
  );
  assert.equal(described.version, 1);
  assert.equal(described.thingGroupProperties?.thingGroupDescription, 'child group');
  assert.deepEqual(described.thingGroupProperties?.attributePayload?.attributes, { floor: '3' });
  assert.equal(described.thingGroupMetadata?.parentGroupName, 'sdk-root');
  assert.deepEqual(described.thingGroupMetadata?.rootToParentThingGroups, [
    { groupName: 'sdk-root', groupArn: `${arnPrefix}:thinggroup/sdk-root` },
  ]);
  assert.ok(described.thingGroupMetadata?.creationDate instanceof Date);
  const updated = await client.send(
    new UpdateThingGroupCommand({
      thingGroupName: 'sdk-child',
      thingGroupProperties: { attributePayload: { attributes: { wing: 'B' }, merge: true } },
      expectedVersion: 1,
    }),
  );
  assert.equal(updated.version, 2);
  const listed = await client.send(new ListThingGroupsCommand({ parentGroup: 'sdk-root' }));
  assert.deepEqual(
    listed.thingGroups?.map((group) => group.groupName),
    ['sdk-child'],
  );

  await client.send(new CreateThingCommand({ thingName: 'member' }));
  await client.send(
    new AddThingToThingGroupCommand({ thingGroupArn: child.thingGroupArn, thingName: 'member' }),
  );
  const recursive = await client.send(
    new ListThingsInThingGroupCommand({ thingGroupName: 'sdk-root', recursive: true }),
  );
  assert.deepEqual(recursive.things, ['member']);
  const groups = await client.send(new ListThingGroupsForThingCommand({ thingName: 'member' }));
  assert.deepEqual(
    groups.thingGroups?.map((group) => group.groupName),
    ['sdk-child'],
  );

  await client.send(
    new TagResourceCommand({
      resourceArn: child.thingGroupArn,
      tags: [{ Key: 'tier', Value: '1' }],
    }),
  );
  await client.send(
    new UntagResourceCommand({ resourceArn: child.thingGroupArn, tagKeys: ['site'] }),
  );
  const tags = await client.send(
    new ListTagsForResourceCommand({ resourceArn: child.thingGroupArn }),
  );
  assert.deepEqual(tags.tags, [{ Key: 'tier', Value: '1' }]);

  const hasChildren = await sdkError(
    client.send(new DeleteThingGroupCommand({ thingGroupName: 'sdk-root' })),
  );
  assert.equal(hasChildren.name, 'InvalidRequestException');
  assert.match(hasChildren.message, /still child groups/);
  await client.send(
    new RemoveThingFromThingGroupCommand({ thingGroupName: 'sdk-child', thingName: 'member' }),
  );
  await client.send(new DeleteThingGroupCommand({ thingGroupName: 'sdk-child' }));
  await client.send(new DeleteThingGroupCommand({ thingGroupName: 'sdk-root' }));
  assert.deepEqual((await client.send(new ListThingGroupsCommand({}))).thingGroups, []);
});

test('malformed JSON, bad names and bad attribute values are InvalidRequestException naming the field', async () => {
  const malformed = await signedRequest(target, {
    method: 'POST',
    path: '/things/broken-json',
    headers: { 'content-type': 'application/json' },
    body: '{"attributePayload": {',
  });
  assertAwsError(malformed, 'InvalidRequestException', /JSON/);
  const badName = await sdkError(client.send(new CreateThingCommand({ thingName: 'no spaces' })));
  assert.equal(badName.name, 'InvalidRequestException');
  assert.equal(badName.$metadata.httpStatusCode, 400);
  assert.match(badName.message, /'thingName'/);
  const badValue = await sdkError(
    client.send(
      new CreateThingCommand({
        thingName: 'bad-value',
        attributePayload: { attributes: { serial: 'has spaces and ünïcode' } },
      }),
    ),
  );
  assert.equal(badValue.name, 'InvalidRequestException');
  assert.match(badValue.message, /'attributePayload\.attributes\.serial'/);
  assert.ok(!badValue.message.includes('ünïcode'));
  const badType = await signedRequest(target, {
    method: 'POST',
    path: '/things/bad-type',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ attributePayload: { attributes: { n: 5 } } }),
  });
  assertAwsError(badType, 'InvalidRequestException', /'attributePayload\.attributes\.n'/);
  const badToken = await signedRequest(target, {
    method: 'GET',
    path: '/things?nextToken=nope',
    headers: {},
  });
  assertAwsError(badToken, 'InvalidRequestException', /nextToken/);
  const badMax = await signedRequest(target, {
    method: 'GET',
    path: '/things?maxResults=1000',
    headers: {},
  });
  assertAwsError(badMax, 'InvalidRequestException', /maxResults/);
  const missing = await sdkError(client.send(new DescribeThingCommand({ thingName: 'bad-value' })));
  assert.equal(
    missing.name,
    'ResourceNotFoundException',
    'nothing was created by the refused calls',
  );
});

test('attribute values written through the API are sealed at rest: not in the database files', async () => {
  const marker = 'serial-4711-SECRETMARKER';
  await client.send(
    new CreateThingCommand({
      thingName: 'sealed-device',
      attributePayload: { attributes: { serial: marker } },
    }),
  );
  await client.send(
    new UpdateThingCommand({
      thingName: 'sealed-device',
      attributePayload: { attributes: { backup: marker }, merge: true },
    }),
  );
  assert.deepEqual(
    (await client.send(new DescribeThingCommand({ thingName: 'sealed-device' }))).attributes,
    { serial: marker, backup: marker },
  );
  const database = join(dataDir, 'db', 'bulwark.db');
  const files = [database, `${database}-wal`].filter((file) => existsSync(file));
  assert.ok(files.length > 0);
  for (const file of files)
    assert.equal(
      readFileSync(file).includes(Buffer.from(marker)),
      false,
      `${file} holds the marker`,
    );
});

test('registry events arrive over MQTT when enabled, and not when disabled', async (t) => {
  const { client: mqtt, messages } = await connectWithInbox(t, server.ready.dev as number, {
    protocolVersion: 5,
    clientId: 'registry-events',
  });
  await mqtt.subscribeAsync('$aws/events/thing/#', { qos: 1 });
  const initial = await client.send(new DescribeEventConfigurationsCommand({}));
  assert.equal(initial.eventConfigurations?.THING?.Enabled, false);
  await client.send(new CreateThingCommand({ thingName: 'unannounced' }));
  await messages.none(500);

  await client.send(
    new UpdateEventConfigurationsCommand({ eventConfigurations: { THING: { Enabled: true } } }),
  );
  const enabled = await client.send(new DescribeEventConfigurationsCommand({}));
  assert.equal(enabled.eventConfigurations?.THING?.Enabled, true);
  assert.ok(enabled.lastModifiedDate instanceof Date);
  const created = await client.send(
    new CreateThingCommand({
      thingName: 'announced',
      attributePayload: { attributes: { a: '1' } },
    }),
  );
  const event = await messages.next();
  assert.equal(event.topic, '$aws/events/thing/announced/created');
  assert.equal(event.packet.qos, 1);
  const payload = JSON.parse(event.payload.toString()) as Record<string, unknown>;
  assert.equal(payload.eventType, 'THING_EVENT');
  assert.equal(payload.operation, 'CREATED');
  assert.equal(payload.accountId, ACCOUNT_ID);
  assert.equal(payload.thingId, created.thingId);
  assert.equal(payload.thingName, 'announced');
  assert.equal(payload.versionNumber, 1);
  assert.equal(payload.thingTypeName, null);
  assert.deepEqual(payload.attributes, { a: '1' });
  await client.send(new DeleteThingCommand({ thingName: 'announced' }));
  assert.equal((await messages.next()).topic, '$aws/events/thing/announced/deleted');

  await client.send(
    new UpdateEventConfigurationsCommand({ eventConfigurations: { THING: { Enabled: false } } }),
  );
  await client.send(new CreateThingCommand({ thingName: 'silent-again' }));
  await messages.none(500);
});
