import { BulwarkError } from '../errors.js';
import { compileCondition, ConditionSyntaxError, type Condition } from './conditions.js';
import type { AuthorizationContext } from './context.js';
import { Template } from './wildcard.js';

/**
 * An IoT policy document: parsed, validated and compiled once (every pattern and condition turned
 * into a ready matcher), so that evaluating it is a few string comparisons. The language is IAM's
 * (iot-policies: "AWS IoT Core policies … follow the same conventions as IAM policies").
 */

/** AWS's limit: 2048 characters, whitespace not counted (CreatePolicy, CreatePolicyVersion). */
export const MAX_POLICY_DOCUMENT_CHARACTERS = 2048;

/** 2012-10-17 interprets policy variables; 2008-10-17 (IAM's default) treats `${…}` literally. */
export const POLICY_LANGUAGE_VERSIONS = ['2012-10-17', '2008-10-17'] as const;
export type PolicyLanguageVersion = (typeof POLICY_LANGUAGE_VERSIONS)[number];

export type Effect = 'Allow' | 'Deny';

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
/** The action-match memo per statement stays small: the broker asks about a handful of actions. */
const ACTION_MEMO_LIMIT = 64;

export function malformed(message: string): BulwarkError {
  return new BulwarkError('MalformedPolicy', message);
}

function nonWhitespaceLength(text: string): number {
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
function stringList(value: unknown, where: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0) throw malformed(`${where} must not be an empty list`);
  return list.map((item) => {
    if (typeof item !== 'string' || item.length === 0)
      throw malformed(`${where} must be a non-empty string or a list of non-empty strings`);
    return item;
  });
}

/** Condition values: strings, or numbers and booleans written unquoted, as IAM accepts them. */
function conditionValues(value: unknown, where: string): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((item) => {
    if (typeof item === 'string') return item;
    if (typeof item === 'number' || typeof item === 'boolean') return String(item);
    throw malformed(`${where} must be a string, a number, a boolean or a list of them`);
  });
}

/** The actions a statement names (Action or NotAction), matched case-insensitively. */
class ActionMatcher {
  private readonly patterns: readonly Template[];
  private readonly memo = new Map<string, boolean>();

  constructor(actions: string[], where: string) {
    this.patterns = actions.map((action) => {
      if (!ACTION_FORMAT.test(action))
        throw malformed(
          `${where} has an action that is not "*" or "vendor:action" (for example "iot:Publish")`,
        );
      return new Template(action, { wildcards: true, variables: false, ignoreCase: true });
    });
  }

  matches(action: string): boolean {
    const known = this.memo.get(action);
    if (known !== undefined) return known;
    const result = this.patterns.some((pattern) => pattern.matches(action, {}) === true);
    if (this.memo.size < ACTION_MEMO_LIMIT) this.memo.set(action, result);
    return result;
  }
}

/** One statement, compiled. */
export class Statement {
  readonly index: number;
  readonly sid: string | undefined;
  readonly effect: Effect;
  private readonly actions: ActionMatcher;
  private readonly actionsNegated: boolean;
  private readonly resources: readonly Template[];
  private readonly resourcesNegated: boolean;
  private readonly conditions: readonly Condition[];

  constructor(raw: unknown, index: number, variables: boolean) {
    const where = `Statement[${index}]`;
    if (!isObject(raw)) throw malformed(`${where} must be an object`);
    for (const key of Object.keys(raw)) {
      if (key === 'Principal' || key === 'NotPrincipal')
        throw malformed(
          `${where} has ${key}: an IoT policy applies to the principals it is attached to and names none`,
        );
      if (!STATEMENT_KEYS.has(key)) throw malformed(`${where} has an unknown element ${key}`);
    }
    this.index = index;
    if (raw.Sid !== undefined && typeof raw.Sid !== 'string')
      throw malformed(`${where}.Sid must be a string`);
    this.sid = raw.Sid;
    if (raw.Effect !== 'Allow' && raw.Effect !== 'Deny')
      throw malformed(`${where}.Effect must be "Allow" or "Deny"`);
    this.effect = raw.Effect;

    if ((raw.Action === undefined) === (raw.NotAction === undefined))
      throw malformed(`${where} must have exactly one of Action and NotAction`);
    this.actionsNegated = raw.Action === undefined;
    const actionElement = this.actionsNegated ? 'NotAction' : 'Action';
    this.actions = new ActionMatcher(
      stringList(raw[actionElement], `${where}.${actionElement}`),
      `${where}.${actionElement}`,
    );

    if ((raw.Resource === undefined) === (raw.NotResource === undefined))
      throw malformed(`${where} must have exactly one of Resource and NotResource`);
    this.resourcesNegated = raw.Resource === undefined;
    const resourceElement = this.resourcesNegated ? 'NotResource' : 'Resource';
    this.resources = stringList(raw[resourceElement], `${where}.${resourceElement}`).map(
      (resource) => {
        if (resource !== '*' && !resource.startsWith('arn:'))
          throw malformed(`${where}.${resourceElement} must hold ARNs or "*"`);
        return new Template(resource, { wildcards: true, variables });
      },
    );
    this.conditions = this.compileConditions(raw.Condition, `${where}.Condition`, variables);
  }

