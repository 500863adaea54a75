import { BlockList, isIP } from 'node:net';
import type { ContextKeys, ContextReader } from './context-keys.js';
import { Template } from './wildcard.js';

/**
 * The Condition element, with IAM's semantics (reference_policies_elements_condition_operators,
 * reference_policies_condition-single-vs-multi-valued-context-keys), for every policy language:
 * - operators are ANDed, keys within an operator are ANDed, the values of one key are ORed (for a
 *   negated operator such as StringNotEquals: none of the values may match, a NOR);
 * - a key absent from the request makes a condition false, except that negated operators
 *   (StringNotEquals, StringNotLike, NotIpAddress, ArnNotLike, …) are then true, `…IfExists` is
 *   true, `ForAllValues:` is true and `ForAnyValue:` is false; `Null` tests presence itself;
 * - `ForAllValues:` holds when every request value matches some policy value (so also for an
 *   empty list), `ForAnyValue:` when one does; without a qualifier a multivalued key behaves as
 *   `ForAnyValue:`;
 * - a policy variable without a value in a condition value makes the condition false, so the
 *   statement does not apply (IAM: an unresolved variable invalidates the statement). Only the
 *   String and Arn operators interpret variables ("You cannot use a policy variable with the Date
 *   condition operator").
 */

export class ConditionSyntaxError extends Error {
  /** True when the operator itself is unknown, rather than one of its values being wrong. */
  readonly unknownOperator: boolean;

  constructor(message: string, unknownOperator = false) {
    super(message);
    this.unknownOperator = unknownOperator;
  }
}

type Qualifier = 'none' | 'ForAnyValue' | 'ForAllValues';

/** How one operator family tests a request value against the policy's values. */
interface ValueTest<C> {
  /** True when `value` matches at least one policy value. */
  matchesAny(value: string, context: C): boolean;
  /** The variables the policy values read; a missing one makes the condition false. */
  templates: readonly Template<C>[];
}

type BuildTest = <C>(values: string[], variables: ContextKeys<C> | undefined) => ValueTest<C>;

interface OperatorSpec {
  negated: boolean;
  build: BuildTest;
}

function stringEquality(ignoreCase: boolean): BuildTest {
  return (values, variables) => {
    const compiled = values.map(
      (value) => new Template(value, { wildcards: false, variables, ignoreCase }),
    );
    const constants = compiled.map((template) => template.constant);
    const fixed = constants.every((text) => text !== undefined) ? new Set(constants) : undefined;
    return {
      templates: compiled,
      matchesAny(value, context) {
        const subject = ignoreCase ? value.toLowerCase() : value;
        if (fixed) return fixed.has(subject);
        return compiled.some((template) => template.resolve(context) === subject);
      },
    };
  };
}

/** StringLike (`*` and `?` anywhere) and the Arn operators (wildcards within ARN segments). */
function likeMatch(arnSegments: boolean): BuildTest {
  return (values, variables) => {
    const compiled = values.map(
      (value) => new Template(value, { wildcards: true, variables, arnSegments }),
    );
    return {
      templates: compiled,
      matchesAny: (value, context) =>
        compiled.some((template) => template.matches(value, context) === true),
    };
  };
}

/** Numeric and Date operators: both sides parsed to numbers, then compared. */
function ordered(
  parse: (value: string) => number | undefined,
  kind: string,
  compare: (request: number, policy: number) => boolean,
): BuildTest {
  return (values) => {
    const numbers = values.map((value) => {
      const number = parse(value);
      if (number === undefined)
        throw new ConditionSyntaxError(`a ${kind} condition value is not a ${kind}: ${value}`);
      return number;
    });
    return {
      templates: [],
      matchesAny(value) {
        const request = parse(value);
        return request !== undefined && numbers.some((number) => compare(request, number));
      },
    };
  };
}

function parseNumber(value: string): number | undefined {
  const number = Number(value);
  return value.trim() === '' || !Number.isFinite(number) ? undefined : number;
}

const EPOCH_SECONDS = /^-?\d+(?:\.\d+)?$/;
/** W3C date-time profile of ISO 8601: YYYY-MM, YYYY-MM-DD, with time and optional fraction. */
const ISO_DATE =
  /^\d{4}-\d{2}(?:-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?)?$/;

