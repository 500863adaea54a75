// Last-accessed data as the access report needs it: noted off the request path, each (user,
// action) written at most once a minute per process, a failed write logged and retried but never
// thrown, the resource sealed at rest; and the report's window, judged on an injected clock.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { migrations } from '../../src/app/migrations.js';
import { servedActionCatalogue } from '../../src/app/served-api.js';
import { AccessReports } from '../../src/iam/access-report.js';
import { IamAuthorizer } from '../../src/iam/authorize.js';
import {
  LAST_ACCESSED_WRITE_INTERVAL_MS,
  LastAccessedRecorder,
} from '../../src/iam/last-accessed.js';
import { createIamQueryServices } from '../../src/iam/query/index.js';
import type { Logger } from '../../src/logs/logger.js';
import type { Row, Store } from '../../src/store/index.js';
import { newLocation, openHarnessAt } from '../helpers/store-harness.js';

const ACCOUNT_ID = '123456789012';
const DAY_MS = 24 * 60 * 60 * 1000;
const thing = (name: string) => `arn:aws:iot:us-east-1:${ACCOUNT_ID}:thing/${name}`;
const alice = { userName: 'alice', principalId: 'AIDAALICE' };
const aliceUser = { userName: 'alice', userId: 'AIDAALICE', createDate: new Date(0) };

/** A logger that keeps what was logged at error level. */
function errorLog(): { logger: Logger; errors: unknown[][] } {
  const errors: unknown[][] = [];
  return {
    logger: { error: (...args: unknown[]) => errors.push(args) } as unknown as Logger,
    errors,
  };
}

/** Last-accessed rows in memory, writes counted; `failing` makes every transaction fail. */
function memoryStore() {
  const rows = new Map<string, Row>();
  const state = { writes: 0, failing: false };
  const keyOf = (row: Row) => `${row.user_name as string}/${row.action as string}`;
  const tx = {
    get: async (_table: string, key: Row) => rows.get(keyOf(key)),
    put: async (_table: string, row: Row) => {
      state.writes++;
      rows.set(keyOf(row), row);
    },
  };
  const store = {
    transaction: async (work: (writer: typeof tx) => Promise<unknown>) => {
      if (state.failing) throw new Error('disk I/O error');
      return work(tx);
    },
    list: async () => [...rows.values()],
  } as unknown as Store;
  return { store, rows, state };
}

/** Moves the mocked timers on, then lets the writes they start finish. */
async function advance(t: TestContext, ms: number): Promise<void> {
  t.mock.timers.tick(ms);
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
}

test('each (user, action) is written at most once a minute, in batches, off the request path', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let clock = 0;
  const memory = memoryStore();
  const recorder = new LastAccessedRecorder({
    store: memory.store,
    logger: errorLog().logger,
    now: () => clock,
  });
  for (let call = 0; call < 100; call++) recorder.record(alice, 'iot:DescribeThing', thing('a'));
  recorder.record(alice, 'iot:ListThings', '*');
  assert.equal(memory.state.writes, 0, 'nothing is written while the calls are made');

  clock = 1_000;
  await advance(t, 1_000);
  assert.equal(memory.state.writes, 2, 'one row per (user, action), written together');

  clock = 30_000;
  recorder.record(alice, 'iot:DescribeThing', thing('b'));
  clock = 31_000;
  await advance(t, 1_000);
  assert.equal(memory.state.writes, 2, 'not written again within the minute');
  assert.deepEqual(
    (await recorder.lastAccessOf(aliceUser)).find((use) => use.action === 'iot:DescribeThing'),
    { action: 'iot:DescribeThing', at: 30_000, resource: thing('b') },
    'the report sees the use not written yet',
  );

  clock = 1_000 + LAST_ACCESSED_WRITE_INTERVAL_MS;
  await advance(t, clock - 31_000);
  assert.equal(memory.state.writes, 3, 'written once the minute is over');
  assert.equal(memory.rows.get('alice/iot:DescribeThing')?.resource, thing('b'));

  // Closing writes what is left, due or not.
  clock += 5_000;
  recorder.record(alice, 'iot:DescribeThing', thing('c'));
  await recorder.close();
  assert.equal(memory.state.writes, 4);
  assert.equal(memory.rows.get('alice/iot:DescribeThing')?.resource, thing('c'));
});

