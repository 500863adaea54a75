import assert from 'node:assert/strict';
import { ACCOUNT_ID, engineTest, fails, ok, REGION, type RegistryHarness } from './harness.js';

const arn = (name: string) => `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thinggroup/${name}`;

async function group(r: RegistryHarness, name: string, parent?: string): Promise<void> {
  ok(
    await r.call('CreateThingGroup', {
      params: { thingGroupName: name },
      body: parent ? { parentGroupName: parent } : {},
    }),
  );
}

const names = (list: unknown) => (list as { groupName: string }[]).map((g) => g.groupName);

engineTest(
  'CreateThingGroup / DescribeThingGroup: hierarchy, properties and metadata in AWS shape',
  async (r) => {
    await group(r, 'ShinyObjects');
    await group(r, 'LightBulbs', 'ShinyObjects');
    const created = ok(
      await r.call('CreateThingGroup', {
        params: { thingGroupName: 'RedLights' },
        body: {
          parentGroupName: 'LightBulbs',
          thingGroupProperties: {
            thingGroupDescription: 'red ones',
            attributePayload: { attributes: { brightness: '3400_lumens' } },
          },
        },
      }),
    );
    assert.equal(created.thingGroupArn, arn('RedLights'));
    assert.match(created.thingGroupId as string, /^[0-9a-f-]{36}$/);
    const described = ok(
      await r.call('DescribeThingGroup', { params: { thingGroupName: 'RedLights' } }),
    );
    assert.equal(described.version, 1);
    assert.deepEqual(described.thingGroupProperties, {
      thingGroupDescription: 'red ones',
      attributePayload: { attributes: { brightness: '3400_lumens' } },
    });
    const metadata = described.thingGroupMetadata as Record<string, unknown>;
    assert.equal(metadata.parentGroupName, 'LightBulbs');
    assert.deepEqual(metadata.rootToParentThingGroups, [
      { groupName: 'ShinyObjects', groupArn: arn('ShinyObjects') },
      { groupName: 'LightBulbs', groupArn: arn('LightBulbs') },
    ]);
    assert.equal(typeof metadata.creationDate, 'number');
    const root = ok(
      await r.call('DescribeThingGroup', { params: { thingGroupName: 'ShinyObjects' } }),
    );
    assert.deepEqual(
      (root.thingGroupMetadata as Record<string, unknown>).rootToParentThingGroups,
      [],
    );
    assert.equal((root.thingGroupMetadata as Record<string, unknown>).parentGroupName, undefined);
    fails(
      await r.call('DescribeThingGroup', { params: { thingGroupName: 'nope' } }),
      'ResourceNotFoundException',
    );
    fails(
      await r.call('CreateThingGroup', {
        params: { thingGroupName: 'orphan' },
        body: { parentGroupName: 'nope' },
      }),
      'ResourceNotFoundException',
    );
    // Idempotent for identical arguments; a different parent is a conflict.
    assert.deepEqual(
      ok(
        await r.call('CreateThingGroup', {
          params: { thingGroupName: 'LightBulbs' },
          body: { parentGroupName: 'ShinyObjects' },
        }),
      ).thingGroupId,
      ok(await r.call('DescribeThingGroup', { params: { thingGroupName: 'LightBulbs' } }))
        .thingGroupId,
    );
    fails(
      await r.call('CreateThingGroup', { params: { thingGroupName: 'LightBulbs' } }),
      'ResourceAlreadyExistsException',
    );
  },
);

engineTest('a hierarchy is at most 7 deep', async (r) => {
  await group(r, 'g1');
  for (let depth = 2; depth <= 7; depth++) await group(r, `g${depth}`, `g${depth - 1}`);
  fails(
    await r.call('CreateThingGroup', {
      params: { thingGroupName: 'g8' },
      body: { parentGroupName: 'g7' },
    }),
    'InvalidRequestException',
    /at most 7 deep/,
  );
});

engineTest(
  'a group has at most the configured number of children (AWS: 100)',
  async (r) => {
    await group(r, 'parent');
    await group(r, 'c1', 'parent');
    await group(r, 'c2', 'parent');
    fails(
      await r.call('CreateThingGroup', {
        params: { thingGroupName: 'c3' },
        body: { parentGroupName: 'parent' },
      }),
      'InvalidRequestException',
      /2 child groups/,
    );
  },
  { limits: { childGroups: 2 } },
);

