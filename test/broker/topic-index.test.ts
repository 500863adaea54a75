import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  matchesFilter,
  TopicIndex,
  type Subscription,
  type TopicMatches,
} from '../../src/broker/topics/topic-index.js';
import { parseSharedFilter } from '../../src/broker/topics/topic-validation.js';

/** The spec's matching rule written the obvious way, to check the trie and matchesFilter against. */
function naiveMatches(filter: string, topicName: string): boolean {
  const filterLevels = filter.split('/');
  const topicLevels = topicName.split('/');
  const first = filterLevels[0];
  if (topicName.startsWith('$') && (first === '+' || first === '#')) return false;
  for (let i = 0; i < filterLevels.length; i++) {
    if (filterLevels[i] === '#') return true;
    if (i >= topicLevels.length) return false;
    if (filterLevels[i] !== '+' && filterLevels[i] !== topicLevels[i]) return false;
  }
  return filterLevels.length === topicLevels.length;
}

/** The client ids that match a topic through non-shared subscriptions, sorted. */
function clientsMatching(index: TopicIndex<number>, topicName: string): string[] {
  return index
    .match(topicName)
    .subscriptions.map((s) => s.clientId)
    .sort();
}

/** Each matching subscription as "client filter", sorted. */
function matchedPairs(matches: TopicMatches<unknown>): string[] {
  return matches.subscriptions.map((s) => `${s.clientId} ${s.filter}`).sort();
}

function indexOf(filters: string[]): TopicIndex<number> {
  const index = new TopicIndex<number>();
  filters.forEach((filter, position) => index.add(filter, filter, position));
  return index;
}

/** Asserts which of `filters` match each topic, through the index and through matchesFilter. */
function assertMatching(filters: string[], expected: Record<string, string[]>): void {
  const index = indexOf(filters);
  for (const [topicName, matching] of Object.entries(expected)) {
    assert.deepEqual(clientsMatching(index, topicName), [...matching].sort(), `topic ${topicName}`);
    for (const filter of filters) {
      const should = matching.includes(filter);
      assert.equal(matchesFilter(filter, topicName), should, `${filter} vs ${topicName}`);
    }
  }
}

test('[MQTT-4.7.1-2] a/# matches a itself and every level below it (the spec, not AWS)', () => {
  assertMatching(['sport/#', 'sport/tennis/#', '#'], {
    sport: ['sport/#', '#'],
    'sport/': ['sport/#', '#'],
    'sport/tennis': ['sport/#', 'sport/tennis/#', '#'],
    'sport/tennis/player1/ranking': ['sport/#', 'sport/tennis/#', '#'],
    sports: ['#'],
    spor: ['#'],
    'other/sport': ['#'],
  });
});

test('[MQTT-4.7.1-3] + matches exactly one level, an empty one included', () => {
  assertMatching(['a/+', '+', '+/+', '+/b', 'a/+/c', '/+'], {
    a: ['+'],
    'a/b': ['a/+', '+/+', '+/b'],
    'a/': ['a/+', '+/+'],
    '/': ['+/+', '/+'],
    '/b': ['+/+', '+/b', '/+'],
    'a/b/c': ['a/+/c'],
    'a//c': ['a/+/c'],
    'a/b/c/d': [],
  });
});

test('[MQTT-4.7.1-2] [MQTT-4.7.1-3] + and # combine: +/# matches one level and more', () => {
  assertMatching(['+/#', 'a/+/#', '+/+/#'], {
    a: ['+/#'],
    'a/b': ['+/#', 'a/+/#', '+/+/#'],
    'a/b/c': ['+/#', 'a/+/#', '+/+/#'],
    'x/b': ['+/#', '+/+/#'],
  });
});

test('[MQTT-4.7.2-1] a filter starting with a wildcard does not match a topic starting with $', () => {
  assertMatching(['#', '+/monitor/Clients', '+/#', '$SYS/#', '$SYS/monitor/+', 'a/#'], {
    '$SYS/monitor/Clients': ['$SYS/#', '$SYS/monitor/+'],
    $SYS: ['$SYS/#'],
    '$aws/things/t/shadow/update': [],
    'x/monitor/Clients': ['#', '+/monitor/Clients', '+/#'],
    // Only the first character counts: '$' deeper in a topic is an ordinary character.
    'a/$b': ['#', '+/#', 'a/#'],
  });
  const index = new TopicIndex<number>();
  index.add('worker', '$share/g/#', 1);
  index.add('worker', '$share/h/$SYS/#', 1);
  assert.deepEqual(
    index.match('$SYS/x').sharedGroups.map((group) => group.shareName),
    ['h'],
    'shared filters follow the same rule',
  );
});