test('a failed write is logged without the resource, never thrown, and retried a minute later', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  let clock = 0;
  const memory = memoryStore();
  const { logger, errors } = errorLog();
  const recorder = new LastAccessedRecorder({ store: memory.store, logger, now: () => clock });
  memory.state.failing = true;
  recorder.record(alice, 'iot:DescribeThing', thing('a'));
  clock = 1_000;
  await advance(t, 1_000);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]?.[1]), /could not write last-accessed data/);
  assert.doesNotMatch(JSON.stringify(errors), /thing\/a/);

  memory.state.failing = false;
  clock += LAST_ACCESSED_WRITE_INTERVAL_MS;
  await advance(t, LAST_ACCESSED_WRITE_INTERVAL_MS);
  assert.equal(memory.state.writes, 1, 'retried once the minute is over');
  assert.equal(memory.rows.get('alice/iot:DescribeThing')?.resource, thing('a'));
  await recorder.close();
});

test('the resource is sealed at rest, and the window decides what counts as used', async (t) => {
  const location = await newLocation(t, 'sqlite');
  assert.ok(location);
  const harness = await openHarnessAt(location, migrations);
  t.after(() => harness.close());
  const iam = createIamQueryServices(harness.store, ACCOUNT_ID);
  const user = await iam.users.createUser('alice');
  await iam.inlinePolicies.put(
    { type: 'user', name: 'alice' },
    'job',
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['iot:DescribeThing', 'iot:ListThings', 'iot:CreateThing'],
          Resource: '*',
        },
      ],
    }),
  );
  let clock = Date.parse('2026-01-01T00:00:00Z');
  const recorder = new LastAccessedRecorder({
    store: harness.store,
    logger: errorLog().logger,
    now: () => clock,
  });
  recorder.record(
    { userName: 'alice', principalId: user.userId },
    'iot:DescribeThing',
    thing('boiler-in-flat-7'),
  );
  await recorder.close();
  assert.ok(!(await harness.rawBytes()).includes('boiler-in-flat-7'), 'the resource is sealed');

  const reports = new AccessReports({
    authorizer: new IamAuthorizer(iam, 'us-east-1'),
    users: iam.users,
    arns: iam.arns,
    lastAccessed: recorder,
    now: () => clock,
  });
  const catalogue = servedActionCatalogue();
  clock += 10 * DAY_MS;
  const month = await reports.reportFor('alice', 30, catalogue);
  assert.equal(month.usedSince.toISOString(), '2025-12-12T00:00:00.000Z');
  const describedInMonth = month.actions.find((entry) => entry.action === 'iot:DescribeThing');
  assert.equal(describedInMonth?.used, true);
  assert.equal(describedInMonth?.finding, undefined);

  const week = await reports.reportFor('alice', 7, catalogue);
  const describedInWeek = week.actions.find((entry) => entry.action === 'iot:DescribeThing');
  assert.equal(describedInWeek?.used, false, 'used ten days ago: not within a week');
  assert.equal(describedInWeek?.finding, 'UnusedPermission');
  assert.deepEqual(describedInWeek?.lastAccessed, {
    action: 'iot:DescribeThing',
    at: Date.parse('2026-01-01T00:00:00Z'),
    resource: thing('boiler-in-flat-7'),
  });

  // A new user of the same name does not inherit the uses of the one deleted.
  await iam.inlinePolicies.delete({ type: 'user', name: 'alice' }, 'job');
  await iam.users.deleteUser('alice');
  await iam.users.createUser('alice');
  assert.deepEqual((await reports.reportFor('alice', 30, catalogue)).actions, []);
});
