import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { isBulwarkError, type ErrorCode } from '../../src/errors.js';
import { rewrapAll, countOnOldVersions, UNREADABLE, type Row } from '../../src/store/index.js';
import type { Migration } from '../../src/store/types.js';
import {
  fixtureMigrations,
  newLocation,
  openHarness,
  openHarnessAt,
  RECORDS,
  type Harness,
} from '../helpers/store-harness.js';

async function rejectsWith(
  promise: Promise<unknown>,
  code: ErrorCode,
  messagePart?: string,
): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isBulwarkError(error), `expected a BulwarkError ${code}, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    if (messagePart) assert.match(error.message, new RegExp(messagePart.replace(/[/.]/g, '\\$&')));
    return true;
  });
}

function record(id: string, thing: string | null, document: unknown, extra: Row = {}): Row {
  return {
    id,
    thing,
    status: 'ACTIVE',
    version: 1,
    active: true,
    document,
    payload: null,
    ...extra,
  };
}

/**
 * The behaviour every storage engine must show. Each engine's test file runs this suite against
 * a real database: SQLite files in a temp dir, PostgreSQL in a schema of the test's own.
 */
export function storeSuite(kind: 'sqlite' | 'postgres'): void {
  const withStore = (name: string, body: (h: Harness) => Promise<void>) =>
    test(`${kind}: ${name}`, async (t) => {
      const harness = await openHarness(t, kind);
      if (harness) await body(harness);
    });

  withStore('round-trips plaintext columns, JSON documents and bytes', async ({ store }) => {
    const bytes = randomBytes(300);
    await store.put(
      RECORDS,
      record(
        'r1',
        'thing-a',
        { temperature: 21.5, tags: ['a', 'b'], nested: { ok: true } },
        { payload: bytes, active: false, version: 7 },
      ),
    );
    const row = await store.get(RECORDS, { id: 'r1' });
    assert.deepEqual(row, {
      id: 'r1',
      thing: 'thing-a',
      status: 'ACTIVE',
      version: 7,
      active: false,
      document: { temperature: 21.5, tags: ['a', 'b'], nested: { ok: true } },
      payload: bytes,
    });
    assert.equal(await store.get(RECORDS, { id: 'missing' }), undefined);
  });

  withStore('put replaces a row; insert refuses an existing key', async ({ store }) => {
    await store.insert(RECORDS, record('r1', null, { n: 1 }));
    await store.put(RECORDS, record('r1', null, { n: 2 }));
    assert.deepEqual((await store.get(RECORDS, { id: 'r1' }))?.document, { n: 2 });
    await rejectsWith(store.insert(RECORDS, record('r1', null, { n: 3 })), 'StoreConstraint');
    assert.deepEqual((await store.get(RECORDS, { id: 'r1' }))?.document, { n: 2 });
  });

  withStore(
    'lists by plaintext columns in key order, pages by key, counts and deletes',
    async ({ store }) => {
      for (let i = 0; i < 25; i++)
        await store.put(
          RECORDS,
          record(`r${String(i).padStart(2, '0')}`, i % 2 ? 'odd' : 'even', { i }),
        );
      const odd = await store.list(RECORDS, { where: { thing: 'odd' } });
      assert.equal(odd.length, 12);
      assert.deepEqual(
        odd.map((row) => (row.document as { i: number }).i),
        [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23],
      );
      const pages: string[][] = [];
      let after: Row | undefined;
      for (;;) {
        const page = await store.list(RECORDS, { limit: 10, ...(after ? { after } : {}) });
        if (page.length === 0) break;
        pages.push(page.map((row) => row.id as string));
        after = { id: page[page.length - 1]?.id };
      }
      assert.deepEqual(
        pages.map((page) => page.length),
        [10, 10, 5],
      );
      const newestOdd = await store.list(RECORDS, {
        where: { thing: 'odd' },
        newestFirst: true,
        limit: 2,
      });
      assert.deepEqual(
        newestOdd.map((row) => row.id),
        ['r23', 'r21'],
      );
      assert.equal(await store.count(RECORDS), 25);
      assert.equal(await store.count(RECORDS, { thing: 'even' }), 13);
      assert.equal(await store.delete(RECORDS, { id: 'r00' }), true);
      assert.equal(await store.delete(RECORDS, { id: 'r00' }), false);
      assert.equal(await store.count(RECORDS), 24);
    },
  );

  withStore(
    'a transaction commits all its writes together, or none when it fails',
    async ({ store }) => {
      await store.transaction(async (tx) => {
        await tx.put(RECORDS, record('a', null, { n: 1 }));
        await tx.put(RECORDS, record('b', null, { n: 2 }));
      });
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.put(RECORDS, record('c', null, { n: 3 }));
          await tx.insert(RECORDS, record('a', null, { n: 4 }));
        }),
      );
      assert.deepEqual(
        (await store.list(RECORDS)).map((row) => row.id),
        ['a', 'b'],
      );
      assert.deepEqual((await store.get(RECORDS, { id: 'a' }))?.document, { n: 1 });
    },
  );

  withStore(
    'a marker written through the store never appears in the raw database bytes',
    async ({ store, rawBytes }) => {
      const marker = `MARKER-${randomBytes(8).toString('hex')}`;
      for (let i = 0; i < 50; i++) {
        await store.put(
          RECORDS,
          record(
            `m${i}`,
            i % 2 ? 'thing-a' : null,
            { secret: marker, i },
            { payload: Buffer.from(`${marker} in bytes`) },
          ),
        );
      }
      const big = `${marker}-`.repeat(500);
      await store.put(RECORDS, record('big', null, { big }));
      const bytes = await rawBytes();
      assert.ok(bytes.length > 0, 'read some database bytes');
      // The plaintext columns are there (so the raw read is real), the sealed marker is not.
      assert.ok(
        bytes.includes(Buffer.from('thing-a')),
        'raw bytes hold the plaintext lookup column',
      );
      assert.equal(bytes.indexOf(Buffer.from(marker)), -1, 'marker found in raw database bytes');
      assert.equal(
        (await store.get(RECORDS, { id: 'big' }))?.document &&
          ((await store.get(RECORDS, { id: 'big' }))?.document as { big: string }).big,
        big,
      );
    },
  );

  withStore(
    'a sealed value copied into another row or column fails to open',
    async ({ store, raw }) => {
      await store.put(
        RECORDS,
        record('victim', 'thing-a', { owner: 'alice' }, { payload: Buffer.from('alice bytes') }),
      );
      await store.put(RECORDS, record('attacker', 'thing-a', { owner: 'mallory' }));
      const [victim] = await raw(`SELECT document, payload FROM ${RECORDS} WHERE id = ?`, [
        'victim',
      ]);
      await raw(`UPDATE ${RECORDS} SET document = ? WHERE id = ?`, [
        victim?.document as Buffer,
        'attacker',
      ]);
      await rejectsWith(
        store.get(RECORDS, { id: 'attacker' }),
        'SealedContextMismatch',
        `${RECORDS}.document`,
      );
      await raw(`UPDATE ${RECORDS} SET payload = ? WHERE id = ?`, [
        victim?.document as Buffer,
        'victim',
      ]);
      await rejectsWith(
        store.get(RECORDS, { id: 'victim' }),
        'SealedContextMismatch',
        `${RECORDS}.payload`,
      );
    },
  );

  withStore(
    'an altered sealed value is reported as tampered, never returned',
    async ({ store, raw }) => {
      await store.put(RECORDS, record('r1', null, { reading: 42 }));
      const [row] = await raw(`SELECT document FROM ${RECORDS} WHERE id = ?`, ['r1']);
      const altered = Buffer.from(row?.document as Buffer);
      altered[altered.length - 20] = (altered[altered.length - 20] as number) ^ 0x01;
      await raw(`UPDATE ${RECORDS} SET document = ? WHERE id = ?`, [altered, 'r1']);
      await rejectsWith(store.get(RECORDS, { id: 'r1' }), 'SealedValueTampered');
    },
  );

  withStore(
    'rotate: old records open, new ones use the new version; rewrap leaves none on the old version',
    async ({ store, kms }) => {
      for (let i = 0; i < 30; i++) await store.put(RECORDS, record(`old${i}`, null, { i }));
      const rotated = await kms.rotateKey(kms.getDefaultKeyId());
      assert.equal(rotated.currentVersion, 2);
      await store.put(RECORDS, record('new', null, { fresh: true }));
      const [newRow] = await store.scanSealed(RECORDS, { id: 'mzzz' }, 1);
      assert.equal(newRow?.key.id, 'new');
      assert.equal(kms.describeSealed(newRow?.sealed.document as Buffer).keyVersion, 2);
      const [oldRow] = await store.scanSealed(RECORDS, { id: 'nzzz' }, 1);
      assert.equal(oldRow?.key.id, 'old0');
      assert.equal(kms.describeSealed(oldRow?.sealed.document as Buffer).keyVersion, 1);
      assert.deepEqual((await store.get(RECORDS, { id: 'old7' }))?.document, { i: 7 });
      assert.equal(await countOnOldVersions(store), 30);

      const progress: number[] = [];
      const report = await rewrapAll(store, {
        batchSize: 7,
        onProgress: ({ done }) => progress.push(done),
      });
      assert.equal(report.rewrapped, 30);
      assert.equal(report.remaining, 0);
      assert.ok(
        progress.length >= 4 && progress[progress.length - 1] === 30,
        `progress reported per batch: ${progress.join(',')}`,
      );
      for (const { sealed } of await store.scanSealed(RECORDS, undefined, 100)) {
        assert.equal(kms.describeSealed(sealed.document as Buffer).keyVersion, 2);
      }
      for (let i = 0; i < 30; i++)
        assert.deepEqual((await store.get(RECORDS, { id: `old${i}` }))?.document, { i });
    },
  );

  withStore(
    'disable: reads fail with the specific error naming the key; enable: readable again',
    async ({ store, kms }) => {
      const key = await kms.createKey('tenant data');
      await kms.setDefaultKey(key.keyId);
      await store.put(RECORDS, record('under-cmk', null, { v: 1 }));
      await kms.setDefaultKey('bulwark/service');
      await store.put(RECORDS, record('under-service', null, { v: 2 }));
      await kms.disableKey(key.keyId);
      await rejectsWith(store.get(RECORDS, { id: 'under-cmk' }), 'KeyDisabled', key.keyId);
      assert.deepEqual((await store.get(RECORDS, { id: 'under-service' }))?.document, { v: 2 });
      const marked = await store.list(RECORDS, { onUnreadable: 'mark' });
      const unreadable = marked.find((row) => row.id === 'under-cmk') as Row & {
        [UNREADABLE]?: Record<string, { code: string }>;
      };
      assert.equal(unreadable.document, undefined);
      assert.equal(unreadable[UNREADABLE]?.document?.code, 'KeyDisabled');
      await kms.enableKey(key.keyId);
      assert.deepEqual((await store.get(RECORDS, { id: 'under-cmk' }))?.document, { v: 1 });
    },
  );

  withStore(
    'scheduled deletion makes data unreadable with its own error; cancelling leaves the key disabled',
    async ({ store, kms }) => {
      const key = await kms.createKey();
      await kms.setDefaultKey(key.keyId);
      await store.put(RECORDS, record('r1', null, { v: 1 }));
      await kms.setDefaultKey('bulwark/service');
      const scheduled = await kms.scheduleKeyDeletion(key.keyId, 7);
      assert.equal(scheduled.keyState, 'PendingDeletion');
      await rejectsWith(store.get(RECORDS, { id: 'r1' }), 'KeyPendingDeletion', key.keyId);
      assert.throws(
        () => kms.destroyKey(key.keyId),
        (error: unknown) => isBulwarkError(error, 'KeyInvalidState'),
      );
      assert.equal((await kms.cancelKeyDeletion(key.keyId)).keyState, 'Disabled');
      await rejectsWith(store.get(RECORDS, { id: 'r1' }), 'KeyDisabled');
      await kms.enableKey(key.keyId);
      assert.deepEqual((await store.get(RECORDS, { id: 'r1' }))?.document, { v: 1 });
    },
  );

  withStore(
    "destroying a thing's key erases that thing's records and leaves the rest readable",
    async ({ store, kms }) => {
      for (let i = 0; i < 5; i++) {
        await store.put(RECORDS, record(`a${i}`, 'thing-a', { owner: 'a', i }));
        await store.put(RECORDS, record(`b${i}`, 'thing-b', { owner: 'b', i }));
      }
      await store.put(RECORDS, record('shared', null, { owner: 'nobody' }));
      const receipt = kms.eraseScope('thing/thing-a');
      assert.equal(receipt.keyId, 'scope/thing/thing-a');
      assert.equal(receipt.scope, 'thing/thing-a');
      assert.ok(receipt.dataKeysDestroyed >= 1 && receipt.keyVersionsDestroyed === 1);
      assert.ok(!Number.isNaN(Date.parse(receipt.erasedAt)));
      await rejectsWith(store.get(RECORDS, { id: 'a3' }), 'KeyErased', 'erased');
      for (let i = 0; i < 5; i++)
        assert.deepEqual((await store.get(RECORDS, { id: `b${i}` }))?.document, { owner: 'b', i });
      assert.deepEqual((await store.get(RECORDS, { id: 'shared' }))?.document, { owner: 'nobody' });
      const marked = await store.list(RECORDS, {
        where: { thing: 'thing-a' },
        onUnreadable: 'mark',
      });
      assert.equal(marked.length, 5);
      assert.ok(
        marked.every(
          (row) =>
            (row as { [UNREADABLE]?: Record<string, { code: string }> })[UNREADABLE]?.document
              ?.code === 'KeyErased',
        ),
      );
      // Plaintext lookups still work, so an operator can find and delete the erased rows.
      assert.equal(await store.count(RECORDS, { thing: 'thing-a' }), 5);
      // A new value for the erased thing cannot be written under the destroyed key.
      await rejectsWith(store.put(RECORDS, record('a9', 'thing-a', { again: true })), 'KeyErased');
    },
  );

  withStore(
    'a copy of the data taken before an erase, restored afterwards, still cannot be opened',
    async ({ store, kms, raw }) => {
      await store.put(RECORDS, record('keep', 'thing-keep', { v: 'kept' }));
      await store.put(RECORDS, record('gone', 'thing-gone', { v: 'gone' }));
      await raw(`CREATE TABLE ${RECORDS}_backup AS SELECT * FROM ${RECORDS}`);
      kms.eraseScope('thing/thing-gone');
      await raw(`DELETE FROM ${RECORDS}`);
      await raw(`INSERT INTO ${RECORDS} SELECT * FROM ${RECORDS}_backup`);
      await raw(`DROP TABLE ${RECORDS}_backup`);
      assert.deepEqual((await store.get(RECORDS, { id: 'keep' }))?.document, { v: 'kept' });
      await rejectsWith(store.get(RECORDS, { id: 'gone' }), 'KeyErased');
    },
  );
}

/** Migrations: recorded once, applied in order, and a database from a newer Bulwark refused. */
export function migrationSuite(kind: 'sqlite' | 'postgres'): void {
  test(`${kind}: migrations apply once, add columns, and refuse a database migrated by a newer version`, async (t) => {
    const location = await newLocation(t, kind);
    if (!location) return;
    const first = await openHarnessAt(location);
    await first.store.put(RECORDS, record('r1', null, { v: 1 }));
    await first.close();

    const withNotes: Migration[] = [
      ...fixtureMigrations,
      {
        id: 'test-0002-notes',
        steps: [
          { addColumn: { table: RECORDS, name: 'notes', column: 'sealed' } },
          { addColumn: { table: RECORDS, name: 'region', column: { type: 'text' } } },
        ],
      },
    ];
    const second = await openHarnessAt(location, withNotes);
    assert.deepEqual(
      (await second.store.get(RECORDS, { id: 'r1' }))?.notes,
      null,
      'existing rows get the new column empty',
    );
    await second.store.put(
      RECORDS,
      record('r2', null, { v: 2 }, { notes: { text: 'sealed note' }, region: 'eu' }),
    );
    assert.deepEqual(await second.store.get(RECORDS, { id: 'r2' }), {
      ...record('r2', null, { v: 2 }),
      notes: { text: 'sealed note' },
      region: 'eu',
    });
    const [applied] = await second.raw('SELECT COUNT(*) AS n FROM bulwark_migrations');
    assert.equal(Number(applied?.n), 2);
    await second.close();

    const reopened = await openHarnessAt(location, withNotes);
    const [again] = await reopened.raw('SELECT COUNT(*) AS n FROM bulwark_migrations');
    assert.equal(Number(again?.n), 2, 'nothing re-applied');
    await reopened.close();

    await assert.rejects(openHarnessAt(location), (error: unknown) => {
      assert.ok(isBulwarkError(error, 'StoreSchemaInvalid'), String(error));
      assert.match(
        error.message,
        /migrated by a newer Bulwark \(unknown migrations: test-0002-notes\)/,
      );
      return true;
    });
  });
}
