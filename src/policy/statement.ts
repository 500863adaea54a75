import type { BulwarkError } from '../errors.js';
import { compileCondition, ConditionSyntaxError, type Condition } from './conditions.js';
import type { ContextKeys } from './context-keys.js';
import { Template } from './wildcard.js';

/**
 * The policy grammar IAM and AWS IoT share (IAM reference_policies_grammar; iot-policies: "AWS IoT
 * Core policies … follow the same conventions as IAM policies"): Version, Statement, Sid, Effect,
 * Action/NotAction, Resource/NotResource, Condition. A document is parsed, validated and compiled
 * once (every pattern and condition turned into a ready matcher), so that evaluating it is a few
 * string comparisons. What differs between the languages comes in a PolicyGrammar: the condition
 * keys and variables they know, and how their service words a malformed document.
 */

/** 2012-10-17 interprets policy variables; 2008-10-17 (IAM's default) treats `${…}` literally. */
export const POLICY_LANGUAGE_VERSIONS = ['2012-10-17', '2008-10-17'] as const;
export type PolicyLanguageVersion = (typeof POLICY_LANGUAGE_VERSIONS)[number];

export type Effect = 'Allow' | 'Deny';

/** What is wrong with a document, so that each language can word it as its service does. */
export type PolicyFlaw =
  /** Not JSON, not an object, an unknown or mistyped element, no Statement. */
  | 'syntax'
  | 'version'
  | 'principal'
  | 'effect'
  | 'missing-action'
  /** An action that is not `*` or `vendor:action`. */
  | 'action'
  | 'missing-resource'
  /** A resource that is not `*` or an ARN. */
  | 'resource'
  | 'condition-operator'
  | 'condition-value';

export interface PolicyGrammar<C> {
  /** The condition keys and policy variables the language knows. */
  keys: ContextKeys<C>;
  /** The error for a document that breaks the grammar; `detail` says where and what. */
  malformed(flaw: PolicyFlaw, detail: string): BulwarkError;
}

const DOCUMENT_KEYS = new Set(['Version', 'Id', 'Statement']);
const STATEMENT_KEYS = new Set([
  'Sid',
  'Effect',
  'Action',
  'NotAction',
  'Resource',
  'NotResource',
  'Condition',
]);
/** `*`, or `vendor:action` with wildcards allowed in the action part. */
const ACTION_FORMAT = /^(?:\*|[A-Za-z0-9-]+:[A-Za-z0-9*?_-]*)$/;
/** The action-match memo per statement stays small: callers ask about a handful of actions. */
const ACTION_MEMO_LIMIT = 64;

/** A document's size as IAM and AWS IoT count it against their limits: whitespace is free. */
export function policySizeCharacters(text: string): number {
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code !== 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) count++;
  }
  return count;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string-or-array element as a non-empty list of strings. */
function stringList<C>(value: unknown, where: string, grammar: PolicyGrammar<C>): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw grammar.malformed('syntax', `${where} must not be an empty list`);
  return list.map((item) => {
    if (typeof item !== 'string' || item.length === 0)
      throw grammar.malformed(
        'syntax',
        `${where} must be a non-empty string or a list of non-empty strings`,
      );
    return item;
  });
}

/** Condition values: strings, or numbers and booleans written unquoted, as IAM accepts them. */
function conditionValues<C>(value: unknown, where: string, grammar: PolicyGrammar<C>): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    if (typeof item === 'string') return item;
    if (typeof item === 'number' || typeof item === 'boolean') return String(item);
    throw grammar.malformed(
      'condition-value',
      `${where} must be a string, a number, a boolean or a list of them`,
    );
  });
}

/** The actions a statement names (Action or NotAction), matched case-insensitively. */
class ActionMatcher {
  private readonly patterns: readonly Template<unknown>[];
  private readonly memo = new Map<string, boolean>();

  constructor(actions: string[]) {
    this.patterns = actions.map(
      (action) => new Template(action, { wildcards: true, ignoreCase: true }),
    );
  }

