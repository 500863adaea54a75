// IAM policy evaluation, case by case, from the published corpus policy-evaluation-cases.json
// (each case names the AWS rule it checks: IAM User Guide reference_policies_evaluation-logic,
// reference_policies_elements_*, reference_policies_condition-keys, reference_policies_variables,
// reference_policies_examples_*), then document validation (IAM's limits and MalformedPolicyDocument)
// and the texts a deny is reported with.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { isBulwarkError } from '../../src/errors.js';
import {
  accessDeniedMessage,
  describeIamDecision,
  evaluateIamPolicies,
  IAM_POLICY_SIZE_LIMITS,
  parseIamPolicy,
  type IamCredentials,
  type IamEvalDecision,
  type IamPolicyKind,
  type IamPrincipal,
  type IamRequestContext,
} from '../../src/iam/policy/index.js';

/** The request context as the corpus writes it: JSON, times as ISO 8601 strings. */
interface CaseContext {
  currentTime?: string;
  principal?: IamPrincipal | null;
  credentials?: { type: 'long-term' } | { type: 'temporary'; mfaAuthenticatedAt?: string } | null;
  sourceIp?: string | null;
  secureTransport?: boolean | null;
  requestedRegion?: string | null;
  keys?: Record<string, string | string[]>;
}

interface EvaluationCase {
  name: string;
  rule: string;
  policies: { name: string; arn?: string; document: unknown }[];
  request: { action: string; resource: string; context?: CaseContext };
  expect: { decision: IamEvalDecision; matched: string[]; missingContextValues: string[] };
}

interface Corpus {
  about: string[];
  defaultContext: CaseContext;
  cases: EvaluationCase[];
}

const corpus = JSON.parse(
  readFileSync(new URL('policy-evaluation-cases.json', import.meta.url), 'utf8'),
) as Corpus;

/** The case's context over the default one; a field set to null is left out. */
function contextOf(overrides: CaseContext = {}): IamRequestContext {
  const merged: CaseContext = { ...corpus.defaultContext, ...overrides };
  const context: IamRequestContext = { currentTime: new Date(merged.currentTime as string) };
  if (merged.principal) context.principal = merged.principal;
  const credentials = merged.credentials;
  if (credentials) {
    context.credentials =
      credentials.type === 'temporary' && credentials.mfaAuthenticatedAt !== undefined
        ? { type: 'temporary', mfaAuthenticatedAt: new Date(credentials.mfaAuthenticatedAt) }
        : ({ type: credentials.type } as IamCredentials);
  }
  if (typeof merged.sourceIp === 'string') context.sourceIp = merged.sourceIp;
  if (typeof merged.secureTransport === 'boolean') context.secureTransport = merged.secureTransport;
  if (typeof merged.requestedRegion === 'string') context.requestedRegion = merged.requestedRegion;
  if (merged.keys) context.keys = merged.keys;
  return context;
}

for (const item of corpus.cases) {
  test(`evaluate: ${item.name}`, () => {
    const policies = item.policies.map((policy) => ({
      name: policy.name,
      ...(policy.arn !== undefined ? { arn: policy.arn } : {}),
      document: parseIamPolicy(JSON.stringify(policy.document), 'managed'),
    }));
    const result = evaluateIamPolicies(policies, {
      action: item.request.action,
      resource: item.request.resource,
      context: contextOf(item.request.context),
    });
    assert.deepEqual(
      {
        decision: result.decision,
        matched: result.matchedStatements.map(
          (statement) => statement.sid ?? `${statement.policyName}#${statement.statementIndex}`,
        ),
        missingContextValues: result.missingContextValues,
      },
      item.expect,
      item.rule,
    );
  });
}

test('the corpus has at least 150 cases, each named once, each citing its rule', () => {
  assert.ok(corpus.cases.length >= 150, `${corpus.cases.length} cases`);
  const names = corpus.cases.map((item) => item.name);
  assert.equal(new Set(names).size, names.length, 'case names are unique');
  for (const item of corpus.cases) assert.ok(item.rule.length > 0, item.name);
});

// ---- documents IAM refuses ----

const ok = { Effect: 'Allow', Action: 'iot:DescribeThing', Resource: '*' };
const withStatement = (statement: unknown) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
const withCondition = (Condition: unknown) => withStatement({ ...ok, Condition });