/**
 * A Date operator's value in milliseconds: ISO 8601 (`2026-06-30T23:59:59Z`; a time without a
 * zone is UTC) or epoch seconds (`aws:EpochTime`), the two forms IAM accepts.
 */
function parseDate(value: string): number | undefined {
  if (EPOCH_SECONDS.test(value)) return Number(value) * 1000;
  const iso = ISO_DATE.exec(value);
  if (!iso) return undefined;
  const hasTime = value.includes('T');
  const milliseconds = Date.parse(hasTime && iso[1] === undefined ? `${value}Z` : value);
  return Number.isNaN(milliseconds) ? undefined : milliseconds;
}

function numeric(compare: (request: number, policy: number) => boolean): BuildTest {
  return ordered(parseNumber, 'number', compare);
}

function date(compare: (request: number, policy: number) => boolean): BuildTest {
  return ordered(parseDate, 'date', compare);
}

function bool<C>(values: string[]): ValueTest<C> {
  const expected = new Set<string>(
    values.map((value) => {
      const lower = value.toLowerCase();
      if (lower !== 'true' && lower !== 'false')
        throw new ConditionSyntaxError('a Bool condition value must be "true" or "false"');
      return lower;
    }),
  );
  return { templates: [], matchesAny: (value) => expected.has(value.toLowerCase()) };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** BinaryEquals: the policy holds base64; the request's binary value arrives base64 too. */
function binary<C>(values: string[]): ValueTest<C> {
  const expected = values.map((value) => {
    if (!BASE64.test(value))
      throw new ConditionSyntaxError('a BinaryEquals condition value must be base64');
    return Buffer.from(value, 'base64');
  });
  return {
    templates: [],
    matchesAny(value) {
      if (!BASE64.test(value)) return false;
      const bytes = Buffer.from(value, 'base64');
      return expected.some((candidate) => candidate.equals(bytes));
    },
  };
}

/** An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`, as dual-stack sockets report) as IPv4. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

function ipAddress<C>(values: string[]): ValueTest<C> {
  const ranges = new BlockList();
  for (const value of values) {
    const [address = '', prefix, extra] = value.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const length = prefix === undefined ? bits : Number(prefix);
    if (
      family === 0 ||
      extra !== undefined ||
      (prefix !== undefined && !/^\d{1,3}$/.test(prefix)) ||
      length > bits
    )
      throw new ConditionSyntaxError('an IpAddress condition value is not an IP address or CIDR');
    ranges.addSubnet(address, length, family === 4 ? 'ipv4' : 'ipv6');
  }
  return {
    templates: [],
    matchesAny(value) {
      const address = plainAddress(value);
      const family = isIP(address);
      return family !== 0 && ranges.check(address, family === 4 ? 'ipv4' : 'ipv6');
    },
  };
}

const equal = (a: number, b: number) => a === b;
const less = (a: number, b: number) => a < b;
const lessOrEqual = (a: number, b: number) => a <= b;
const greater = (a: number, b: number) => a > b;
const greaterOrEqual = (a: number, b: number) => a >= b;

/** Operator names in lower case: IAM matches them case-insensitively. */
const OPERATORS: Record<string, OperatorSpec> = {
  stringequals: { negated: false, build: stringEquality(false) },
  stringnotequals: { negated: true, build: stringEquality(false) },
  stringequalsignorecase: { negated: false, build: stringEquality(true) },
  stringnotequalsignorecase: { negated: true, build: stringEquality(true) },
  stringlike: { negated: false, build: likeMatch(false) },
  stringnotlike: { negated: true, build: likeMatch(false) },
  arnequals: { negated: false, build: likeMatch(true) },
  arnlike: { negated: false, build: likeMatch(true) },
  arnnotequals: { negated: true, build: likeMatch(true) },
  arnnotlike: { negated: true, build: likeMatch(true) },
  numericequals: { negated: false, build: numeric(equal) },
  numericnotequals: { negated: true, build: numeric(equal) },
  numericlessthan: { negated: false, build: numeric(less) },
  numericlessthanequals: { negated: false, build: numeric(lessOrEqual) },
  numericgreaterthan: { negated: false, build: numeric(greater) },
  numericgreaterthanequals: { negated: false, build: numeric(greaterOrEqual) },
  dateequals: { negated: false, build: date(equal) },
  datenotequals: { negated: true, build: date(equal) },
  datelessthan: { negated: false, build: date(less) },
  datelessthanequals: { negated: false, build: date(lessOrEqual) },
  dategreaterthan: { negated: false, build: date(greater) },
  dategreaterthanequals: { negated: false, build: date(greaterOrEqual) },
  bool: { negated: false, build: bool },
  binaryequals: { negated: false, build: binary },
  ipaddress: { negated: false, build: ipAddress },
  notipaddress: { negated: true, build: ipAddress },
};

/** One (operator, key) pair of a Condition block. */
export interface Condition<C> {
  /** The operator as written, e.g. `ForAllValues:StringEquals`. */
  readonly operator: string;
  readonly key: string;
  /** The variables this condition reads (its key aside), for missingContextValues. */
  readonly variables: readonly string[];
  /**
   * Whether the condition holds. `missing` collects the keys a decision needed but the request
   * did not have (the key itself when absent, and variables without a value).
   */
  holds(context: C, missing?: Set<string>): boolean;
}

function valuesOf<C>(read: ContextReader<C> | undefined, context: C) {
  const raw = read?.(context);
  return raw === undefined ? undefined : typeof raw === 'string' ? [raw] : raw;
}

function nullCondition<C>(
  operator: string,
  key: string,
  values: string[],
  read: ContextReader<C> | undefined,
): Condition<C> {
  if (values.length !== 1 || !['true', 'false'].includes((values[0] as string).toLowerCase()))
    throw new ConditionSyntaxError('a Null condition value must be "true" or "false"');
  const expectAbsent = (values[0] as string).toLowerCase() === 'true';
  return {
    operator,
    key,
    variables: [],
    holds(context) {
      const present = valuesOf(read, context);
      return (present === undefined || present.length === 0) === expectAbsent;
    },
  };
}

/**
 * Compiles one operator's entry for one key; throws ConditionSyntaxError on bad input. `keys`
 * reads the condition key from a request; `variables` is given when the document's language
 * version interprets `${…}` in values.
 */
export function compileCondition<C>(
  operator: string,
  key: string,
  values: string[],
  keys: ContextKeys<C>,
  variables: ContextKeys<C> | undefined,
): Condition<C> {
  let name = operator;
  let qualifier: Qualifier = 'none';
  const colon = name.indexOf(':');
  if (colon >= 0) {
    const prefix = name.slice(0, colon).toLowerCase();
    if (prefix === 'foranyvalue') qualifier = 'ForAnyValue';
    else if (prefix === 'forallvalues') qualifier = 'ForAllValues';
    else
      throw new ConditionSyntaxError(`unknown condition qualifier ${name.slice(0, colon)}`, true);
    name = name.slice(colon + 1);
  }
  let ifExists = false;
  if (/ifexists$/i.test(name) && name.length > 8) {
    ifExists = true;
    name = name.slice(0, -8);
  }
  const read = keys(key);
  if (name.toLowerCase() === 'null') {
    if (qualifier !== 'none' || ifExists)
      throw new ConditionSyntaxError('Null takes neither a qualifier nor IfExists', true);
    return nullCondition(operator, key, values, read);
  }
  const spec = OPERATORS[name.toLowerCase()];
  if (!spec) throw new ConditionSyntaxError(`unsupported condition operator ${operator}`, true);
  if (values.length === 0) throw new ConditionSyntaxError(`${operator} needs at least one value`);
  const test = spec.build(values, variables);
  const policyVariables = test.templates.flatMap((template) => template.variables);
  const matches = (value: string, context: C) =>
    spec.negated ? !test.matchesAny(value, context) : test.matchesAny(value, context);
  return {
    operator,
    key,
    variables: policyVariables,
    holds(context, missing) {
      for (const template of test.templates) {
        if (template.variables.length > 0 && template.resolve(context) === undefined) {
          for (const variable of template.variables) missing?.add(variable);
          return false;
        }
      }
      const requestValues = valuesOf(read, context);
      if (requestValues === undefined || requestValues.length === 0) {
        if (requestValues === undefined && !ifExists && qualifier === 'none') missing?.add(key);
        if (ifExists || qualifier === 'ForAllValues') return true;
        if (qualifier === 'ForAnyValue') return false;
        return spec.negated;
      }
      if (qualifier === 'ForAllValues')
        return requestValues.every((value) => matches(value, context));
      return requestValues.some((value) => matches(value, context));
    },
  };
}
