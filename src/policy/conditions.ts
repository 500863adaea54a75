import { BlockList, isIP } from 'node:net';
import { contextReader, type AuthorizationContext, type ContextReader } from './context.js';
import { Template } from './wildcard.js';

/**
 * The Condition element, with IAM's semantics (reference_policies_elements_condition_operators,
 * reference_policies_condition-single-vs-multi-valued-context-keys):
 * - operators are ANDed, keys within an operator are ANDed, the values of one key are ORed;
 * - a key absent from the request makes a condition false, except that negated operators
 *   (StringNotEquals, StringNotLike, NotIpAddress, ArnNotLike, …) are then true, `…IfExists` is
 *   true, `ForAllValues:` is true and `ForAnyValue:` is false; `Null` tests presence itself;
 * - `ForAllValues:` holds when every request value matches some policy value, `ForAnyValue:` when
 *   one does; without a qualifier a multivalued key behaves as `ForAnyValue:`;
 * - a policy variable without a value in a condition value makes the condition false, so the
 *   statement does not apply (IAM: an unresolved variable invalidates the statement).
 */

export class ConditionSyntaxError extends Error {}

type Qualifier = 'none' | 'ForAnyValue' | 'ForAllValues';

/** How one operator family tests a request value against the policy's values. */
interface ValueTest {
  /** True when `value` matches at least one policy value. */
  matchesAny(value: string, context: AuthorizationContext): boolean;
  /** The variables the policy values read; a missing one makes the condition false. */
  templates: readonly Template[];
}

interface OperatorSpec {
  negated: boolean;
  build(values: string[], variables: boolean): ValueTest;
}

function templates(values: string[], wildcards: boolean, variables: boolean, ignoreCase = false) {
  return values.map((value) => new Template(value, { wildcards, variables, ignoreCase }));
}

function stringEquality(ignoreCase: boolean): OperatorSpec['build'] {
  return (values, variables) => {
    const compiled = templates(values, false, variables, ignoreCase);
    const constant = compiled.every((template) => template.variables.length === 0);
    const fixed = constant ? new Set(compiled.map((template) => template.resolve({}))) : undefined;
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

/** StringLike and the ARN operators: `*` and `?` wildcards, case-sensitive. */
function likeMatch(values: string[], variables: boolean): ValueTest {
  const compiled = templates(values, true, variables);
  return {
    templates: compiled,
    matchesAny: (value, context) =>
      compiled.some((template) => template.matches(value, context) === true),
  };
}

function numeric(compare: (request: number, policy: number) => boolean): OperatorSpec['build'] {
  return (values) => {
    const numbers = values.map((value) => {
      const number = Number(value);
      if (value.trim() === '' || !Number.isFinite(number))
        throw new ConditionSyntaxError(`a numeric condition value is not a number`);
      return number;
    });
    return {
      templates: [],
      matchesAny(value) {
        const request = Number(value);
        return (
          value.trim() !== '' &&
          Number.isFinite(request) &&
          numbers.some((number) => compare(request, number))
        );
      },
    };
  };
}

function bool(values: string[]): ValueTest {
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

/** An IPv4 address mapped into IPv6 (`::ffff:a.b.c.d`, as dual-stack sockets report) as IPv4. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

function ipAddress(values: string[]): ValueTest {
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

const OPERATORS: Record<string, OperatorSpec> = {
  stringequals: { negated: false, build: stringEquality(false) },
  stringnotequals: { negated: true, build: stringEquality(false) },
  stringequalsignorecase: { negated: false, build: stringEquality(true) },
  stringnotequalsignorecase: { negated: true, build: stringEquality(true) },
  stringlike: { negated: false, build: likeMatch },
  stringnotlike: { negated: true, build: likeMatch },
  arnequals: { negated: false, build: likeMatch },
  arnlike: { negated: false, build: likeMatch },
  arnnotequals: { negated: true, build: likeMatch },
  arnnotlike: { negated: true, build: likeMatch },
  numericequals: { negated: false, build: numeric((a, b) => a === b) },
  numericnotequals: { negated: true, build: numeric((a, b) => a === b) },
  numericlessthan: { negated: false, build: numeric((a, b) => a < b) },
  numericlessthanequals: { negated: false, build: numeric((a, b) => a <= b) },
  numericgreaterthan: { negated: false, build: numeric((a, b) => a > b) },
  numericgreaterthanequals: { negated: false, build: numeric((a, b) => a >= b) },
  bool: { negated: false, build: bool },
  ipaddress: { negated: false, build: ipAddress },
  notipaddress: { negated: true, build: ipAddress },
};

/** One (operator, key) pair of a Condition block. */
export interface Condition {
  /** The operator as written, e.g. `ForAllValues:StringEquals`. */
  readonly operator: string;
  readonly key: string;
  /** The variables this condition reads (its key aside), for missingContextValues. */
  readonly variables: readonly string[];
  /**
   * Whether the condition holds. `missing` collects the keys a decision needed but the request
   * did not have (the key itself when absent, and variables without a value).
   */
  holds(context: AuthorizationContext, missing?: Set<string>): boolean;
}

function valuesOf(read: ContextReader | undefined, context: AuthorizationContext) {
  const raw = read?.(context);
  return raw === undefined ? undefined : typeof raw === 'string' ? [raw] : raw;
}

function nullCondition(operator: string, key: string, values: string[]): Condition {
  if (values.length !== 1 || !['true', 'false'].includes((values[0] as string).toLowerCase()))
    throw new ConditionSyntaxError('a Null condition value must be "true" or "false"');
  const expectAbsent = (values[0] as string).toLowerCase() === 'true';
  const read = contextReader(key);
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

/** Compiles one operator's entry for one key; throws ConditionSyntaxError on bad input. */
export function compileCondition(
  operator: string,
  key: string,
  values: string[],
  variables: boolean,
): Condition {
  let name = operator;
  let qualifier: Qualifier = 'none';
  const colon = name.indexOf(':');
  if (colon >= 0) {
    const prefix = name.slice(0, colon).toLowerCase();
    if (prefix === 'foranyvalue') qualifier = 'ForAnyValue';
    else if (prefix === 'forallvalues') qualifier = 'ForAllValues';
    else throw new ConditionSyntaxError(`unknown condition qualifier ${name.slice(0, colon)}`);
    name = name.slice(colon + 1);
  }
  let ifExists = false;
  if (/ifexists$/i.test(name) && name.length > 8) {
    ifExists = true;
    name = name.slice(0, -8);
  }
  if (name.toLowerCase() === 'null') {
    if (qualifier !== 'none' || ifExists)
      throw new ConditionSyntaxError('Null takes neither a qualifier nor IfExists');
    return nullCondition(operator, key, values);
  }
  const spec = OPERATORS[name.toLowerCase()];
  if (!spec) throw new ConditionSyntaxError(`unsupported condition operator ${operator}`);
  if (values.length === 0) throw new ConditionSyntaxError(`${operator} needs at least one value`);
  const test = spec.build(values, variables);
  const read = contextReader(key);
  const policyVariables = test.templates.flatMap((template) => template.variables);
  const matches = (value: string, context: AuthorizationContext) =>
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