test('[MQTT-4.7.3-4] levels match exactly: case-sensitive, no normalisation', () => {
  const composed = 'caf\u00e9';
  const decomposed = 'cafe\u0301';
  assertMatching(['Sensors/Temp', 'sensors/temp', `${composed}/+`, 'a b/#'], {
    'sensors/temp': ['sensors/temp'],
    'Sensors/Temp': ['Sensors/Temp'],
    'SENSORS/TEMP': [],
    [`${composed}/x`]: [`${composed}/+`],
    [`${decomposed}/x`]: [],
    'a b/c': ['a b/#'],
    'a/c': [],
  });
});

test('[MQTT-4.7.3-4] empty levels are levels: a//b, a/ and /a are distinct topics', () => {
  assertMatching(['a//b', 'a/b', 'a/', '/a', 'a', '/', '//'], {
    'a//b': ['a//b'],
    'a/b': ['a/b'],
    'a/': ['a/'],
    '/a': ['/a'],
    a: ['a'],
    '/': ['/'],
    '//': ['//'],
  });
});

test('[MQTT-3.8.4-3] add replaces the value of an existing subscription and says it existed', () => {
  const index = new TopicIndex<string>();
  assert.equal(index.add('c1', 'a/+', 'qos0'), false);
  assert.equal(index.add('c1', 'a/+', 'qos1'), true);
  assert.equal(index.size, 1);
  const [only, ...rest] = index.match('a/b').subscriptions;
  assert.deepEqual(rest, []);
  assert.deepEqual(only, { clientId: 'c1', filter: 'a/+', value: 'qos1' });
  assert.deepEqual(index.subscriptionsOf('c1'), [only]);
});

test('[MQTT-3.3.4-2] a client matches once per filter but once for each overlapping filter', () => {
  const index = new TopicIndex<number>();
  index.add('c1', 'a/b', 0);
  index.add('c1', 'a/+', 1);
  index.add('c1', '#', 2);
  index.add('c2', 'a/+', 1);
  assert.deepEqual(matchedPairs(index.match('a/b')), ['c1 #', 'c1 a/+', 'c1 a/b', 'c2 a/+']);
  assert.deepEqual(matchedPairs(index.match('a/c')), ['c1 #', 'c1 a/+', 'c2 a/+']);
});

test('remove and removeClient say what they removed and keep the counts', () => {
  const index = new TopicIndex<number>();
  index.add('c1', 'a/b', 1);
  index.add('c1', 'a/#', 1);
  index.add('c1', '$share/g/a/b', 1);
  index.add('c2', 'a/b', 2);
  assert.equal(index.size, 4);
  assert.equal(index.clientCount, 2);

  assert.equal(index.remove('c1', 'a/b'), true);
  assert.equal(index.remove('c1', 'a/b'), false, 'already gone');
  assert.equal(index.remove('c3', 'a/b'), false, 'unknown client');
  assert.equal(index.remove('c2', 'a/#'), false, 'another client’s filter');
  assert.deepEqual(matchedPairs(index.match('a/b')), ['c1 a/#', 'c2 a/b']);
  assert.equal(index.size, 3);

  assert.equal(index.removeClient('c1'), 2);
  assert.equal(index.removeClient('c1'), 0);
  assert.deepEqual(index.subscriptionsOf('c1'), []);
  assert.deepEqual(matchedPairs(index.match('a/b')), ['c2 a/b']);
  assert.deepEqual(index.match('a/b').sharedGroups, []);
  assert.equal(index.size, 1);
  assert.equal(index.clientCount, 1);
});

test('subscriptionsOf lists a client’s subscriptions, shared ones whole, for its session', () => {
  const index = new TopicIndex<{ qos: number }>();
  index.add('c1', 'a/+', { qos: 1 });
  index.add('c1', '$share/g/b/#', { qos: 0 });
  index.add('c2', 'x', { qos: 2 });
  assert.deepEqual(index.subscriptionsOf('c1'), [
    { clientId: 'c1', filter: 'a/+', value: { qos: 1 } },
    { clientId: 'c1', filter: '$share/g/b/#', value: { qos: 0 } },
  ]);
  assert.deepEqual(index.subscriptionsOf('nobody'), []);
});

test('removing every subscription prunes the trie back to its root', () => {
  const index = new TopicIndex<number>();
  const filters = ['a/b/c', 'a/b/#', 'a/+/c', '+/+', '#', '$share/g/a/b/c', '$share/h/+/x/#', 'a'];
  for (const client of ['c1', 'c2']) for (const filter of filters) index.add(client, filter, 0);
  assert.ok(index.nodeCount > 1);
  for (const filter of filters) index.remove('c1', filter);
  const grown = index.nodeCount;
  index.removeClient('c2');
  assert.ok(grown > 1);
  assert.equal(index.nodeCount, 1);
  assert.equal(index.size, 0);
  assert.equal(index.clientCount, 0);
  assert.deepEqual(index.match('a/b/c'), { subscriptions: [], sharedGroups: [] });
});

