import assert from 'node:assert/strict';
import { ACCOUNT_ID, engineTest, fails, ok, REGION } from './harness.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

engineTest(
  'CreateThing returns name, ARN and a UUID id; DescribeThing returns AWS shape',
  async (r) => {
    const created = ok(
      await r.call('CreateThing', {
        params: { thingName: 'lamp-1' },
        body: { attributePayload: { attributes: { model: 'x1', serial: 'sn-4711' } } },
      }),
    );
    assert.equal(created.thingName, 'lamp-1');
    assert.equal(created.thingArn, `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thing/lamp-1`);
    assert.match(created.thingId as string, UUID);
    const described = ok(await r.call('DescribeThing', { params: { thingName: 'lamp-1' } }));
    assert.deepEqual(described, {
      defaultClientId: 'lamp-1',
      thingName: 'lamp-1',
      thingArn: created.thingArn,
      thingId: created.thingId,
      attributes: { model: 'x1', serial: 'sn-4711' },
      version: 1,
    });
  },
);

engineTest(
  'CreateThing is idempotent for identical arguments; different ones are ResourceAlreadyExists with resourceId/resourceArn',
  async (r) => {
    const request = {
      params: { thingName: 'dup' },
      body: { attributePayload: { attributes: { a: '1' } } },
    };
    const first = ok(await r.call('CreateThing', request));
    assert.deepEqual(ok(await r.call('CreateThing', request)), first);
    const conflict = fails(
      await r.call('CreateThing', {
        params: { thingName: 'dup' },
        body: { attributePayload: { attributes: { a: '2' } } },
      }),
      'ResourceAlreadyExistsException',
      /dup already exists/,
    );
    assert.equal(conflict.status, 409);
    assert.deepEqual(conflict.details, { resourceId: first.thingId, resourceArn: first.thingArn });
    ok(await r.call('CreateThingType', { params: { thingTypeName: 'T' } }));
    fails(
      await r.call('CreateThing', {
        params: { thingName: 'dup' },
        body: { thingTypeName: 'T', attributePayload: { attributes: { a: '1' } } },
      }),
      'ResourceAlreadyExistsException',
    );
  },
);

engineTest(
  'CreateThing: an unknown thing type is ResourceNotFound, a deprecated one InvalidRequest',
  async (r) => {
    fails(
      await r.call('CreateThing', { params: { thingName: 't' }, body: { thingTypeName: 'nope' } }),
      'ResourceNotFoundException',
      /Thing type nope/,
    );
    ok(await r.call('CreateThingType', { params: { thingTypeName: 'old' } }));
    ok(await r.call('DeprecateThingType', { params: { thingTypeName: 'old' } }));
    fails(
      await r.call('CreateThing', { params: { thingName: 't' }, body: { thingTypeName: 'old' } }),
      'InvalidRequestException',
      /deprecated/,
    );
    fails(
      await r.call('DescribeThing', { params: { thingName: 't' } }),
      'ResourceNotFoundException',
    );
  },
);

engineTest('attributes: at most 3 without a thing type, 50 with one', async (r) => {
  const attributes = (n: number) =>
    Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, `v${i}`]));
  ok(
    await r.call('CreateThing', {
      params: { thingName: 'three' },
      body: { attributePayload: { attributes: attributes(3) } },
    }),
  );
  fails(
    await r.call('CreateThing', {
      params: { thingName: 'four' },
      body: { attributePayload: { attributes: attributes(4) } },
    }),
    'InvalidRequestException',
    /at most 3 attributes/,
  );
  ok(await r.call('CreateThingType', { params: { thingTypeName: 'big' } }));
  ok(
    await r.call('CreateThing', {
      params: { thingName: 'fifty' },
      body: { thingTypeName: 'big', attributePayload: { attributes: attributes(50) } },
    }),
  );
  fails(
    await r.call('CreateThing', {
      params: { thingName: 'fifty-one' },
      body: { thingTypeName: 'big', attributePayload: { attributes: attributes(51) } },
    }),
    'InvalidRequestException',
    /at most 50 attributes/,
  );
  // Removing the type of a thing with 50 attributes would leave it over the untyped limit.
  fails(
    await r.call('UpdateThing', {
      params: { thingName: 'fifty' },
      body: { removeThingType: true },
    }),
    'InvalidRequestException',
    /at most 3 attributes/,
  );
});