  matches(action: string): boolean {
    const known = this.memo.get(action);
    if (known !== undefined) return known;
    const result = this.patterns.some((pattern) => pattern.matches(action, undefined) === true);
    if (this.memo.size < ACTION_MEMO_LIMIT) this.memo.set(action, result);
    return result;
  }
}

/** One statement, compiled. */
export class Statement<C> {
  readonly index: number;
  readonly sid: string | undefined;
  readonly effect: Effect;
  private readonly actions: ActionMatcher;
  private readonly actionsNegated: boolean;
  private readonly resources: readonly Template<C>[];
  private readonly resourcesNegated: boolean;
  private readonly conditions: readonly Condition<C>[];

  /** `variables`: whether the document's Version interprets `${…}`. */
  constructor(raw: unknown, index: number, grammar: PolicyGrammar<C>, variables: boolean) {
    const where = `Statement[${index}]`;
    if (!isObject(raw)) throw grammar.malformed('syntax', `${where} must be an object`);
    for (const key of Object.keys(raw)) {
      if (key === 'Principal' || key === 'NotPrincipal')
        throw grammar.malformed('principal', `${where} has ${key}`);
      if (!STATEMENT_KEYS.has(key))
        throw grammar.malformed('syntax', `${where} has an unknown element ${key}`);
    }
    this.index = index;
    if (raw.Sid !== undefined && typeof raw.Sid !== 'string')
      throw grammar.malformed('syntax', `${where}.Sid must be a string`);
    this.sid = raw.Sid;
    if (raw.Effect !== 'Allow' && raw.Effect !== 'Deny')
      throw grammar.malformed('effect', `${where}.Effect must be "Allow" or "Deny"`);
    this.effect = raw.Effect;

    if ((raw.Action === undefined) === (raw.NotAction === undefined))
      throw grammar.malformed(
        'missing-action',
        `${where} must have exactly one of Action and NotAction`,
      );
    this.actionsNegated = raw.Action === undefined;
    const actionElement = this.actionsNegated ? 'NotAction' : 'Action';
    const actions = stringList(raw[actionElement], `${where}.${actionElement}`, grammar);
    for (const action of actions)
      if (!ACTION_FORMAT.test(action))
        throw grammar.malformed(
          'action',
          `${where}.${actionElement} has ${JSON.stringify(action)}, which is not "*" or "vendor:action" (for example "iot:Publish")`,
        );
    this.actions = new ActionMatcher(actions);

    if ((raw.Resource === undefined) === (raw.NotResource === undefined))
      throw grammar.malformed(
        'missing-resource',
        `${where} must have exactly one of Resource and NotResource`,
      );
    this.resourcesNegated = raw.Resource === undefined;
    const resourceElement = this.resourcesNegated ? 'NotResource' : 'Resource';
    const keys = variables ? grammar.keys : undefined;
    this.resources = stringList(raw[resourceElement], `${where}.${resourceElement}`, grammar).map(
      (resource) => {
        if (resource !== '*' && !resource.startsWith('arn:'))
          throw grammar.malformed(
            'resource',
            `${where}.${resourceElement} must hold ARNs or "*", not ${JSON.stringify(resource)}`,
          );
        return new Template(resource, { wildcards: true, variables: keys, arnSegments: true });
      },
    );
    this.conditions = this.compileConditions(raw.Condition, `${where}.Condition`, grammar, keys);
  }

