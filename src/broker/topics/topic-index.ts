/**
 * The broker's subscription index: which sessions want a message published on a topic.
 *
 * A trie with one node per filter level. Each node keeps its exact children in a map and its `+`
 * child and `#` subscribers apart, so a match follows only the branches the topic can take:
 * its cost grows with the topic's levels and the wildcards along its path, not with the number
 * of subscriptions. Matching follows the MQTT spec, not AWS IoT Core's quirks; see README.md.
 */
import { MQTT_TOPIC_LIMITS, parseSharedFilter, validateTopicFilter } from './topic-validation.js';

/** One client's subscription to one filter. Immutable: `add` replaces it with a new object. */
export interface Subscription<S> {
  readonly clientId: string;
  /** The filter as subscribed, with its `$share/{ShareName}/` prefix when shared. */
  readonly filter: string;
  readonly value: S;
}

/** A shared subscription group [MQTT 5 §4.8.2]: each message goes to one of its members. */
export interface SharedGroup<S> {
  readonly shareName: string;
  /** The filter after `$share/{ShareName}/`. */
  readonly filter: string;
  /** The group's live member list: read it before the index next changes. */
  readonly members: readonly Subscription<S>[];
  /**
   * The next member, round-robin, that `eligible` accepts (e.g. one that is connected or has
   * room in its in-flight window); undefined when none does.
   */
  pick(eligible?: (member: Subscription<S>) => boolean): Subscription<S> | undefined;
}

/** What one published topic matches. */
export interface TopicMatches<S> {
  /**
   * Non-shared subscriptions: each (client, filter) once, but a client may appear once per
   * overlapping filter; the caller merges them per client (README.md, "Overlapping filters").
   */
  readonly subscriptions: Subscription<S>[];
  /** Every shared group whose filter matches; the caller delivers to one member of each. */
  readonly sharedGroups: SharedGroup<S>[];
}

const DOLLAR = 0x24;
const HASH = 0x23;
const PLUS = 0x2b;

/** An array to iterate without allocating, with lookup and O(1) swap-removal by key. */
class KeyedList<K, V> {
  readonly items: V[] = [];
  private readonly keys: K[] = [];
  private readonly positions = new Map<K, number>();

  get size(): number {
    return this.items.length;
  }

  get(key: K): V | undefined {
    const at = this.positions.get(key);
    return at === undefined ? undefined : this.items[at];
  }

  /** Adds or replaces in place; returns whether the key was already there. */
  set(key: K, value: V): boolean {
    const at = this.positions.get(key);
    if (at !== undefined) {
      this.items[at] = value;
      return true;
    }
    this.positions.set(key, this.items.length);
    this.items.push(value);
    this.keys.push(key);
    return false;
  }

  delete(key: K): boolean {
    const at = this.positions.get(key);
    if (at === undefined) return false;
    this.positions.delete(key);
    const lastItem = this.items.pop() as V;
    const lastKey = this.keys.pop() as K;
    if (at < this.items.length) {
      this.items[at] = lastItem;
      this.keys[at] = lastKey;
      this.positions.set(lastKey, at);
    }
    return true;
  }
}

class ShareGroup<S> implements SharedGroup<S> {
  readonly byClient = new KeyedList<string, Subscription<S>>();
  private cursor = 0;

  constructor(
    readonly shareName: string,
    readonly filter: string,
  ) {}

  get members(): readonly Subscription<S>[] {
    return this.byClient.items;
  }

  pick(eligible?: (member: Subscription<S>) => boolean): Subscription<S> | undefined {
    const members = this.byClient.items;
    for (let tried = 0; tried < members.length; tried++) {
      const at = (this.cursor + tried) % members.length;
      const member = members[at];
      if (member !== undefined && (eligible === undefined || eligible(member))) {
        this.cursor = at + 1;
        return member;
      }
    }
    return undefined;
  }
}

/** Everyone subscribed to one filter: plain subscriptions by client id, groups by ShareName. */
class FilterSubscribers<S> {
  readonly plain = new KeyedList<string, Subscription<S>>();
  /** Created on first use: most filters are never shared. */
  groups: KeyedList<string, ShareGroup<S>> | undefined = undefined;

  get isEmpty(): boolean {
    return this.plain.size === 0 && (this.groups === undefined || this.groups.size === 0);
  }
}

class TopicNode<S> {
  exact: Map<string, TopicNode<S>> | undefined = undefined;
  plus: TopicNode<S> | undefined = undefined;
  /** Filters that end at this level. */
  here: FilterSubscribers<S> | undefined = undefined;
  /** Filters that end with a `#` level right below this one (`#` alone: below the root). */
  hash: FilterSubscribers<S> | undefined = undefined;

  get isEmpty(): boolean {
    return (
      this.exact === undefined &&
      this.plus === undefined &&
      this.here === undefined &&
      this.hash === undefined
    );
  }
}

