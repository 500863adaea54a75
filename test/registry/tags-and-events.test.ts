import assert from 'node:assert/strict';
import { ACCOUNT_ID, engineTest, fails, ok, REGION } from './harness.js';

const base = `arn:aws:iot:${REGION}:${ACCOUNT_ID}`;

engineTest(
  'TagResource / UntagResource / ListTagsForResource on things, thing types and thing groups',
  async (r) => {
    ok(await r.call('CreateThing', { params: { thingName: 't' } }));
    ok(await r.call('CreateThingType', { params: { thingTypeName: 'tt' } }));
    ok(
      await r.call('CreateThingGroup', {
        params: { thingGroupName: 'g' },
        body: { tags: [{ Key: 'env', Value: 'prod' }] },
      }),
    );
    for (const resourceArn of [`${base}:thing/t`, `${base}:thingtype/tt`, `${base}:thinggroup/g`]) {
      ok(
        await r.call('TagResource', {
          body: {
            resourceArn,
            tags: [
              { Key: 'owner', Value: 'ops' },
              { Key: 'cost', Value: '' },
            ],
          },
        }),
      );
      ok(
        await r.call('TagResource', {
          body: { resourceArn, tags: [{ Key: 'owner', Value: 'field' }] },
        }),
      );
      const listed = ok(await r.call('ListTagsForResource', { query: { resourceArn } })).tags as {
        Key: string;
      }[];
      assert.deepEqual(
        listed.filter((tag) => tag.Key !== 'env'),
        [
          { Key: 'cost', Value: '' },
          { Key: 'owner', Value: 'field' },
        ],
      );
      ok(await r.call('UntagResource', { body: { resourceArn, tagKeys: ['cost', 'absent'] } }));
      assert.deepEqual(
        (
          ok(await r.call('ListTagsForResource', { query: { resourceArn } })).tags as {
            Key: string;
          }[]
        ).map((tag) => tag.Key),
        resourceArn.endsWith('thinggroup/g') ? ['env', 'owner'] : ['owner'],
      );
    }
    // Tags do not change a resource's version.
    assert.equal(ok(await r.call('DescribeThing', { params: { thingName: 't' } })).version, 1);
    fails(
      await r.call('TagResource', {
        body: { resourceArn: `${base}:thing/ghost`, tags: [{ Key: 'a', Value: 'b' }] },
      }),
      'ResourceNotFoundException',
    );
    fails(
      await r.call('ListTagsForResource', {
        query: { resourceArn: `arn:aws:iot:${REGION}:999999999999:thing/t` },
      }),
      'ResourceNotFoundException',
    );
    fails(
      await r.call('TagResource', {
        body: { resourceArn: `${base}:thing/t`, tags: [{ Key: 'aws:owner', Value: 'x' }] },
      }),
      'InvalidRequestException',
      /reserved/,
    );
    fails(
      await r.call('TagResource', { body: { resourceArn: `${base}:thing/t` } }),
      'InvalidRequestException',
      /'tags'/,
    );
    fails(
      await r.call('ListTagsForResource', { query: {} }),
      'InvalidRequestException',
      /'resourceArn'/,
    );
  },
);

engineTest('at most 50 tags per resource: LimitExceededException (410)', async (r) => {
  ok(await r.call('CreateThingType', { params: { thingTypeName: 'tt' } }));
  const tags = (from: number, count: number) =>
    Array.from({ length: count }, (_, i) => ({ Key: `k${from + i}`, Value: 'v' }));
  const resourceArn = `${base}:thingtype/tt`;
  ok(await r.call('TagResource', { body: { resourceArn, tags: tags(0, 50) } }));
  const refused = fails(
    await r.call('TagResource', { body: { resourceArn, tags: tags(50, 1) } }),
    'LimitExceededException',
  );
  assert.equal(refused.status, 410);
  fails(
    await r.call('CreateThingGroup', {
      params: { thingGroupName: 'g' },
      body: { tags: tags(0, 51) },
    }),
    'LimitExceededException',
  );
});

engineTest('event configurations: all disabled by default, enabled per type', async (r) => {
  const initial = ok(await r.call('DescribeEventConfigurations'));
  const configurations = initial.eventConfigurations as Record<string, { Enabled: boolean }>;
  assert.equal(Object.keys(configurations).length, 11);
  assert.ok(Object.values(configurations).every((c) => c.Enabled === false));
  assert.equal(initial.creationDate, undefined);
  ok(await r.call('CreateThing', { params: { thingName: 'quiet' } }));
  assert.deepEqual(r.events, []);
  ok(
    await r.call('UpdateEventConfigurations', {
      body: {
        eventConfigurations: {
          THING: { Enabled: true },
          THING_GROUP_MEMBERSHIP: { Enabled: true },
        },
      },
    }),
  );
  const described = ok(await r.call('DescribeEventConfigurations'));
  assert.equal(
    (described.eventConfigurations as Record<string, { Enabled: boolean }>).THING?.Enabled,
    true,
  );
  assert.equal(typeof described.creationDate, 'number');
  assert.equal(typeof described.lastModifiedDate, 'number');
  fails(
    await r.call('UpdateEventConfigurations', {
      body: { eventConfigurations: { NOT_A_TYPE: { Enabled: true } } },
    }),
    'InvalidRequestException',
    /eventConfigurations/,
  );
});