/** A valid document with exactly `characters` non-whitespace characters. */
function documentOfSize(characters: number): string {
  const base = withStatement({ ...ok, Resource: 'arn:aws:iot:r:a:thing/' });
  return withStatement({
    ...ok,
    Resource: `arn:aws:iot:r:a:thing/${'x'.repeat(characters - base.length)}`,
  });
}

const malformedCases: { rule: string; text: string; message: RegExp }[] = [
  {
    rule: 'not JSON',
    text: '{"Version": ',
    message: /^Syntax errors in policy\. .*not valid JSON/,
  },
  { rule: 'an empty document', text: ' \n ', message: /^Syntax errors in policy\. .*empty/ },
  { rule: 'a JSON array', text: '[]', message: /^Syntax errors in policy\. .*JSON object/ },
  {
    rule: 'an unknown top-level element',
    text: JSON.stringify({ Version: '2012-10-17', Statement: [ok], Extra: 1 }),
    message: /^Syntax errors in policy\. .*unknown element Extra/,
  },
  {
    rule: 'no Statement',
    text: '{"Version":"2012-10-17"}',
    message: /^Syntax errors in policy\. .*no Statement/,
  },
  {
    rule: 'an empty Statement list',
    text: '{"Version":"2012-10-17","Statement":[]}',
    message: /^Syntax errors in policy\. .*empty Statement/,
  },
  {
    rule: 'an unknown Version',
    text: JSON.stringify({ Version: '2012-10-18', Statement: [ok] }),
    message: /^The policy failed legacy parsing\. .*Version/,
  },
  {
    rule: 'a Version that is not a string',
    text: JSON.stringify({ Version: 2012, Statement: [ok] }),
    message: /^The policy failed legacy parsing\./,
  },
  {
    rule: 'Principal in an identity-based policy',
    text: withStatement({ ...ok, Principal: { AWS: '*' } }),
    message: /^Policy document should not specify a principal\. Statement\[0\] has Principal/,
  },
  {
    rule: 'NotPrincipal in an identity-based policy',
    text: withStatement({ ...ok, NotPrincipal: { AWS: 'arn:aws:iam::123456789012:root' } }),
    message: /^Policy document should not specify a principal\. Statement\[0\] has NotPrincipal/,
  },
  {
    rule: 'Effect in the wrong case',
    text: withStatement({ ...ok, Effect: 'allow' }),
    message: /^The policy failed legacy parsing\. .*Effect must be "Allow" or "Deny"/,
  },
  {
    rule: 'no Effect',
    text: withStatement({ Action: 'iot:*', Resource: '*' }),
    message: /^The policy failed legacy parsing\. .*Effect/,
  },
  {
    rule: 'neither Action nor NotAction',
    text: withStatement({ Effect: 'Allow', Resource: '*' }),
    message: /^Policy statement must contain actions\./,
  },
  {
    rule: 'both Action and NotAction',
    text: withStatement({ ...ok, NotAction: 'iam:*' }),
    message: /^Policy statement must contain actions\. .*exactly one of Action and NotAction/,
  },
  {
    rule: 'neither Resource nor NotResource',
    text: withStatement({ Effect: 'Allow', Action: 'iot:*' }),
    message: /^Policy statement must contain resources\./,
  },
  {
    rule: 'an action without a service prefix',
    text: withStatement({ ...ok, Action: 'CreateThing' }),
    message: /^Actions\/Conditions must be prefaced by a vendor.*"CreateThing"/,
  },
  {
    rule: 'an action with two colons',
    text: withStatement({ ...ok, Action: ['iot:Describe:Thing'] }),
    message: /^Actions\/Conditions must be prefaced by a vendor/,
  },
  {
    rule: 'an empty Action list',
    text: withStatement({ ...ok, Action: [] }),
    message: /^Syntax errors in policy\. .*empty list/,
  },
  {
    rule: 'a resource that is neither an ARN nor "*"',
    text: withStatement({ ...ok, Resource: 'thing/sensor-1' }),
    message: /^Resource must be in ARN format or "\*"\. .*"thing\/sensor-1"/,
  },
  {
    rule: 'an unknown statement element',
    text: withStatement({ ...ok, Sids: 'x' }),
    message: /^Syntax errors in policy\. .*unknown element Sids/,
  },
  {
    rule: 'a Sid with characters other than letters and digits',
    text: withStatement({ ...ok, Sid: 'allow-describe' }),
    message:
      /^Statement IDs \(SID\) must be alpha-numeric\. Statement\[0\]\.Sid is "allow-describe"/,
  },
  {
    rule: 'the same Sid twice',
    text: JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { ...ok, Sid: 'Same' },
        { ...ok, Sid: 'Same' },
      ],
    }),
    message: /^Statement IDs \(SID\) in a single policy must be unique\. Statement\[1\]/,
  },
  {
    rule: 'an unknown condition operator',
    text: withCondition({ StringSortOf: { 'aws:username': 'a' } }),
    message: /^Invalid Condition type\. .*StringSortOf/,
  },
  {
    rule: 'an unknown set qualifier',
    text: withCondition({ 'ForSomeValues:StringEquals': { 'aws:TagKeys': 'a' } }),
    message: /^Invalid Condition type\. .*qualifier ForSomeValues/,
  },
  {
    rule: 'Null with IfExists',
    text: withCondition({ NullIfExists: { 'aws:username': 'true' } }),
    message: /^Invalid Condition type\. .*Null/,
  },
  {
    rule: 'a Condition that is not an object',
    text: withStatement({ ...ok, Condition: ['StringEquals'] }),
    message: /^Syntax errors in policy\. .*Condition must be an object/,
  },
  {
    rule: 'a condition value that is an object',
    text: withCondition({ StringEquals: { 'aws:username': { a: 1 } } }),
    message: /^Syntax errors in policy\. .*a string, a number, a boolean/,
  },
  {
    rule: 'a Date value that is not a date',
    text: withCondition({ DateLessThan: { 'aws:CurrentTime': 'tomorrow' } }),
    message: /^Syntax errors in policy\. .*not a date: tomorrow/,
  },
  {
    rule: 'a policy variable in a Date value (IAM: Date operators take no variables)',
    text: withCondition({ DateLessThan: { 'aws:CurrentTime': '${aws:CurrentTime}' } }),
    message: /not a date/,
  },
  {
    rule: 'a Numeric value that is not a number',
    text: withCondition({ NumericLessThan: { 'aws:MultiFactorAuthAge': 'an hour' } }),
    message: /not a number: an hour/,
  },
  {
    rule: 'a Bool value other than true or false',
    text: withCondition({ Bool: { 'aws:SecureTransport': 'yes' } }),
    message: /"true" or "false"/,
  },
  {
    rule: 'a CIDR with too long a prefix',
    text: withCondition({ IpAddress: { 'aws:SourceIp': '203.0.113.0/33' } }),
    message: /IP address or CIDR/,
  },
  {
    rule: 'a BinaryEquals value that is not base64',
    text: withCondition({ BinaryEquals: { 'custom:Blob': 'not base64!' } }),
    message: /base64/,
  },
];