export class TopicIndex<S> {
  private readonly root = new TopicNode<S>();
  private readonly byClient = new Map<string, Map<string, Subscription<S>>>();
  private subscriptionCount = 0;
  private trieNodes = 1;
  // Scratch space for match, which runs to completion synchronously, so that matching allocates
  // no arrays: the topic's levels, and the `+` branches still to follow (cleared when taken).
  private readonly levels: string[] = [];
  private readonly pendingNodes: (TopicNode<S> | undefined)[] = [];
  private readonly pendingDepths: number[] = [];

  /** Subscriptions held, shared ones included. */
  get size(): number {
    return this.subscriptionCount;
  }

  /** Clients holding at least one subscription. */
  get clientCount(): number {
    return this.byClient.size;
  }

  /** Trie nodes, root included: for metrics, and to show that removal prunes. */
  get nodeCount(): number {
    return this.trieNodes;
  }

  /**
   * Adds the client's subscription to `filter`, or replaces its value when the client already
   * has one for this exact filter [MQTT-3.8.4-3]; returns whether it already had one. The caller
   * validates first (with its limits); an invalid filter here is a bug and throws RangeError.
   */
  add(clientId: string, filter: string, value: S): boolean {
    const problem = validateTopicFilter(filter, MQTT_TOPIC_LIMITS);
    if (problem !== undefined) throw new RangeError(`TopicIndex.add: ${problem}`);
    const shared = parseSharedFilter(filter);
    const subscribers = this.subscribersOf(shared?.filter ?? filter);
    const subscription: Subscription<S> = { clientId, filter, value };
    let existed: boolean;
    if (shared === undefined) {
      existed = subscribers.plain.set(clientId, subscription);
    } else {
      subscribers.groups ??= new KeyedList();
      let group = subscribers.groups.get(shared.shareName);
      if (group === undefined) {
        group = new ShareGroup(shared.shareName, shared.filter);
        subscribers.groups.set(shared.shareName, group);
      }
      existed = group.byClient.set(clientId, subscription);
    }
    let ofClient = this.byClient.get(clientId);
    if (ofClient === undefined) {
      ofClient = new Map();
      this.byClient.set(clientId, ofClient);
    }
    ofClient.set(filter, subscription);
    if (!existed) this.subscriptionCount++;
    return existed;
  }

  /** Removes the client's subscription to exactly `filter`; returns whether it had one. */
  remove(clientId: string, filter: string): boolean {
    const ofClient = this.byClient.get(clientId);
    if (ofClient === undefined || !ofClient.delete(filter)) return false;
    if (ofClient.size === 0) this.byClient.delete(clientId);
    this.unlink(clientId, filter);
    this.subscriptionCount--;
    return true;
  }

  /** Removes every subscription of the client (its session ended); returns how many. */
  removeClient(clientId: string): number {
    const ofClient = this.byClient.get(clientId);
    if (ofClient === undefined) return 0;
    this.byClient.delete(clientId);
    for (const filter of ofClient.keys()) this.unlink(clientId, filter);
    this.subscriptionCount -= ofClient.size;
    return ofClient.size;
  }

  /** The client's subscriptions, in the order first made: what a persistent session stores. */
  subscriptionsOf(clientId: string): Subscription<S>[] {
    const ofClient = this.byClient.get(clientId);
    return ofClient === undefined ? [] : [...ofClient.values()];
  }

  /**
   * Everything subscribed to a filter that matches `topicName`, a valid PUBLISH topic name.
   * Allocates the result and the level strings it looks up, nothing per node visited.
   */
  match(topicName: string): TopicMatches<S> {
    const matches: TopicMatches<S> = { subscriptions: [], sharedGroups: [] };
    // A filter starting with a wildcard does not match a topic starting with '$' [MQTT-4.7.2-1].
    const rootWildcardsApply = topicName.charCodeAt(0) !== DOLLAR;
    // The topic is cut into levels only as deep as the trie follows it (split() costs 3x more).
    const levels = this.levels;
    let sliced = 0;
    let sliceFrom = 0;
    let levelCount = -1; // known once the last level is sliced
    const pendingNodes = this.pendingNodes;
    const pendingDepths = this.pendingDepths;
    let pending = 0;
    let node: TopicNode<S> | undefined = this.root;
    let depth = 0;
    for (;;) {
      // Follow exact children in a loop; stack each `+` branch met on the way for later.
      while (node !== undefined) {
        const wildcardsApply = depth > 0 || rootWildcardsApply;
        // `a/#` matches `a` as well as everything below it [MQTT-4.7.1-2].
        if (node.hash !== undefined && wildcardsApply) collect(node.hash, matches);
        if (depth === levelCount) {
          if (node.here !== undefined) collect(node.here, matches);
          break;
        }
        if (depth === sliced) {
          const end = topicName.indexOf('/', sliceFrom);
          if (end < 0) {
            levels[sliced++] = topicName.slice(sliceFrom);
            levelCount = sliced;
          } else {
            levels[sliced++] = topicName.slice(sliceFrom, end);
            sliceFrom = end + 1;
          }
        }
        // `+` matches exactly one level, an empty one included.
        if (node.plus !== undefined && wildcardsApply) {
          pendingNodes[pending] = node.plus;
          pendingDepths[pending] = depth + 1;
          pending++;
        }
        // Levels compare as exact strings: case-sensitive, never normalised [MQTT-4.7.3-4].
        node = node.exact?.get(levels[depth] as string);
        depth++;
      }
      if (pending === 0) return matches;
      pending--;
      node = pendingNodes[pending];
      pendingNodes[pending] = undefined;
      depth = pendingDepths[pending] as number;
    }
  }

