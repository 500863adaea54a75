import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fails, ok, openRegistry, type RegistryHarness } from './harness.js';

async function registry(t: Parameters<typeof openRegistry>[0]): Promise<RegistryHarness> {
  const r = await openRegistry(t, 'sqlite');
  assert.ok(r);
  return r;
}

test('bad names are InvalidRequestException naming the field, in AWS validation wording', async (t) => {
  const r = await registry(t);
  const bad = fails(
    await r.call('CreateThing', { params: { thingName: 'has space' } }),
    'InvalidRequestException',
  );
  assert.equal(bad.status, 400);
  assert.equal(
    bad.message,
    "1 validation error detected: Value at 'thingName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+",
  );
  fails(
    await r.call('CreateThing', { params: { thingName: 'x'.repeat(129) } }),
    'InvalidRequestException',
    /'thingName'.*length less than or equal to 128/,
  );
  fails(
    await r.call('CreateThing', { params: { thingName: '' } }),
    'InvalidRequestException',
    /'thingName'/,
  );
  fails(
    await r.call('CreateThingType', { params: { thingTypeName: 'bad/name' } }),
    'InvalidRequestException',
    /'thingTypeName'/,
  );
  fails(
    await r.call('CreateThingGroup', { params: { thingGroupName: 'gr\u00fcn' } }),
    'InvalidRequestException',
    /'thingGroupName'/,
  );
  fails(
    await r.call('CreateThing', {
      params: { thingName: 'ok' },
      body: { thingTypeName: 'no spaces allowed' },
    }),
    'InvalidRequestException',
    /'thingTypeName'/,
  );
  ok(await r.call('CreateThing', { params: { thingName: 'arn:colon_and-dash:1' } }));
});

test('bad attribute names and values are refused naming the field, without echoing the value', async (t) => {
  const r = await registry(t);
  const secret = 'secret value with spaces';
  const badValue = fails(
    await r.call('CreateThing', {
      params: { thingName: 't' },
      body: { attributePayload: { attributes: { serial: secret } } },
    }),
    'InvalidRequestException',
    /'attributePayload\.attributes\.serial'.*regular expression pattern/,
  );
  assert.ok(!badValue.message.includes(secret), 'the value is not echoed');
  const long = 'v'.repeat(801);
  const tooLong = fails(
    await r.call('CreateThing', {
      params: { thingName: 't' },
      body: { attributePayload: { attributes: { serial: long } } },
    }),
    'InvalidRequestException',
    /less than or equal to 800/,
  );
  assert.ok(!tooLong.message.includes(long));
  fails(
    await r.call('CreateThing', {
      params: { thingName: 't' },
      body: { attributePayload: { attributes: { 'bad name': 'v' } } },
    }),
    'InvalidRequestException',
    /'attributePayload\.attributes'.*Map keys/,
  );
  fails(
    await r.call('CreateThing', {
      params: { thingName: 't' },
      body: { attributePayload: { attributes: { n: 5 } } },
    }),
    'InvalidRequestException',
    /'attributePayload\.attributes\.n'.*string/,
  );
  fails(
    await r.call('UpdateThing', {
      params: { thingName: 't' },
      body: { attributePayload: { merge: 'yes' } },
    }),
    'InvalidRequestException',
    /'attributePayload\.merge'/,
  );
  fails(
    await r.call('UpdateThing', { params: { thingName: 't' }, body: { expectedVersion: '1' } }),
    'InvalidRequestException',
    /'expectedVersion'/,
  );
  // The allowed punctuation of AWS's value pattern is accepted, and so is a name like __proto__.
  ok(
    await r.call('CreateThing', {
      params: { thingName: 't' },
      body: {
        attributePayload: {
          attributes: { __proto__x: 'a=b[1],c@d/e:f#g-h_i.j', ['__proto__']: 'p' },
        },
      },
    }),
  );
  assert.deepEqual(ok(await r.call('DescribeThing', { params: { thingName: 't' } })).attributes, {
    __proto__x: 'a=b[1],c@d/e:f#g-h_i.j',
    ['__proto__']: 'p',
  });
});

test('bodies that are not JSON objects, and wrongly typed members, are InvalidRequestException', async (t) => {
  const r = await registry(t);
  fails(
    await r.call('CreateThing', { params: { thingName: 't' }, body: [1, 2] }),
    'InvalidRequestException',
    /JSON object/,
  );
  fails(
    await r.call('CreateThing', { params: { thingName: 't' }, body: 'text' }),
    'InvalidRequestException',
    /JSON object/,
  );
  fails(
    await r.call('CreateThing', { params: { thingName: 't' }, body: { attributePayload: [] } }),
    'InvalidRequestException',
    /'attributePayload'/,
  );
  fails(
    await r.call('CreateThingType', {
      params: { thingTypeName: 'T' },
      body: { thingTypeProperties: { thingTypeDescription: 'tab\tis not allowed' } },
    }),
    'InvalidRequestException',
    /'thingTypeProperties\.thingTypeDescription'/,
  );
  fails(
    await r.call('CreateThingType', {
      params: { thingTypeName: 'T' },
      body: { thingTypeProperties: { searchableAttributes: 'color' } },
    }),
    'InvalidRequestException',
    /'thingTypeProperties\.searchableAttributes'.*list/,
  );
  fails(
    await r.call('CreateThingGroup', {
      params: { thingGroupName: 'g' },
      body: { tags: [{ Key: '', Value: 'v' }] },
    }),
    'InvalidRequestException',
    /'tags\.1\.member\.Key'/,
  );
  fails(
    await r.call('CreateThingGroup', {
      params: { thingGroupName: 'g' },
      body: { tags: [{ Key: 'k', Value: 'v'.repeat(257) }] },
    }),
    'InvalidRequestException',
    /'tags\.1\.member\.Value'.*256/,
  );
  fails(
    await r.call('ListThings', { query: { usePrefixAttributeValue: 'maybe' } }),
    'InvalidRequestException',
    /'usePrefixAttributeValue'/,
  );
  fails(
    await r.call('DeleteThing', { params: { thingName: 't' }, query: { expectedVersion: 'one' } }),
    'InvalidRequestException',
    /'expectedVersion'/,
  );
  fails(
    await r.call('DeprecateThingType', {
      params: { thingTypeName: 'T' },
      body: { undoDeprecate: 1 },
    }),
    'InvalidRequestException',
    /'undoDeprecate'/,
  );
});