engineTest(
  'ListThingGroups: all, by parent (direct or recursive), by name prefix, paginated',
  async (r) => {
    await group(r, 'a');
    await group(r, 'a-1', 'a');
    await group(r, 'a-2', 'a');
    await group(r, 'a-1-x', 'a-1');
    await group(r, 'b');
    assert.deepEqual(names(ok(await r.call('ListThingGroups')).thingGroups), [
      'a',
      'a-1',
      'a-1-x',
      'a-2',
      'b',
    ]);
    assert.deepEqual(
      names(ok(await r.call('ListThingGroups', { query: { parentGroup: 'a' } })).thingGroups),
      ['a-1', 'a-2'],
    );
    assert.deepEqual(
      names(
        ok(await r.call('ListThingGroups', { query: { parentGroup: 'a', recursive: 'true' } }))
          .thingGroups,
      ),
      ['a-1', 'a-1-x', 'a-2'],
    );
    assert.deepEqual(
      names(
        ok(await r.call('ListThingGroups', { query: { namePrefixFilter: 'a-1' } })).thingGroups,
      ),
      ['a-1', 'a-1-x'],
    );
    const first = ok(await r.call('ListThingGroups', { query: { maxResults: '2' } }));
    assert.deepEqual(names(first.thingGroups), ['a', 'a-1']);
    const second = ok(
      await r.call('ListThingGroups', {
        query: { maxResults: '2', nextToken: first.nextToken as string },
      }),
    );
    assert.deepEqual(names(second.thingGroups), ['a-1-x', 'a-2']);
    fails(
      await r.call('ListThingGroups', { query: { parentGroup: 'nope' } }),
      'ResourceNotFoundException',
    );
  },
);

engineTest(
  'UpdateThingGroup merges attributes, returns the new version, honours expectedVersion',
  async (r) => {
    ok(
      await r.call('CreateThingGroup', {
        params: { thingGroupName: 'g' },
        body: { thingGroupProperties: { attributePayload: { attributes: { a: '1', b: '2' } } } },
      }),
    );
    const updated = ok(
      await r.call('UpdateThingGroup', {
        params: { thingGroupName: 'g' },
        body: {
          thingGroupProperties: {
            thingGroupDescription: 'this is a test group',
            attributePayload: { attributes: { a: '', c: '3' }, merge: true },
          },
          expectedVersion: 1,
        },
      }),
    );
    assert.deepEqual(updated, { version: 2 });
    const described = ok(await r.call('DescribeThingGroup', { params: { thingGroupName: 'g' } }));
    assert.deepEqual(described.thingGroupProperties, {
      thingGroupDescription: 'this is a test group',
      attributePayload: { attributes: { b: '2', c: '3' } },
    });
    fails(
      await r.call('UpdateThingGroup', {
        params: { thingGroupName: 'g' },
        body: { thingGroupProperties: {}, expectedVersion: 1 },
      }),
      'VersionConflictException',
    );
    fails(
      await r.call('UpdateThingGroup', { params: { thingGroupName: 'g' }, body: {} }),
      'InvalidRequestException',
      /thingGroupProperties/,
    );
    fails(
      await r.call('UpdateThingGroup', {
        params: { thingGroupName: 'nope' },
        body: { thingGroupProperties: {} },
      }),
      'ResourceNotFoundException',
    );
  },
);

engineTest(
  'DeleteThingGroup: refused while it has children (AWS wording), silent when absent, releases members',
  async (r) => {
    await group(r, 'LightBulbs');
    await group(r, 'RedLights', 'LightBulbs');
    ok(await r.call('CreateThing', { params: { thingName: 'bulb' } }));
    ok(
      await r.call('AddThingToThingGroup', {
        body: { thingGroupName: 'LightBulbs', thingName: 'bulb' },
      }),
    );
    fails(
      await r.call('DeleteThingGroup', { params: { thingGroupName: 'LightBulbs' } }),
      'InvalidRequestException',
      /^Cannot delete thing group : LightBulbs when there are still child groups attached to it\.$/,
    );
    fails(
      await r.call('DeleteThingGroup', {
        params: { thingGroupName: 'RedLights' },
        query: { expectedVersion: '9' },
      }),
      'VersionConflictException',
    );
    ok(
      await r.call('DeleteThingGroup', {
        params: { thingGroupName: 'RedLights' },
        query: { expectedVersion: '1' },
      }),
    );
    ok(await r.call('DeleteThingGroup', { params: { thingGroupName: 'LightBulbs' } }));
    ok(await r.call('DeleteThingGroup', { params: { thingGroupName: 'LightBulbs' } }));
    assert.deepEqual(
      ok(await r.call('ListThingGroupsForThing', { params: { thingName: 'bulb' } })).thingGroups,
      [],
    );
  },
);