engineTest(
  'UpdateThing merges (an empty value removes), replaces without merge, bumps the version',
  async (r) => {
    ok(
      await r.call('CreateThing', {
        params: { thingName: 'm' },
        body: { attributePayload: { attributes: { a: '1', b: '2' } } },
      }),
    );
    ok(
      await r.call('UpdateThing', {
        params: { thingName: 'm' },
        body: { attributePayload: { attributes: { b: '', c: '3' }, merge: true } },
      }),
    );
    let thing = ok(await r.call('DescribeThing', { params: { thingName: 'm' } }));
    assert.deepEqual(thing.attributes, { a: '1', c: '3' });
    assert.equal(thing.version, 2);
    ok(
      await r.call('UpdateThing', {
        params: { thingName: 'm' },
        body: { attributePayload: { attributes: { z: '9' } } },
      }),
    );
    thing = ok(await r.call('DescribeThing', { params: { thingName: 'm' } }));
    assert.deepEqual(thing.attributes, { z: '9' });
    assert.equal(thing.version, 3);
    // No attributePayload: attributes unchanged, version still moves.
    ok(await r.call('UpdateThing', { params: { thingName: 'm' }, body: {} }));
    thing = ok(await r.call('DescribeThing', { params: { thingName: 'm' } }));
    assert.deepEqual(thing.attributes, { z: '9' });
    assert.equal(thing.version, 4);
  },
);

engineTest(
  'UpdateThing: expectedVersion mismatch is VersionConflict; types set and removed',
  async (r) => {
    ok(await r.call('CreateThing', { params: { thingName: 'v' } }));
    const conflict = fails(
      await r.call('UpdateThing', { params: { thingName: 'v' }, body: { expectedVersion: 7 } }),
      'VersionConflictException',
      /The version for thing v does not match the expected version\./,
    );
    assert.equal(conflict.status, 409);
    ok(await r.call('UpdateThing', { params: { thingName: 'v' }, body: { expectedVersion: 1 } }));
    ok(await r.call('CreateThingType', { params: { thingTypeName: 'sensor' } }));
    ok(
      await r.call('UpdateThing', {
        params: { thingName: 'v' },
        body: { thingTypeName: 'sensor' },
      }),
    );
    assert.equal(
      ok(await r.call('DescribeThing', { params: { thingName: 'v' } })).thingTypeName,
      'sensor',
    );
    fails(
      await r.call('UpdateThing', {
        params: { thingName: 'v' },
        body: { thingTypeName: 'sensor', removeThingType: true },
      }),
      'InvalidRequestException',
    );
    ok(
      await r.call('UpdateThing', { params: { thingName: 'v' }, body: { removeThingType: true } }),
    );
    const thing = ok(await r.call('DescribeThing', { params: { thingName: 'v' } }));
    assert.equal(thing.thingTypeName, undefined);
    assert.equal(thing.version, 4);
    fails(
      await r.call('UpdateThing', { params: { thingName: 'ghost' }, body: {} }),
      'ResourceNotFoundException',
    );
  },
);

engineTest('concurrent updates with the same expectedVersion: exactly one wins', async (r) => {
  ok(await r.call('CreateThing', { params: { thingName: 'race' } }));
  const answers = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      r.call('UpdateThing', {
        params: { thingName: 'race' },
        body: { expectedVersion: 1, attributePayload: { attributes: { writer: `w${i}` } } },
      }),
    ),
  );
  assert.equal(answers.filter((answer) => answer.ok).length, 1);
  for (const answer of answers.filter((a) => !a.ok)) fails(answer, 'VersionConflictException');
  assert.equal(ok(await r.call('DescribeThing', { params: { thingName: 'race' } })).version, 2);
});

engineTest('DeleteThing: silent when absent, honours expectedVersion', async (r) => {
  ok(await r.call('DeleteThing', { params: { thingName: 'never-was' } }));
  ok(await r.call('CreateThing', { params: { thingName: 'gone' } }));
  fails(
    await r.call('DeleteThing', { params: { thingName: 'gone' }, query: { expectedVersion: '5' } }),
    'VersionConflictException',
  );
  ok(
    await r.call('DeleteThing', { params: { thingName: 'gone' }, query: { expectedVersion: '1' } }),
  );
  fails(
    await r.call('DescribeThing', { params: { thingName: 'gone' } }),
    'ResourceNotFoundException',
  );
  // The name can be used again, with a new id.
  ok(await r.call('CreateThing', { params: { thingName: 'gone' } }));
});