for (const item of malformedCases) {
  test(`malformed IAM policy: ${item.rule}`, () => {
    assert.throws(
      () => parseIamPolicy(item.text, 'managed'),
      (error: unknown) => {
        assert.ok(isBulwarkError(error, 'MalformedPolicyDocument'), String(error));
        assert.equal(error.awsType, 'MalformedPolicyDocument');
        assert.equal(error.httpStatus, 400);
        assert.match(error.message, item.message);
        return true;
      },
    );
  });
}

const sizeErrors: Record<IamPolicyKind, RegExp> = {
  managed: /^Cannot exceed quota for PolicySize: 6144$/,
  'user-inline': /^Maximum policy size of 2048 bytes exceeded for user alice$/,
  'group-inline': /^Maximum policy size of 5120 bytes exceeded for group alice$/,
};

for (const kind of Object.keys(IAM_POLICY_SIZE_LIMITS) as IamPolicyKind[]) {
  const limit = IAM_POLICY_SIZE_LIMITS[kind];
  test(`size limit of a ${kind} policy: ${limit} characters, whitespace not counted`, () => {
    const atLimit = documentOfSize(limit);
    assert.equal(atLimit.length, limit);
    parseIamPolicy(atLimit, kind, 'alice');
    // Indentation is free: the same document pretty-printed is still within the limit.
    const pretty = JSON.stringify(JSON.parse(atLimit), null, 8);
    assert.ok(pretty.length > limit);
    parseIamPolicy(pretty, kind, 'alice');
    assert.throws(
      () => parseIamPolicy(documentOfSize(limit + 1), kind, 'alice'),
      (error: unknown) => {
        assert.ok(isBulwarkError(error, 'LimitExceeded'), String(error));
        assert.match(error.message, sizeErrors[kind]);
        return true;
      },
    );
  });
}

