import assert from 'node:assert/strict';
import { test } from 'node:test';
import { countOnOldVersions, rewrapAll } from '../../src/store/index.js';
import { readLinesUntil, startFixture, waitForExit } from '../helpers/child.js';
import { newLocation, openHarnessAt, RECORDS } from '../helpers/store-harness.js';

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`${kind}: kill -9 during a burst of committed writes loses none of them`, async (t) => {
    const location = await newLocation(t, kind);
    if (!location) return;
    const writer = startFixture(t, 'burst-writer.ts', [JSON.stringify(location)]);
    const acked: string[] = [];
    await readLinesUntil(writer, (line) => {
      if (line.startsWith('ack ')) acked.push(line.slice(4));
      return acked.length >= 300;
    });
    writer.kill('SIGKILL');
    const { signal } = await waitForExit(writer);
    assert.equal(signal, 'SIGKILL');

    const harness = await openHarnessAt(location);
    t.after(() => harness.close());
    for (const id of acked) {
      const row = await harness.store.get(RECORDS, { id });
      assert.ok(row, `acknowledged record ${id} survived the kill`);
      const seq = Number(id.slice('burst-'.length));
      assert.deepEqual(row.document, { seq });
      assert.deepEqual(row.payload, Buffer.from(`payload ${seq}`));
    }
    assert.ok((await harness.store.count(RECORDS)) >= acked.length);
  });

  test(`${kind}: a rewrap killed part-way resumes and finishes with every record intact`, async (t) => {
    const location = await newLocation(t, kind);
    if (!location) return;
    const setup = await openHarnessAt(location);
    const total = 1500;
    await setup.store.transaction(async (tx) => {
      for (let i = 0; i < total; i++) {
        await tx.put(RECORDS, {
          id: `r${String(i).padStart(5, '0')}`,
          thing: i % 10 === 0 ? 'thing-x' : null,
          status: 'ACTIVE',
          version: i,
          active: true,
          document: { i },
          payload: null,
        });
      }
    });
    await setup.kms.rotateKey('bulwark/service');
    await setup.kms.rotateKey('scope/thing/thing-x');
    assert.equal(await countOnOldVersions(setup.store), total);
    await setup.close();

    const worker = startFixture(t, 'rewrap-worker.ts', [JSON.stringify(location)]);
    await readLinesUntil(
      worker,
      (line) => line.startsWith('progress ') && Number(line.split(' ')[1]) >= 100,
    );
    worker.kill('SIGKILL');
    await waitForExit(worker);

    const harness = await openHarnessAt(location);
    t.after(() => harness.close());
    const left = await countOnOldVersions(harness.store);
    assert.ok(left > 0 && left < total, `the kill landed part-way (${left} of ${total} left)`);
    const report = await rewrapAll(harness.store, { batchSize: 100 });
    assert.equal(report.remaining, 0);
    assert.equal(report.rewrapped, left);
    for (let i = 0; i < total; i += 1) {
      const row = await harness.store.get(RECORDS, { id: `r${String(i).padStart(5, '0')}` });
      assert.deepEqual(row?.document, { i });
    }
  });
}