engineTest(
  'membership: by name or ARN, ≤ 10 groups per thing, one group per hierarchy, recursive listing',
  async (r) => {
    await group(r, 'root');
    await group(r, 'child', 'root');
    await group(r, 'grandchild', 'child');
    ok(await r.call('CreateThing', { params: { thingName: 'lamp' } }));
    ok(await r.call('CreateThing', { params: { thingName: 'fan' } }));
    ok(
      await r.call('AddThingToThingGroup', {
        body: {
          thingGroupArn: arn('grandchild'),
          thingArn: `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thing/lamp`,
        },
      }),
    );
    // Adding again is no error.
    ok(
      await r.call('AddThingToThingGroup', {
        body: { thingGroupName: 'grandchild', thingName: 'lamp' },
      }),
    );
    ok(
      await r.call('AddThingToThingGroup', { body: { thingGroupName: 'child', thingName: 'fan' } }),
    );
    fails(
      await r.call('AddThingToThingGroup', { body: { thingGroupName: 'root', thingName: 'lamp' } }),
      'InvalidRequestException',
      /same hierarchy/,
    );
    const things = async (name: string, recursive?: boolean) =>
      ok(
        await r.call('ListThingsInThingGroup', {
          params: { thingGroupName: name },
          query: recursive ? { recursive: 'true' } : {},
        }),
      ).things;
    assert.deepEqual(await things('root'), []);
    assert.deepEqual(await things('root', true), ['fan', 'lamp']);
    assert.deepEqual(await things('child'), ['fan']);
    assert.deepEqual(
      ok(await r.call('ListThingGroupsForThing', { params: { thingName: 'lamp' } })).thingGroups,
      [{ groupName: 'grandchild', groupArn: arn('grandchild') }],
    );
    ok(
      await r.call('RemoveThingFromThingGroup', {
        body: { thingGroupName: 'grandchild', thingName: 'lamp' },
      }),
    );
    ok(
      await r.call('RemoveThingFromThingGroup', {
        body: { thingGroupName: 'grandchild', thingName: 'lamp' },
      }),
    );
    assert.deepEqual(await things('root', true), ['fan']);
    for (let i = 0; i < 10; i++) {
      await group(r, `solo-${i}`);
      ok(
        await r.call('AddThingToThingGroup', {
          body: { thingGroupName: `solo-${i}`, thingName: 'lamp' },
        }),
      );
    }
    await group(r, 'eleventh');
    fails(
      await r.call('AddThingToThingGroup', {
        body: { thingGroupName: 'eleventh', thingName: 'lamp' },
      }),
      'InvalidRequestException',
      /10 thing groups/,
    );
    const page = ok(
      await r.call('ListThingGroupsForThing', {
        params: { thingName: 'lamp' },
        query: { maxResults: '4' },
      }),
    );
    assert.equal((page.thingGroups as unknown[]).length, 4);
    assert.ok(page.nextToken);
    // Deleting the thing ends its memberships.
    ok(await r.call('DeleteThing', { params: { thingName: 'lamp' } }));
    assert.deepEqual(await things('solo-0'), []);
    fails(
      await r.call('AddThingToThingGroup', { body: { thingGroupName: 'root', thingName: 'lamp' } }),
      'ResourceNotFoundException',
    );
    fails(
      await r.call('AddThingToThingGroup', { body: { thingGroupName: 'nope', thingName: 'fan' } }),
      'ResourceNotFoundException',
    );
    fails(
      await r.call('AddThingToThingGroup', { body: { thingName: 'fan' } }),
      'InvalidRequestException',
      /thingGroupName or thingGroupArn/,
    );
    fails(
      await r.call('AddThingToThingGroup', {
        body: { thingGroupName: 'root', thingGroupArn: arn('child'), thingName: 'fan' },
      }),
      'InvalidRequestException',
      /different resources/,
    );
    fails(
      await r.call('AddThingToThingGroup', {
        body: {
          thingGroupArn: `arn:aws:iot:${REGION}:999999999999:thinggroup/root`,
          thingName: 'fan',
        },
      }),
      'InvalidRequestException',
      /thingGroupArn/,
    );
  },
);