  /** The subscribers of a (non-shared) filter, creating its path. */
  private subscribersOf(filter: string): FilterSubscribers<S> {
    const levels = filter.split('/');
    const endsWithHash = levels[levels.length - 1] === '#';
    const pathLength = endsWithHash ? levels.length - 1 : levels.length;
    let node = this.root;
    for (let depth = 0; depth < pathLength; depth++) {
      const level = levels[depth] as string;
      if (level === '+') {
        if (node.plus === undefined) {
          node.plus = new TopicNode();
          this.trieNodes++;
        }
        node = node.plus;
      } else {
        node.exact ??= new Map();
        let child = node.exact.get(level);
        if (child === undefined) {
          child = new TopicNode();
          node.exact.set(level, child);
          this.trieNodes++;
        }
        node = child;
      }
    }
    if (endsWithHash) return (node.hash ??= new FilterSubscribers());
    return (node.here ??= new FilterSubscribers());
  }

  /** Takes a subscription the client map has just dropped out of the trie, pruning empty nodes. */
  private unlink(clientId: string, filter: string): void {
    const shared = parseSharedFilter(filter);
    const levels = (shared?.filter ?? filter).split('/');
    const endsWithHash = levels[levels.length - 1] === '#';
    const pathLength = endsWithHash ? levels.length - 1 : levels.length;
    const path: TopicNode<S>[] = [];
    let node = this.root;
    for (let depth = 0; depth < pathLength; depth++) {
      const level = levels[depth] as string;
      path.push(node);
      // The client map and the trie change together, so the path exists.
      node = (level === '+' ? node.plus : node.exact?.get(level)) as TopicNode<S>;
    }
    const subscribers = (endsWithHash ? node.hash : node.here) as FilterSubscribers<S>;
    if (shared === undefined) {
      subscribers.plain.delete(clientId);
    } else {
      const group = subscribers.groups?.get(shared.shareName) as ShareGroup<S>;
      group.byClient.delete(clientId);
      if (group.byClient.size === 0) subscribers.groups?.delete(shared.shareName);
    }
    if (!subscribers.isEmpty) return;
    if (endsWithHash) node.hash = undefined;
    else node.here = undefined;
    for (let depth = pathLength - 1; depth >= 0 && node.isEmpty; depth--) {
      const parent = path[depth] as TopicNode<S>;
      const level = levels[depth] as string;
      if (level === '+') {
        parent.plus = undefined;
      } else if (parent.exact !== undefined) {
        parent.exact.delete(level);
        if (parent.exact.size === 0) parent.exact = undefined;
      }
      this.trieNodes--;
      node = parent;
    }
  }
}

function collect<S>(subscribers: FilterSubscribers<S>, into: TopicMatches<S>): void {
  for (const subscription of subscribers.plain.items) into.subscriptions.push(subscription);
  if (subscribers.groups === undefined) return;
  for (const group of subscribers.groups.items) into.sharedGroups.push(group);
}

/**
 * Whether a valid, non-shared topic filter matches a valid topic name, with the same rules as
 * `TopicIndex.match`; for one filter against many topics, such as retained messages on
 * subscribe. Walks both strings in place, allocating nothing.
 */
export function matchesFilter(filter: string, topicName: string): boolean {
  const first = filter.charCodeAt(0);
  if (topicName.charCodeAt(0) === DOLLAR && (first === PLUS || first === HASH)) {
    return false; // [MQTT-4.7.2-1]
  }
  let f = 0;
  let t = 0;
  for (;;) {
    // f and t each start a level.
    if (filter.charCodeAt(f) === HASH) return true; // this level and any below [MQTT-4.7.1-2]
    let filterEnd = filter.indexOf('/', f);
    if (filterEnd < 0) filterEnd = filter.length;
    let topicEnd = topicName.indexOf('/', t);
    if (topicEnd < 0) topicEnd = topicName.length;
    const isPlus = filterEnd === f + 1 && filter.charCodeAt(f) === PLUS;
    if (!isPlus && !sameText(filter, f, filterEnd, topicName, t, topicEnd)) return false;
    const filterDone = filterEnd === filter.length;
    const topicDone = topicEnd === topicName.length;
    if (filterDone) return topicDone;
    if (topicDone) {
      // Only a final `/#` still matches (`a/#` matches `a`); a valid filter has nothing after `#`.
      return filter.charCodeAt(filterEnd + 1) === HASH;
    }
    f = filterEnd + 1;
    t = topicEnd + 1;
  }
}

function sameText(
  a: string,
  aStart: number,
  aEnd: number,
  b: string,
  bStart: number,
  bEnd: number,
): boolean {
  if (aEnd - aStart !== bEnd - bStart) return false;
  for (let i = 0; i < aEnd - aStart; i++) {
    if (a.charCodeAt(aStart + i) !== b.charCodeAt(bStart + i)) return false;
  }
  return true;
}