test('[MQTT-4.8.2-1] shared subscriptions form one group per ShareName and filter', () => {
  const index = new TopicIndex<number>();
  index.add('w1', '$share/workers/jobs/+', 1);
  index.add('w2', '$share/workers/jobs/+', 1);
  index.add('w3', '$share/auditors/jobs/+', 1);
  index.add('w1', '$share/workers/jobs/#', 1);
  index.add('watcher', 'jobs/+', 0);

  const matches = index.match('jobs/42');
  assert.deepEqual(matchedPairs(matches), ['watcher jobs/+'], 'a non-shared subscription apart');
  const groups = matches.sharedGroups
    .map((group) => ({
      shareName: group.shareName,
      filter: group.filter,
      members: group.members.map((member) => member.clientId).sort(),
    }))
    .sort((a, b) => `${a.shareName} ${a.filter}`.localeCompare(`${b.shareName} ${b.filter}`));
  assert.deepEqual(groups, [
    { shareName: 'auditors', filter: 'jobs/+', members: ['w3'] },
    { shareName: 'workers', filter: 'jobs/#', members: ['w1'] },
    { shareName: 'workers', filter: 'jobs/+', members: ['w1', 'w2'] },
  ]);
  for (const group of matches.sharedGroups) {
    for (const member of group.members) {
      assert.equal(member.filter, `$share/${group.shareName}/${group.filter}`);
    }
  }
  assert.deepEqual(index.match('other/42').sharedGroups, []);
});

test('[MQTT-4.8.2-1] pick takes a group’s members round-robin, skipping ineligible ones', () => {
  const index = new TopicIndex<number>();
  for (const worker of ['w1', 'w2', 'w3']) index.add(worker, '$share/g/jobs', 0);
  const [group] = index.match('jobs').sharedGroups;
  assert.ok(group);
  const picks = Array.from({ length: 6 }, () => group.pick()?.clientId);
  assert.deepEqual(picks, ['w1', 'w2', 'w3', 'w1', 'w2', 'w3']);

  const online = new Set(['w1', 'w3']);
  const eligible = (member: Subscription<number>): boolean => online.has(member.clientId);
  const onlinePicks = Array.from({ length: 4 }, () => group.pick(eligible)?.clientId);
  assert.deepEqual(onlinePicks, ['w1', 'w3', 'w1', 'w3']);
  assert.equal(
    group.pick(() => false),
    undefined,
  );

  // The group object stays the same while members come and go; its last member leaving ends it.
  index.remove('w2', '$share/g/jobs');
  assert.equal(index.match('jobs').sharedGroups[0], group);
  assert.deepEqual(group.members.map((member) => member.clientId).sort(), ['w1', 'w3']);
  index.remove('w1', '$share/g/jobs');
  assert.equal(group.pick()?.clientId, 'w3');
  index.removeClient('w3');
  assert.deepEqual(index.match('jobs').sharedGroups, []);
  assert.equal(index.nodeCount, 1);
});

test('one client may belong to several groups and subscribe non-shared to the same filter', () => {
  const index = new TopicIndex<number>();
  index.add('c1', '$share/g/a', 1);
  index.add('c1', '$share/h/a', 2);
  index.add('c1', 'a', 3);
  assert.equal(index.add('c1', '$share/g/a', 4), true, 'same shared filter replaces');
  assert.equal(index.size, 3);
  const matches = index.match('a');
  assert.deepEqual(matchedPairs(matches), ['c1 a']);
  const values = matches.sharedGroups.map((group) => group.pick()?.value).sort();
  assert.deepEqual(values, [2, 4]);
});

test('add refuses an invalid filter with a RangeError: the caller validates first', () => {
  const index = new TopicIndex<number>();
  for (const filter of ['', 'a/#/b', 'a+', '$share/g', '$share//a', 'a\u0000b']) {
    assert.throws(() => index.add('c1', filter, 0), RangeError, JSON.stringify(filter));
  }
  assert.equal(index.size, 0);
  assert.equal(index.nodeCount, 1);
});

test('match returns the stored subscription objects, not copies', () => {
  const index = new TopicIndex<{ qos: number }>();
  index.add('c1', 'a/#', { qos: 1 });
  const first = index.match('a/b').subscriptions[0];
  assert.equal(index.match('a/c').subscriptions[0], first);
  assert.equal(index.subscriptionsOf('c1')[0], first);
});

/** Deterministic pseudo-random numbers in [0, 1) (mulberry32). */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Few, short level values so that random filters and topics collide often; '$x' and '' exercise
// the $ rule and empty levels, 'A' case-sensitivity.
const LEVELS = ['a', 'b', 'A', '', '$x', 'é', 'ab'];