engineTest(
  'registry events: AWS topics and payloads, only for enabled types, only for committed writes',
  async (r) => {
    ok(
      await r.call('UpdateEventConfigurations', {
        body: {
          eventConfigurations: Object.fromEntries(
            [
              'THING',
              'THING_TYPE',
              'THING_GROUP',
              'THING_GROUP_MEMBERSHIP',
              'THING_GROUP_HIERARCHY',
              'THING_TYPE_ASSOCIATION',
            ].map((type) => [type, { Enabled: true }]),
          ),
        },
      }),
    );
    ok(
      await r.call('CreateThingType', {
        params: { thingTypeName: 'T' },
        body: { thingTypeProperties: { thingTypeDescription: 'd' } },
      }),
    );
    const thing = ok(
      await r.call('CreateThing', {
        params: { thingName: 'MyThing' },
        body: { thingTypeName: 'T', attributePayload: { attributes: { a: '1' } } },
      }),
    );
    ok(
      await r.call('UpdateThing', {
        params: { thingName: 'MyThing' },
        body: { attributePayload: { attributes: { a: '2' } } },
      }),
    );
    fails(
      await r.call('UpdateThing', {
        params: { thingName: 'MyThing' },
        body: { expectedVersion: 1 },
      }),
      'VersionConflictException',
    );
    ok(await r.call('CreateThingGroup', { params: { thingGroupName: 'Parent' } }));
    ok(
      await r.call('CreateThingGroup', {
        params: { thingGroupName: 'Child' },
        body: { parentGroupName: 'Parent' },
      }),
    );
    ok(
      await r.call('AddThingToThingGroup', {
        body: { thingGroupName: 'Child', thingName: 'MyThing' },
      }),
    );
    ok(await r.call('DeleteThing', { params: { thingName: 'MyThing' } }));
    assert.deepEqual(
      r.events.map((event) => event.topic),
      [
        '$aws/events/thingType/T/created',
        '$aws/events/thing/MyThing/created',
        '$aws/events/thingTypeAssociation/thing/MyThing/T',
        '$aws/events/thing/MyThing/updated',
        '$aws/events/thingGroup/Parent/created',
        '$aws/events/thingGroup/Child/created',
        '$aws/events/thingGroupHierarchy/thingGroup/Parent/childThingGroup/Child/added',
        '$aws/events/thingGroupMembership/thingGroup/Child/thing/MyThing/added',
        '$aws/events/thingGroupMembership/thingGroup/Child/thing/MyThing/removed',
        '$aws/events/thing/MyThing/deleted',
        '$aws/events/thingTypeAssociation/thing/MyThing/T',
      ],
    );
    const created = r.events[1]?.payload as Record<string, unknown>;
    assert.deepEqual(Object.keys(created), [
      'eventType',
      'eventId',
      'timestamp',
      'operation',
      'accountId',
      'thingId',
      'thingName',
      'versionNumber',
      'thingTypeName',
      'attributes',
    ]);
    assert.equal(created.eventType, 'THING_EVENT');
    assert.equal(created.operation, 'CREATED');
    assert.equal(created.accountId, ACCOUNT_ID);
    assert.equal(created.thingId, thing.thingId);
    assert.equal(created.versionNumber, 1);
    assert.equal(created.thingTypeName, 'T');
    assert.deepEqual(created.attributes, { a: '1' });
    assert.ok(Math.abs((created.timestamp as number) - Date.now()) < 60_000, 'timestamp in ms');
    const updated = r.events[3]?.payload as Record<string, unknown>;
    assert.equal(updated.versionNumber, 2);
    assert.deepEqual(updated.attributes, { a: '2' });
    const child = r.events[5]?.payload as Record<string, unknown>;
    assert.equal(child.eventType, 'THING_GROUP_EVENT');
    assert.equal(child.parentGroupName, 'Parent');
    const membership = r.events[7]?.payload as Record<string, unknown>;
    assert.equal(membership.eventType, 'THING_GROUP_MEMBERSHIP_EVENT');
    assert.equal(membership.operation, 'ADDED');
    assert.equal(membership.thingArn, `${base}:thing/MyThing`);
    assert.equal(membership.groupArn, `${base}:thinggroup/Child`);
    assert.match(membership.membershipId as string, /^[0-9a-f-]{36}$/);
    assert.equal(
      (r.events[8]?.payload as Record<string, unknown>).membershipId,
      membership.membershipId,
    );
    assert.equal((r.events[10]?.payload as Record<string, unknown>).operation, 'DELETED');
    // Disabling stops them.
    ok(
      await r.call('UpdateEventConfigurations', {
        body: { eventConfigurations: { THING: { Enabled: false } } },
      }),
    );
    const before = r.events.length;
    ok(await r.call('CreateThing', { params: { thingName: 'after' } }));
    assert.equal(r.events.length, before);
  },
);
