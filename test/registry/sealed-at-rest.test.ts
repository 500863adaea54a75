import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ok, openRegistry, fails } from './harness.js';

const MARKER = 'serial-4711-SECRETMARKER';

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`attributes, descriptions and tags are sealed at rest: no row holds the plaintext [${kind}]`, async (t) => {
    const r = await openRegistry(t, kind);
    if (!r) return;
    ok(
      await r.call('CreateThing', {
        params: { thingName: 'sealed-thing' },
        body: { attributePayload: { attributes: { serial: MARKER } } },
      }),
    );
    ok(
      await r.call('CreateThingType', {
        params: { thingTypeName: 'sealed-type' },
        body: {
          thingTypeProperties: { thingTypeDescription: `type ${MARKER}` },
          tags: [{ Key: 'k', Value: MARKER }],
        },
      }),
    );
    ok(
      await r.call('CreateThingGroup', {
        params: { thingGroupName: 'sealed-group' },
        body: {
          thingGroupProperties: {
            thingGroupDescription: `group ${MARKER}`,
            attributePayload: { attributes: { a: MARKER } },
          },
        },
      }),
    );
    for (const table of ['registry_things', 'registry_thing_types', 'registry_thing_groups']) {
      const rows: Record<string, unknown>[] = await r.store.raw(`SELECT * FROM ${table}`);
      for (const row of rows) {
        for (const value of Object.values(row)) {
          const bytes: Buffer = Buffer.isBuffer(value) ? value : Buffer.from(String(value));
          assert.equal(bytes.includes(MARKER), false, `${table} holds the marker in plaintext`);
        }
      }
    }
    assert.deepEqual(
      ok(await r.call('DescribeThing', { params: { thingName: 'sealed-thing' } })).attributes,
      { serial: MARKER },
    );
  });
}

test('the raw SQLite files (database and WAL) never hold an attribute value in plaintext', async (t) => {
  const r = await openRegistry(t, 'sqlite');
  assert.ok(r);
  ok(
    await r.call('CreateThing', {
      params: { thingName: 'device' },
      body: { attributePayload: { attributes: { serial: MARKER } } },
    }),
  );
  ok(
    await r.call('UpdateThing', {
      params: { thingName: 'device' },
      body: { attributePayload: { attributes: { serial2: MARKER }, merge: true } },
    }),
  );
  const bytes = await r.store.rawBytes();
  assert.ok(bytes.length > 0);
  assert.equal(bytes.includes(Buffer.from(MARKER)), false);
  assert.ok(bytes.includes(Buffer.from('device')), 'the name is plaintext, as an index key');
});

test("erasing a thing's key (crypto-shredding) makes its attributes unreadable; listings go on", async (t) => {
  const r = await openRegistry(t, 'sqlite');
  assert.ok(r);
  ok(
    await r.call('CreateThing', {
      params: { thingName: 'erased' },
      body: { attributePayload: { attributes: { serial: MARKER } } },
    }),
  );
  ok(
    await r.call('CreateThing', {
      params: { thingName: 'kept' },
      body: { attributePayload: { attributes: { a: 'b' } } },
    }),
  );
  r.store.kms.eraseScope('thing/erased');
  fails(
    await r.call('DescribeThing', { params: { thingName: 'erased' } }),
    'KMSInvalidStateException',
  );
  const listed = ok(await r.call('ListThings')).things as {
    thingName: string;
    attributes: object;
  }[];
  assert.deepEqual(
    listed.map((thing) => [thing.thingName, thing.attributes]),
    [
      ['erased', {}],
      ['kept', { a: 'b' }],
    ],
  );
});