engineTest(
  'ListThings pages with nextToken; a bad token or maxResults is InvalidRequest',
  async (r) => {
    for (let i = 0; i < 30; i++)
      ok(
        await r.call('CreateThing', { params: { thingName: `dev-${String(i).padStart(2, '0')}` } }),
      );
    const names: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = ok(
        await r.call('ListThings', {
          query: { maxResults: '10', ...(token ? { nextToken: token } : {}) },
        }),
      );
      pages += 1;
      for (const thing of page.things as {
        thingName: string;
        thingArn: string;
        attributes: object;
        version: number;
      }[]) {
        names.push(thing.thingName);
        assert.deepEqual(thing.attributes, {});
        assert.equal(thing.version, 1);
        assert.equal(
          thing.thingArn,
          `arn:aws:iot:${REGION}:${ACCOUNT_ID}:thing/${thing.thingName}`,
        );
      }
      token = page.nextToken as string | undefined;
    } while (token);
    assert.equal(pages, 3);
    assert.equal(names.length, 30);
    assert.equal(new Set(names).size, 30);
    fails(
      await r.call('ListThings', { query: { nextToken: 'garbage!' } }),
      'InvalidRequestException',
      /nextToken/,
    );
    const other = ok(await r.call('ListThingTypes', { query: {} }));
    assert.equal(other.nextToken, undefined);
    const foreign = Buffer.from(JSON.stringify({ l: 'ListThingGroups', a: 'x' })).toString(
      'base64url',
    );
    fails(
      await r.call('ListThings', { query: { nextToken: foreign } }),
      'InvalidRequestException',
      /nextToken/,
    );
    fails(
      await r.call('ListThings', { query: { maxResults: '0' } }),
      'InvalidRequestException',
      /maxResults/,
    );
    fails(
      await r.call('ListThings', { query: { maxResults: '251' } }),
      'InvalidRequestException',
      /maxResults/,
    );
    fails(
      await r.call('ListThings', { query: { maxResults: 'ten' } }),
      'InvalidRequestException',
      /maxResults/,
    );
    assert.equal(
      (ok(await r.call('ListThings', { query: { maxResults: '250' } })).things as unknown[]).length,
      30,
    );
  },
);

engineTest(
  'ListThings filters by type and by searchable attribute, exact or by prefix',
  async (r) => {
    ok(
      await r.call('CreateThingType', {
        params: { thingTypeName: 'bulb' },
        body: { thingTypeProperties: { searchableAttributes: ['color'] } },
      }),
    );
    const create = (name: string, body: object) =>
      r.call('CreateThing', { params: { thingName: name }, body });
    ok(await create('red-untyped', { attributePayload: { attributes: { color: 'red' } } }));
    ok(
      await create('red-bulb', {
        thingTypeName: 'bulb',
        attributePayload: { attributes: { color: 'red', size: 'L' } },
      }),
    );
    ok(
      await create('reddish-bulb', {
        thingTypeName: 'bulb',
        attributePayload: { attributes: { color: 'reddish' } },
      }),
    );
    ok(
      await create('big-bulb', {
        thingTypeName: 'bulb',
        attributePayload: { attributes: { size: 'L' } },
      }),
    );
    const names = async (query: Record<string, string>) =>
      (ok(await r.call('ListThings', { query })).things as { thingName: string }[]).map(
        (t) => t.thingName,
      );
    assert.deepEqual(await names({ thingTypeName: 'bulb' }), [
      'big-bulb',
      'red-bulb',
      'reddish-bulb',
    ]);
    assert.deepEqual(await names({ attributeName: 'color', attributeValue: 'red' }), [
      'red-bulb',
      'red-untyped',
    ]);
    assert.deepEqual(
      await names({
        attributeName: 'color',
        attributeValue: 'red',
        usePrefixAttributeValue: 'true',
      }),
      ['red-bulb', 'red-untyped', 'reddish-bulb'],
    );
    // `size` is not searchable for things of type bulb.
    assert.deepEqual(await names({ attributeName: 'size', attributeValue: 'L' }), []);
    assert.deepEqual(
      await names({ thingTypeName: 'bulb', attributeName: 'color', attributeValue: 'red' }),
      ['red-bulb'],
    );
    // Filtered listings page too.
    const first = ok(
      await r.call('ListThings', {
        query: {
          attributeName: 'color',
          attributeValue: 'red',
          usePrefixAttributeValue: 'true',
          maxResults: '2',
        },
      }),
    );
    assert.equal((first.things as unknown[]).length, 2);
    const second = ok(
      await r.call('ListThings', {
        query: {
          attributeName: 'color',
          attributeValue: 'red',
          usePrefixAttributeValue: 'true',
          maxResults: '2',
          nextToken: first.nextToken as string,
        },
      }),
    );
    assert.deepEqual(
      (second.things as { thingName: string }[]).map((t) => t.thingName),
      ['reddish-bulb'],
    );
    assert.equal(second.nextToken, undefined);
  },
);

engineTest(
  'ListThingPrincipals: empty for an existing thing, ResourceNotFound otherwise',
  async (r) => {
    ok(await r.call('CreateThing', { params: { thingName: 'p' } }));
    assert.deepEqual(ok(await r.call('ListThingPrincipals', { params: { thingName: 'p' } })), {
      principals: [],
    });
    fails(
      await r.call('ListThingPrincipals', { params: { thingName: 'q' } }),
      'ResourceNotFoundException',
    );
  },
);

engineTest('a billing group cannot be named: none exists in Bulwark', async (r) => {
  fails(
    await r.call('CreateThing', { params: { thingName: 'b' }, body: { billingGroupName: 'bg' } }),
    'ResourceNotFoundException',
    /Billing group bg/,
  );
});
