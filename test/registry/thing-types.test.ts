import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCOUNT_ID, engineTest, fails, ok, openRegistry, REGION } from './harness.js';

engineTest(
  'CreateThingType / DescribeThingType / ListThingTypes in AWS shape, dates in epoch seconds',
  async (r) => {
    const before = Date.now() / 1000;
    const created = ok(
      await r.call('CreateThingType', {
        params: { thingTypeName: 'StopLight' },
        body: {
          thingTypeProperties: {
            thingTypeDescription: 'traffic light type',
            searchableAttributes: ['wattage', 'model'],
          },
          tags: [{ Key: 'team', Value: 'roads' }],
        },
      }),
    );
    assert.equal(created.thingTypeName, 'StopLight');
    assert.equal(created.thingTypeArn, `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thingtype/StopLight`);
    assert.match(created.thingTypeId as string, /^[0-9a-f-]{36}$/);
    const described = ok(
      await r.call('DescribeThingType', { params: { thingTypeName: 'StopLight' } }),
    );
    assert.deepEqual(described.thingTypeProperties, {
      thingTypeDescription: 'traffic light type',
      searchableAttributes: ['wattage', 'model'],
    });
    const metadata = described.thingTypeMetadata as { deprecated: boolean; creationDate: number };
    assert.equal(metadata.deprecated, false);
    assert.ok(
      metadata.creationDate >= before - 1 && metadata.creationDate <= Date.now() / 1000 + 1,
    );
    assert.equal(described.thingTypeId, created.thingTypeId);
    const listed = ok(await r.call('ListThingTypes'));
    const [definition] = listed.thingTypes as Record<string, unknown>[];
    assert.equal(definition?.thingTypeName, 'StopLight');
    assert.equal(definition?.thingTypeArn, created.thingTypeArn);
    assert.equal(definition?.thingTypeId, undefined, 'ThingTypeDefinition has no thingTypeId');
    assert.deepEqual(
      ok(
        await r.call('ListTagsForResource', {
          query: { resourceArn: created.thingTypeArn as string },
        }),
      ).tags,
      [{ Key: 'team', Value: 'roads' }],
    );
    fails(
      await r.call('DescribeThingType', { params: { thingTypeName: 'nope' } }),
      'ResourceNotFoundException',
    );
  },
);

engineTest(
  'CreateThingType: identical repeat is idempotent, different is ResourceAlreadyExists; ≤ 3 searchable attributes',
  async (r) => {
    const body = { thingTypeProperties: { searchableAttributes: ['a', 'b'] } };
    const first = ok(await r.call('CreateThingType', { params: { thingTypeName: 'T' }, body }));
    assert.deepEqual(
      ok(await r.call('CreateThingType', { params: { thingTypeName: 'T' }, body })),
      first,
    );
    const conflict = fails(
      await r.call('CreateThingType', {
        params: { thingTypeName: 'T' },
        body: { thingTypeProperties: { thingTypeDescription: 'other' } },
      }),
      'ResourceAlreadyExistsException',
    );
    assert.equal(conflict.details.resourceArn, first.thingTypeArn);
    fails(
      await r.call('CreateThingType', {
        params: { thingTypeName: 'U' },
        body: { thingTypeProperties: { searchableAttributes: ['a', 'b', 'c', 'd'] } },
      }),
      'InvalidRequestException',
      /at most 3 searchable attributes/,
    );
  },
);

engineTest(
  'DeprecateThingType with undoDeprecate; DeleteThingType only after deprecation and with no things',
  async (r) => {
    ok(await r.call('CreateThingType', { params: { thingTypeName: 'T' } }));
    ok(
      await r.call('CreateThing', { params: { thingName: 'user' }, body: { thingTypeName: 'T' } }),
    );
    fails(
      await r.call('DeleteThingType', { params: { thingTypeName: 'T' } }),
      'InvalidRequestException',
      /deprecated before/,
    );
    ok(await r.call('DeprecateThingType', { params: { thingTypeName: 'T' } }));
    let metadata = ok(await r.call('DescribeThingType', { params: { thingTypeName: 'T' } }))
      .thingTypeMetadata as { deprecated: boolean; deprecationDate?: number };
    assert.equal(metadata.deprecated, true);
    assert.equal(typeof metadata.deprecationDate, 'number');
    ok(
      await r.call('DeprecateThingType', {
        params: { thingTypeName: 'T' },
        body: { undoDeprecate: true },
      }),
    );
    metadata = ok(await r.call('DescribeThingType', { params: { thingTypeName: 'T' } }))
      .thingTypeMetadata as { deprecated: boolean; deprecationDate?: number };
    assert.equal(metadata.deprecated, false);
    assert.equal(metadata.deprecationDate, undefined);
    ok(
      await r.call('CreateThing', {
        params: { thingName: 'second' },
        body: { thingTypeName: 'T' },
      }),
    );
    ok(await r.call('DeprecateThingType', { params: { thingTypeName: 'T' } }));
    // Things already of the type keep it.
    assert.equal(
      ok(await r.call('DescribeThing', { params: { thingName: 'user' } })).thingTypeName,
      'T',
    );
    fails(
      await r.call('DeleteThingType', { params: { thingTypeName: 'T' } }),
      'InvalidRequestException',
      /still associated/,
    );
    ok(
      await r.call('UpdateThing', {
        params: { thingName: 'user' },
        body: { removeThingType: true },
      }),
    );
    ok(await r.call('DeleteThing', { params: { thingName: 'second' } }));
    ok(await r.call('DeleteThingType', { params: { thingTypeName: 'T' } }));
    fails(
      await r.call('DescribeThingType', { params: { thingTypeName: 'T' } }),
      'ResourceNotFoundException',
    );
    fails(
      await r.call('DeleteThingType', { params: { thingTypeName: 'T' } }),
      'ResourceNotFoundException',
    );
    fails(
      await r.call('DeprecateThingType', { params: { thingTypeName: 'T' } }),
      'ResourceNotFoundException',
    );
  },
);

test('DeleteThingType waits the configured time after deprecation (AWS: five minutes)', async (t) => {
  let now = Date.UTC(2030, 0, 1);
  const r = await openRegistry(t, 'sqlite', {
    thingTypeDeletionDelayMs: 5 * 60 * 1000,
    clock: () => now,
  });
  assert.ok(r);
  ok(await r.call('CreateThingType', { params: { thingTypeName: 'T' } }));
  ok(await r.call('DeprecateThingType', { params: { thingTypeName: 'T' } }));
  now += 4 * 60 * 1000;
  fails(
    await r.call('DeleteThingType', { params: { thingTypeName: 'T' } }),
    'InvalidRequestException',
    /300 seconds/,
  );
  // Deprecating again does not restart the wait.
  ok(await r.call('DeprecateThingType', { params: { thingTypeName: 'T' } }));
  now += 60 * 1000;
  ok(await r.call('DeleteThingType', { params: { thingTypeName: 'T' } }));
});