function randomTopic(random: () => number): string {
  const count = 1 + Math.floor(random() * 5);
  const topicName = Array.from(
    { length: count },
    () => LEVELS[Math.floor(random() * LEVELS.length)],
  );
  // A single empty level is an empty, invalid topic [MQTT-4.7.3-1]; '/' is two empty levels.
  return topicName.join('/') || '/';
}

function randomFilter(random: () => number): string {
  const count = 1 + Math.floor(random() * 5);
  const levels = Array.from({ length: count }, () => {
    const roll = random();
    if (roll < 0.2) return '+';
    return LEVELS[Math.floor(random() * LEVELS.length)] as string;
  });
  if (random() < 0.25) levels[count - 1] = '#';
  const filter = levels.join('/') || '/';
  return random() < 0.2 ? `$share/${random() < 0.5 ? 'g' : 'h'}/${filter}` : filter;
}

test('randomized: the trie matches exactly what the naive matcher does, through adds and removals', () => {
  const random = seededRandom(20240611);
  const index = new TopicIndex<number>();
  const model = new Map<string, Map<string, number>>();
  const clients = Array.from({ length: 40 }, (_, n) => `client-${n}`);
  let checkedTopics = 0;

  for (let step = 0; step < 6000; step++) {
    const clientId = clients[Math.floor(random() * clients.length)] as string;
    const roll = random();
    if (roll < 0.7) {
      const filter = randomFilter(random);
      const ofClient = model.get(clientId) ?? new Map<string, number>();
      assert.equal(index.add(clientId, filter, step), ofClient.has(filter));
      ofClient.set(filter, step);
      model.set(clientId, ofClient);
    } else if (roll < 0.97) {
      const owned = [...(model.get(clientId)?.keys() ?? [])];
      const filter =
        owned.length > 0 && random() < 0.8
          ? (owned[Math.floor(random() * owned.length)] as string)
          : randomFilter(random);
      const had = model.get(clientId)?.delete(filter) ?? false;
      assert.equal(index.remove(clientId, filter), had);
      if (model.get(clientId)?.size === 0) model.delete(clientId);
    } else {
      assert.equal(index.removeClient(clientId), model.get(clientId)?.size ?? 0);
      model.delete(clientId);
    }

    if (step % 25 !== 0) continue;
    let total = 0;
    for (const ofClient of model.values()) total += ofClient.size;
    assert.equal(index.size, total);
    assert.equal(index.clientCount, model.size);
    for (let probe = 0; probe < 10; probe++) {
      const topicName = randomTopic(random);
      checkedTopics++;
      const expectedPlain: string[] = [];
      const expectedGroups = new Map<string, string[]>();
      for (const [owner, ofClient] of model) {
        for (const [filter, value] of ofClient) {
          const shared = parseSharedFilter(filter);
          if (!naiveMatches(shared?.filter ?? filter, topicName)) continue;
          const entry = `${owner} ${filter} ${value}`;
          if (shared === undefined) {
            expectedPlain.push(entry);
          } else {
            const key = `${shared.shareName} ${shared.filter}`;
            expectedGroups.set(key, [...(expectedGroups.get(key) ?? []), entry]);
          }
        }
      }
      const matches = index.match(topicName);
      const actualPlain = matches.subscriptions.map((s) => `${s.clientId} ${s.filter} ${s.value}`);
      assert.deepEqual(actualPlain.sort(), expectedPlain.sort(), `topic ${topicName}`);
      const actualGroups = new Map<string, string[]>();
      for (const group of matches.sharedGroups) {
        const key = `${group.shareName} ${group.filter}`;
        assert.ok(!actualGroups.has(key), `group ${key} once`);
        actualGroups.set(
          key,
          group.members.map((s) => `${s.clientId} ${s.filter} ${s.value}`).sort(),
        );
      }
      for (const members of expectedGroups.values()) members.sort();
      assert.deepEqual(actualGroups, expectedGroups, `shared groups for ${topicName}`);
    }
  }
  assert.ok(checkedTopics >= 2000);

  for (const clientId of clients) index.removeClient(clientId);
  assert.equal(index.size, 0);
  assert.equal(index.nodeCount, 1, 'nothing left behind');
});

test('randomized: matchesFilter agrees with the naive matcher on 20,000 pairs', () => {
  const random = seededRandom(7);
  let matched = 0;
  for (let n = 0; n < 20000; n++) {
    const filter = randomFilter(random);
    const plain = parseSharedFilter(filter)?.filter ?? filter;
    const topicName = randomTopic(random);
    const expected = naiveMatches(plain, topicName);
    assert.equal(matchesFilter(plain, topicName), expected, `${plain} vs ${topicName}`);
    if (expected) matched++;
  }
  assert.ok(matched > 1000, `enough matching pairs to mean something (${matched})`);
});
