// The registry through the AWS CLI v2 (`aws iot … --endpoint-url`), as an operator would use it.
import { CreateThingCommand } from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { iotClient, needAwsCli, runAwsCli, type ApiTarget } from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS, fileCleanup, startServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const ACCOUNT_ID = '123456789012';
const dataDir = join(tempDir(files), 'data');
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
  env: { BULWARK_ACCOUNT_ID: ACCOUNT_ID },
});
const target: ApiTarget = { port: server.ready.api, dataDir };
const home = tempDir(files);
const arnPrefix = `arn:aws:iot:us-east-1:${ACCOUNT_ID}`;

/** `aws iot ARGS`: its parsed JSON output (`{}` when it prints none). */
function iot(args: string[]): Record<string, unknown> {
  const result = runAwsCli(target, ['iot', ...args], { home });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim() ? (JSON.parse(result.stdout) as Record<string, unknown>) : {};
}

/** `aws iot ARGS` expected to fail: its stderr. */
function iotFails(args: string[]): string {
  const result = runAwsCli(target, ['iot', ...args], { home });
  assert.notEqual(result.status, 0, result.stdout);
  return result.stderr;
}

function cli(t: TestContext): boolean {
  return needAwsCli(t);
}

test('AWS CLI v2: create, describe, update, list (paginated) and delete things', async (t) => {
  if (!cli(t)) return;
  const created = iot([
    'create-thing',
    '--thing-name',
    'cli-thing',
    '--attribute-payload',
    '{"attributes":{"model":"x1","serial":"sn-9"}}',
  ]);
  assert.equal(created.thingArn, `${arnPrefix}:thing/cli-thing`);
  const described = iot(['describe-thing', '--thing-name', 'cli-thing']);
  assert.deepEqual(described.attributes, { model: 'x1', serial: 'sn-9' });
  assert.equal(described.version, 1);
  iot([
    'update-thing',
    '--thing-name',
    'cli-thing',
    '--attribute-payload',
    '{"attributes":{"serial":""},"merge":true}',
    '--expected-version',
    '1',
  ]);
  assert.deepEqual(iot(['describe-thing', '--thing-name', 'cli-thing']).attributes, {
    model: 'x1',
  });
  assert.match(
    iotFails(['update-thing', '--thing-name', 'cli-thing', '--expected-version', '1']),
    /VersionConflictException/,
  );

  const sdk = iotClient(target);
  for (let i = 0; i < 12; i++)
    await sdk.send(new CreateThingCommand({ thingName: `cli-page-${String(i).padStart(2, '0')}` }));
  // The CLI follows nextToken itself: all 13 come back, fetched 5 at a time.
  const all = iot(['list-things', '--page-size', '5']).things as { thingName: string }[];
  assert.equal(all.length, 13);
  const first = iot(['list-things', '--max-items', '5']);
  assert.equal((first.things as unknown[]).length, 5);
  assert.equal(typeof first.NextToken, 'string');
  const rest = iot(['list-things', '--starting-token', first.NextToken as string]);
  assert.equal((rest.things as unknown[]).length, 8);

  iot(['delete-thing', '--thing-name', 'cli-thing']);
  iot(['delete-thing', '--thing-name', 'cli-thing']);
  assert.match(
    iotFails(['describe-thing', '--thing-name', 'cli-thing']),
    /ResourceNotFoundException/,
  );
  assert.match(
    iotFails(['create-thing', '--thing-name', 'bad name']),
    /InvalidRequestException.*'thingName'/,
  );
});

test('AWS CLI v2: thing types and thing groups, tags, membership', async (t) => {
  if (!cli(t)) return;
  const type = iot([
    'create-thing-type',
    '--thing-type-name',
    'cli-type',
    '--thing-type-properties',
    'thingTypeDescription="a type",searchableAttributes=color',
    '--tags',
    'Key=team,Value=field',
  ]);
  assert.equal(type.thingTypeArn, `${arnPrefix}:thingtype/cli-type`);
  const described = iot(['describe-thing-type', '--thing-type-name', 'cli-type']);
  assert.deepEqual(
    (described.thingTypeProperties as Record<string, unknown>).searchableAttributes,
    ['color'],
  );
  // The CLI v2 prints the epoch-seconds timestamp it received as ISO 8601.
  const creationDate = (described.thingTypeMetadata as Record<string, unknown>).creationDate;
  assert.ok(
    Math.abs(Date.parse(creationDate as string) - Date.now()) < 60_000,
    String(creationDate),
  );
  iot(['deprecate-thing-type', '--thing-type-name', 'cli-type']);
  assert.equal(
    (
      iot(['describe-thing-type', '--thing-type-name', 'cli-type']).thingTypeMetadata as Record<
        string,
        unknown
      >
    ).deprecated,
    true,
  );
  iot(['deprecate-thing-type', '--thing-type-name', 'cli-type', '--undo-deprecate']);
  assert.deepEqual(
    (iot(['list-thing-types']).thingTypes as { thingTypeName: string }[]).map(
      (t) => t.thingTypeName,
    ),
    ['cli-type'],
  );

  iot(['create-thing-group', '--thing-group-name', 'cli-parent']);
  const group = iot([
    'create-thing-group',
    '--thing-group-name',
    'cli-child',
    '--parent-group-name',
    'cli-parent',
  ]);
  iot(['create-thing', '--thing-name', 'cli-member', '--thing-type-name', 'cli-type']);
  iot([
    'add-thing-to-thing-group',
    '--thing-group-name',
    'cli-child',
    '--thing-name',
    'cli-member',
  ]);
  assert.deepEqual(
    iot(['list-things-in-thing-group', '--thing-group-name', 'cli-parent', '--recursive']).things,
    ['cli-member'],
  );
  const version = iot([
    'update-thing-group',
    '--thing-group-name',
    'cli-child',
    '--thing-group-properties',
    'thingGroupDescription="floor 3"',
  ]);
  assert.equal(version.version, 2);
  const metadata = iot(['describe-thing-group', '--thing-group-name', 'cli-child'])
    .thingGroupMetadata as Record<string, unknown>;
  assert.equal(metadata.parentGroupName, 'cli-parent');

  iot([
    'tag-resource',
    '--resource-arn',
    group.thingGroupArn as string,
    '--tags',
    'Key=site,Value=north',
  ]);
  assert.deepEqual(
    iot(['list-tags-for-resource', '--resource-arn', group.thingGroupArn as string]).tags,
    [{ Key: 'site', Value: 'north' }],
  );
  iot(['untag-resource', '--resource-arn', group.thingGroupArn as string, '--tag-keys', 'site']);
  assert.deepEqual(
    iot(['list-tags-for-resource', '--resource-arn', group.thingGroupArn as string]).tags,
    [],
  );

  assert.match(
    iotFails(['delete-thing-group', '--thing-group-name', 'cli-parent']),
    /InvalidRequestException.*still child groups/,
  );
  iot([
    'remove-thing-from-thing-group',
    '--thing-group-name',
    'cli-child',
    '--thing-name',
    'cli-member',
  ]);
  iot(['delete-thing-group', '--thing-group-name', 'cli-child']);
  iot(['delete-thing-group', '--thing-group-name', 'cli-parent']);
  iot(['update-event-configurations', '--event-configurations', '{"THING":{"Enabled":true}}']);
  const events = iot(['describe-event-configurations']).eventConfigurations as Record<
    string,
    { Enabled: boolean }
  >;
  assert.equal(events.THING?.Enabled, true);
  assert.equal(events.THING_GROUP?.Enabled, false);
});
