import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import {
  ACK_WAIT_MS,
  SessionStore,
  sessionMigrations,
  type StoredMessage,
} from '../../src/broker/session-store.js';
import { newLocation, openHarnessAt } from '../helpers/store-harness.js';

// The session store's write-behind on a real sealed SQLite store: what waits for an
// acknowledgement, what is written, and in which order.

async function openSessionStore(t: TestContext) {
  const location = await newLocation(t, 'sqlite');
  assert.ok(location);
  const harness = await openHarnessAt(location, sessionMigrations);
  t.after(() => harness.close());
  return new SessionStore(harness.store);
}

function queued(seq: number, payload: string): StoredMessage {
  return {
    seq,
    stage: 'queued',
    delivery: {
      message: {
        topic: 'devices/d1/telemetry',
        payload: Buffer.from(payload),
        qos: 1,
        retain: false,
        properties: {},
      },
      qos: 1,
      retain: false,
      subscriptionIdentifiers: [],
      seq,
    },
  };
}

async function storedPayloads(sessions: SessionStore): Promise<string[]> {
  const { messages } = await sessions.messagePage(undefined, 100);
  return messages.map((message) => `${message.clientId}:${message.payload.toString()}`);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test('a delivery acknowledged while it waits is never written, and its commit settles at the acknowledgement', async (t) => {
  const sessions = await openSessionStore(t);
  let settled = false;
  const committed = sessions
    .commit([{ clientId: 'sub', message: queued(0, 'fast') }], undefined, ACK_WAIT_MS)
    .then(() => (settled = true));
  // Timers fire in order: this one runs before the flush could.
  await sleep(ACK_WAIT_MS / 2);
  assert.equal(settled, false, 'the commit waits for the acknowledgement, not written at once');
  await sessions.removeMessage('sub', 0);
  await committed;
  await sleep(3 * ACK_WAIT_MS);
  assert.deepEqual(await storedPayloads(sessions), []);
});

test('a delivery not acknowledged in time is written before its commit settles', async (t) => {
  const sessions = await openSessionStore(t);
  await sessions.commit([{ clientId: 'sub', message: queued(0, 'slow') }], undefined, ACK_WAIT_MS);
  assert.deepEqual(await storedPayloads(sessions), ['sub:slow']);
  // Its delete waits too, but reaches the store.
  await sessions.removeMessage('sub', 0);
  assert.deepEqual(await storedPayloads(sessions), []);
});

test('a write that cannot wait takes the waiting writes asked for before it along, in order', async (t) => {
  const sessions = await openSessionStore(t);
  const held = sessions.commit(
    [{ clientId: 'gone', message: queued(0, 'held') }],
    undefined,
    ACK_WAIT_MS,
  );
  const kept = sessions.commit([{ clientId: 'kept', message: queued(0, 'kept') }]);
  // Written after the held delivery, the delete leaves nothing of the session behind.
  await sessions.deleteSession('gone');
  await Promise.all([held, kept]);
  assert.deepEqual(await storedPayloads(sessions), ['kept:kept']);
});

test('closing writes what still waits', async (t) => {
  const sessions = await openSessionStore(t);
  await sessions.commit([{ clientId: 'sub', message: queued(0, 'first') }]);
  const waiting = sessions.commit(
    [{ clientId: 'sub', message: queued(1, 'second') }],
    undefined,
    ACK_WAIT_MS,
  );
  const removed = sessions.removeMessage('sub', 0);
  await sessions.close();
  assert.deepEqual(await storedPayloads(sessions), ['sub:second'], 'written at close, not later');
  await Promise.all([waiting, removed]);
});