test('accepted forms: a Statement object, 2008-10-17, no Version, empty Sids, every operator', () => {
  const everyOperator = {
    StringEqualsIgnoreCaseIfExists: { 'aws:username': 'ALICE' },
    'ForAllValues:StringLike': { 'aws:TagKeys': ['env*'] },
    'ForAnyValue:StringNotEquals': { 'aws:TagKeys': 'owner' },
    NumericGreaterThanEqualsIfExists: { 'aws:MultiFactorAuthAge': 0 },
    DateGreaterThan: { 'aws:CurrentTime': '2020-01-01T00:00:00Z', 'aws:EpochTime': 1577836800 },
    DateLessThanEquals: { 'aws:CurrentTime': '2100-01' },
    BoolIfExists: { 'aws:MultiFactorAuthPresent': true },
    BinaryEquals: { 'custom:Blob': 'QmluYXJ5VmFsdWU=' },
    NotIpAddressIfExists: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] },
    ArnNotLikeIfExists: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/*' },
    Null: { 'aws:TokenIssueTime': 'false' },
  };
  for (const document of [
    { Version: '2012-10-17', Statement: ok },
    { Version: '2008-10-17', Statement: [ok] },
    { Statement: [ok] },
    {
      Version: '2012-10-17',
      Id: 'p',
      Statement: [
        { ...ok, Sid: '' },
        { ...ok, Sid: '' },
      ],
    },
    { Version: '2012-10-17', Statement: [{ ...ok, Sid: 'Every1', Condition: everyOperator }] },
  ])
    parseIamPolicy(JSON.stringify(document), 'managed');
});

// ---- how a decision is reported ----

const ALICE = 'arn:aws:iam::123456789012:user/alice';
const THING = 'arn:aws:iot:us-east-1:123456789012:thing/sensor-1';
const describeOnly = {
  name: 'DescribeOnly',
  document: parseIamPolicy(
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Sid: 'Describe', Effect: 'Allow', Action: 'iot:DescribeThing', Resource: '*' }],
    }),
    'user-inline',
  ),
};
const denyDelete = {
  name: 'DenyDeletes',
  arn: 'arn:aws:iam::123456789012:policy/DenyDeletes',
  document: parseIamPolicy(
    JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Deny', Action: 'iot:Delete*', Resource: '*' }],
    }),
    'managed',
  ),
};
const context: IamRequestContext = { currentTime: new Date('2026-06-15T12:00:00Z') };

test('AccessDenied text for an implicit deny names the action, as AWS words it', () => {
  const request = { action: 'iot:CreateThing', resource: THING, context };
  const decision = evaluateIamPolicies([describeOnly], request);
  assert.equal(
    accessDeniedMessage(ALICE, request, decision),
    `User: ${ALICE} is not authorized to perform: iot:CreateThing on resource: ${THING} because no identity-based policy allows the iot:CreateThing action`,
  );
  assert.equal(describeIamDecision(decision), 'implicitDeny: no statement matched');
});

test('AccessDenied text for an explicit deny names the managed policy; the audit line the statement', () => {
  const request = { action: 'iot:DeleteThing', resource: THING, context };
  const decision = evaluateIamPolicies([describeOnly, denyDelete], request);
  assert.equal(
    accessDeniedMessage(ALICE, request, decision),
    `User: ${ALICE} is not authorized to perform: iot:DeleteThing on resource: ${THING} with an explicit deny in an identity-based policy: ${denyDelete.arn}`,
  );
  assert.deepEqual(decision.matchedStatements, [
    { policyName: 'DenyDeletes', policyArn: denyDelete.arn, statementIndex: 0 },
  ]);
  assert.equal(
    describeIamDecision(decision),
    `explicitDeny: statement #0 of policy ${denyDelete.arn}`,
  );
});

test('an allow is described by the statements that allowed it', () => {
  const decision = evaluateIamPolicies([describeOnly, denyDelete], {
    action: 'iot:DescribeThing',
    resource: THING,
    context,
  });
  assert.equal(describeIamDecision(decision), 'allowed: statement Describe of policy DescribeOnly');
});
