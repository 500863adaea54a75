import { matchesFilter } from '../broker/topics/topic-index.js';
import { MQTT_TOPIC_LIMITS, validateTopicFilter } from '../broker/topics/topic-validation.js';
import { BulwarkError } from '../errors.js';
import type { DetectorSet } from './detector-set.js';
import type { Guard } from './guard.js';
import type { GuardSettings } from './schema.js';

/** What the inline check decided about one publish: its action and the detectors that matched. */
export interface PayloadVerdict {
  action: 'flag' | 'refuse';
  /** The ids of the detectors that matched, each once; never the matched values. */
  detectors: string[];
}

type InlineRule = GuardSettings['inline'][number];

/** The detectors run for one combination of covering rules, by the rules' action. */
interface Plan {
  refuse: DetectorSet | undefined;
  flag: DetectorSet | undefined;
}

interface CompiledRule {
  filters: readonly string[];
  action: PayloadVerdict['action'];
  detectors: DetectorSet;
  /** The plan when this rule alone covers a topic. */
  plan: Plan;
}

/** Distinct combinations of covering rules remembered; past it, the cache starts over. */
const MAX_CACHED_PLANS = 256;

/**
 * The inline check of MQTT payloads (`guard.inline`): publishes on a rule's topics whose payload
 * one of the rule's detectors matches are flagged (delivered, logged, audited) or refused.
 *
 * The broker calls `check` on every client PUBLISH, so it costs one length check when no rule
 * is configured, and one filter match per rule filter otherwise; only a topic some rule covers
 * pays for detection. Where refusing and flagging rules both cover a topic, the refusing rules'
 * detectors run first and a match there decides; the flagging rules' run only when they find
 * nothing. Filters match as subscriptions do: `#` covers no `$` topic [MQTT-4.7.2-1], so a
 * rule for `$aws/…` topics (shadow updates) names them.
 *
 * The payload is decoded as UTF-8 leniently: invalid bytes become U+FFFD, which no detector
 * matches, so the text inside a binary payload (CBOR or protobuf strings, a value after a stray
 * byte) is still scanned, and a device cannot get past the check by adding one non-UTF-8 byte.
 * Nothing found is kept: only detector ids leave this class.
 */
export class PayloadGuard {
  private readonly rules: readonly CompiledRule[];
  private readonly detectors: DetectorSet;
  private readonly plans = new Map<string, Plan>();

  /** Throws ConfigInvalid naming the rule when a detector id or a topic filter is not valid. */
  constructor(rules: readonly InlineRule[], guard: Guard) {
    this.detectors = guard.detectors;
    this.rules = rules.map((rule, index) => compileRule(rule, index, guard.detectors));
  }

  check(topic: string, payload: Buffer): PayloadVerdict | undefined {
    if (this.rules.length === 0) return undefined;
    if (payload.length === 0) return undefined;
    const plan = this.planFor(topic);
    if (!plan) return undefined;
    const text = payload.toString('utf8');
    const refused = plan.refuse && detectorIds(plan.refuse, text);
    if (refused) return { action: 'refuse', detectors: refused };
    const flagged = plan.flag && detectorIds(plan.flag, text);
    if (flagged) return { action: 'flag', detectors: flagged };
    return undefined;
  }

  /** The detectors to run on `topic`; undefined when no rule covers it. */
  private planFor(topic: string): Plan | undefined {
    let first = -1;
    let key: string | undefined;
    for (let i = 0; i < this.rules.length; i++) {
      if (!coversTopic(this.rules[i] as CompiledRule, topic)) continue;
      if (first < 0) first = i;
      else key = `${key ?? first},${i}`;
    }
    if (first < 0) return undefined;
    if (key === undefined) return (this.rules[first] as CompiledRule).plan;
    let plan = this.plans.get(key);
    if (!plan) {
      const covering = key.split(',').map((index) => this.rules[Number(index)] as CompiledRule);
      plan = { refuse: this.union(covering, 'refuse'), flag: this.union(covering, 'flag') };
      if (this.plans.size >= MAX_CACHED_PLANS) this.plans.clear();
      this.plans.set(key, plan);
    }
    return plan;
  }

  /** The detectors of the rules with `action`, each once, in the guard's order. */
  private union(
    rules: readonly CompiledRule[],
    action: PayloadVerdict['action'],
  ): DetectorSet | undefined {
    const ids = new Set<string>();
    for (const rule of rules)
      if (rule.action === action) for (const { id } of rule.detectors.detectors) ids.add(id);
    return ids.size > 0 ? this.detectors.filter((detector) => ids.has(detector.id)) : undefined;
  }
}

function compileRule(rule: InlineRule, index: number, detectors: DetectorSet): CompiledRule {
  const invalid = (problem: string) =>
    new BulwarkError('ConfigInvalid', `invalid configuration: guard.inline[${index}].${problem}`);
  for (const filter of rule.topics) {
    // `$share/{name}/` says who receives a message, not which topics it is on.
    if (filter.startsWith('$share/'))
      throw invalid(
        `topics: ${JSON.stringify(filter)} is a shared subscription filter; give the topic filter alone`,
      );
    const problem = validateTopicFilter(filter, MQTT_TOPIC_LIMITS);
    if (problem)
      throw invalid(
        `topics: ${JSON.stringify(filter)} is not a valid MQTT topic filter: ${problem}`,
      );
  }
  const ids = new Set(rule.detectors);
  const enabled = detectors.detectors.map((detector) => detector.id).join(', ');
  for (const id of ids)
    if (!detectors.get(id))
      throw invalid(`detectors: ${id} is not an enabled detector (enabled: ${enabled})`);
  const chosen = detectors.filter((detector) => ids.has(detector.id));
  return {
    filters: [...new Set(rule.topics)],
    action: rule.action,
    detectors: chosen,
    plan:
      rule.action === 'refuse'
        ? { refuse: chosen, flag: undefined }
        : { refuse: undefined, flag: chosen },
  };
}

function coversTopic(rule: CompiledRule, topic: string): boolean {
  for (const filter of rule.filters) if (matchesFilter(filter, topic)) return true;
  return false;
}

/** The ids of the detectors that match `text`, in order and each once; undefined for none. */
function detectorIds(detectors: DetectorSet, text: string): string[] | undefined {
  const detections = detectors.detect(text);
  if (detections.length === 0) return undefined;
  const ids: string[] = [];
  for (const { detector } of detections) if (!ids.includes(detector.id)) ids.push(detector.id);
  return ids;
}