  private compileConditions(
    raw: unknown,
    where: string,
    grammar: PolicyGrammar<C>,
    variables: PolicyGrammar<C>['keys'] | undefined,
  ): Condition<C>[] {
    if (raw === undefined) return [];
    if (!isObject(raw)) throw grammar.malformed('syntax', `${where} must be an object`);
    const conditions: Condition<C>[] = [];
    for (const [operator, entries] of Object.entries(raw)) {
      if (!isObject(entries))
        throw grammar.malformed(
          'syntax',
          `${where}.${operator} must be an object of condition keys`,
        );
      for (const [key, value] of Object.entries(entries)) {
        const values = conditionValues(value, `${where}.${operator}.${key}`, grammar);
        try {
          conditions.push(compileCondition(operator, key, values, grammar.keys, variables));
        } catch (error) {
          if (error instanceof ConditionSyntaxError)
            throw grammar.malformed(
              error.unknownOperator ? 'condition-operator' : 'condition-value',
              `${where}.${operator}: ${error.message}`,
            );
          throw error;
        }
      }
    }
    return conditions;
  }

  private resourceMatches(resource: string, context: C, missing: Set<string> | undefined): boolean {
    let matched = false;
    let unresolved = false;
    for (const pattern of this.resources) {
      const result = pattern.matches(resource, context);
      if (result === true) {
        matched = true;
        break;
      }
      if (result === undefined) {
        unresolved = true;
        for (const variable of pattern.variables) missing?.add(variable);
      }
    }
    if (!this.resourcesNegated) return matched;
    // NotResource with a value that cannot be resolved: the statement does not apply, rather
    // than applying to everything (which would widen an Allow).
    return !matched && !unresolved;
  }

  /**
   * Whether the statement applies to this request (its effect is then the statement's). With
   * `missing`, every condition is evaluated, so that it collects every key the statement lacked.
   */
  applies(action: string, resource: string, context: C, missing?: Set<string>): boolean {
    if (this.actions.matches(action) === this.actionsNegated) return false;
    if (!this.resourceMatches(resource, context, missing)) return false;
    let holds = true;
    for (const condition of this.conditions) {
      if (condition.holds(context, missing)) continue;
      holds = false;
      if (!missing) break;
    }
    return holds;
  }
}

/** A compiled policy document, in any language of the grammar. */
export class CompiledPolicy<C> {
  readonly version: PolicyLanguageVersion;
  readonly statements: readonly Statement<C>[];
  /** Deny statements first: evaluation can stop at the first one that applies. */
  readonly denies: readonly Statement<C>[];
  readonly allows: readonly Statement<C>[];

  /**
   * Parses, validates and compiles `text` (whose size the caller has checked against its
   * language's limit); throws the grammar's error with what is wrong.
   */
  constructor(text: string, grammar: PolicyGrammar<C>) {
    if (policySizeCharacters(text) === 0)
      throw grammar.malformed('syntax', 'The policy document is empty');
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw grammar.malformed('syntax', 'The policy document is not valid JSON');
    }
    if (!isObject(raw))
      throw grammar.malformed('syntax', 'The policy document must be a JSON object');
    for (const key of Object.keys(raw))
      if (!DOCUMENT_KEYS.has(key))
        throw grammar.malformed('syntax', `The policy document has an unknown element ${key}`);
    const version = raw.Version ?? '2008-10-17';
    if (!POLICY_LANGUAGE_VERSIONS.includes(version as PolicyLanguageVersion))
      throw grammar.malformed(
        'version',
        'The policy document Version must be "2012-10-17" (or "2008-10-17")',
      );
    if (raw.Id !== undefined && typeof raw.Id !== 'string')
      throw grammar.malformed('syntax', 'Id must be a string');
    if (raw.Statement === undefined)
      throw grammar.malformed('syntax', 'The policy document has no Statement');
    const list = Array.isArray(raw.Statement) ? raw.Statement : [raw.Statement];
    if (list.length === 0)
      throw grammar.malformed('syntax', 'The policy document has an empty Statement list');
    const variables = version === '2012-10-17';
    this.version = version as PolicyLanguageVersion;
    this.statements = list.map(
      (statement, index) => new Statement(statement, index, grammar, variables),
    );
    this.denies = this.statements.filter((statement) => statement.effect === 'Deny');
    this.allows = this.statements.filter((statement) => statement.effect === 'Allow');
  }
}