  private compileConditions(raw: unknown, where: string, variables: boolean): Condition[] {
    if (raw === undefined) return [];
    if (!isObject(raw)) throw malformed(`${where} must be an object`);
    const conditions: Condition[] = [];
    for (const [operator, entries] of Object.entries(raw)) {
      if (!isObject(entries))
        throw malformed(`${where}.${operator} must be an object of condition keys`);
      for (const [key, value] of Object.entries(entries)) {
        const values = conditionValues(value, `${where}.${operator}.${key}`);
        try {
          conditions.push(compileCondition(operator, key, values, variables));
        } catch (error) {
          if (error instanceof ConditionSyntaxError)
            throw malformed(`${where}.${operator}: ${error.message}`);
          throw error;
        }
      }
    }
    return conditions;
  }

  private resourceMatches(
    resource: string,
    context: AuthorizationContext,
    missing: Set<string> | undefined,
  ): boolean {
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

  /** Whether the statement applies to this request (its effect is then the statement's). */
  applies(
    action: string,
    resource: string,
    context: AuthorizationContext,
    missing?: Set<string>,
  ): boolean {
    if (this.actions.matches(action) === this.actionsNegated) return false;
    if (!this.resourceMatches(resource, context, missing)) return false;
    for (const condition of this.conditions) if (!condition.holds(context, missing)) return false;
    return true;
  }
}

/** A compiled policy document. */
export class PolicyDocument {
  readonly version: PolicyLanguageVersion;
  readonly statements: readonly Statement[];
  /** Deny statements first: evaluation can stop at the first one that applies. */
  readonly denies: readonly Statement[];
  readonly allows: readonly Statement[];

  private constructor(version: PolicyLanguageVersion, statements: Statement[]) {
    this.version = version;
    this.statements = statements;
    this.denies = statements.filter((statement) => statement.effect === 'Deny');
    this.allows = statements.filter((statement) => statement.effect === 'Allow');
  }

  /** Parses and validates a document; throws MalformedPolicy (400) with what is wrong. */
  static parse(text: string): PolicyDocument {
    const length = nonWhitespaceLength(text);
    if (length === 0) throw malformed('The policy document is empty');
    if (length > MAX_POLICY_DOCUMENT_CHARACTERS)
      throw malformed(
        `The policy document has ${length} characters excluding whitespace; the limit is ${MAX_POLICY_DOCUMENT_CHARACTERS}`,
      );
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw malformed('The policy document is not valid JSON');
    }
    if (!isObject(raw)) throw malformed('The policy document must be a JSON object');
    for (const key of Object.keys(raw))
      if (!DOCUMENT_KEYS.has(key))
        throw malformed(`The policy document has an unknown element ${key}`);
    const version = raw.Version ?? '2008-10-17';
    if (!POLICY_LANGUAGE_VERSIONS.includes(version as PolicyLanguageVersion))
      throw malformed('The policy document Version must be "2012-10-17" (or "2008-10-17")');
    if (raw.Id !== undefined && typeof raw.Id !== 'string') throw malformed('Id must be a string');
    if (raw.Statement === undefined) throw malformed('The policy document has no Statement');
    const list = Array.isArray(raw.Statement) ? raw.Statement : [raw.Statement];
    if (list.length === 0) throw malformed('The policy document has an empty Statement list');
    const variables = version === '2012-10-17';
    return new PolicyDocument(
      version as PolicyLanguageVersion,
      list.map((statement, index) => new Statement(statement, index, variables)),
    );
  }
}
