// Policy document validation: what CreatePolicy and CreatePolicyVersion refuse with 400
// MalformedPolicyException (API reference: policyDocument "Maximum length of 2048, excluding
// whitespace"; IAM JSON policy grammar for the elements).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isBulwarkError } from '../../src/errors.js';
import { MAX_POLICY_DOCUMENT_CHARACTERS, PolicyDocument } from '../../src/policy/document.js';

const ok = { Effect: 'Allow', Action: 'iot:Publish', Resource: '*' };
const withStatement = (statement: unknown) =>
  JSON.stringify({ Version: '2012-10-17', Statement: [statement] });

function malformed(text: string, message: RegExp): void {
  assert.throws(
    () => PolicyDocument.parse(text),
    (error: unknown) => {
      assert.ok(isBulwarkError(error, 'MalformedPolicy'), String(error));
      assert.equal(error.awsType, 'MalformedPolicyException');
      assert.equal(error.httpStatus, 400);
      assert.match(error.message, message);
      return true;
    },
  );
}

/** A valid document with exactly `characters` non-whitespace characters. */
function documentOfSize(characters: number): string {
  const base = withStatement({ ...ok, Resource: 'arn:aws:iot:r:a:topic/' });
  const padding = characters - base.length;
  return withStatement({ ...ok, Resource: `arn:aws:iot:r:a:topic/${'x'.repeat(padding)}` });
}

const cases: { rule: string; text: string; message: RegExp }[] = [
  { rule: 'not JSON', text: '{"Version": ', message: /not valid JSON/ },
  { rule: 'empty document', text: '   ', message: /empty/ },
  { rule: 'a JSON array, not an object', text: '[]', message: /JSON object/ },
  { rule: 'missing Statement', text: '{"Version":"2012-10-17"}', message: /no Statement/ },
  {
    rule: 'empty Statement list',
    text: '{"Version":"2012-10-17","Statement":[]}',
    message: /empty Statement/,
  },
  {
    rule: 'unknown Version',
    text: JSON.stringify({ Version: '2020-01-01', Statement: [ok] }),
    message: /Version/,
  },
  {
    rule: 'unknown top-level element',
    text: JSON.stringify({ Version: '2012-10-17', Statement: [ok], Extra: 1 }),
    message: /unknown element Extra/,
  },
  {
    rule: 'bad Effect',
    text: withStatement({ ...ok, Effect: 'allow' }),
    message: /Effect must be "Allow" or "Deny"/,
  },
  {
    rule: 'missing Effect',
    text: withStatement({ Action: 'iot:*', Resource: '*' }),
    message: /Effect/,
  },
  {
    rule: 'neither Action nor NotAction',
    text: withStatement({ Effect: 'Allow', Resource: '*' }),
    message: /exactly one of Action and NotAction/,
  },
  {
    rule: 'both Action and NotAction',
    text: withStatement({ ...ok, NotAction: 'iot:Connect' }),
    message: /exactly one of Action and NotAction/,
  },
  {
    rule: 'neither Resource nor NotResource',
    text: withStatement({ Effect: 'Allow', Action: 'iot:*' }),
    message: /exactly one of Resource and NotResource/,
  },
  {
    rule: 'an action without a vendor prefix',
    text: withStatement({ ...ok, Action: 'Publish' }),
    message: /vendor:action/,
  },
  {
    rule: 'an empty Action list',
    text: withStatement({ ...ok, Action: [] }),
    message: /empty list/,
  },
  {
    rule: 'a non-string action',
    text: withStatement({ ...ok, Action: [1] }),
    message: /non-empty string/,
  },
  {
    rule: 'a resource that is neither an ARN nor "*"',
    text: withStatement({ ...ok, Resource: 'topic/a' }),
    message: /ARNs or "\*"/,
  },
  {
    rule: 'a Principal element (IoT policies are attached, they name no principal)',
    text: withStatement({ ...ok, Principal: '*' }),
    message: /Principal/,
  },
  {
    rule: 'an unknown statement element',
    text: withStatement({ ...ok, Sids: 'x' }),
    message: /unknown element Sids/,
  },
  {
    rule: 'an unknown condition operator',
    text: withStatement({ ...ok, Condition: { StringSortOf: { 'iot:ClientId': 'a' } } }),
    message: /unsupported condition operator/,
  },
  {
    rule: 'an unknown condition qualifier',
    text: withStatement({
      ...ok,
      Condition: { 'ForSomeValues:StringEquals': { 'iot:ClientId': 'a' } },
    }),
    message: /qualifier/,
  },
  {
    rule: 'a condition operator that is not an object',
    text: withStatement({ ...ok, Condition: { StringEquals: 'a' } }),
    message: /object of condition keys/,
  },
  {
    rule: 'a condition value that is an object',
    text: withStatement({ ...ok, Condition: { StringEquals: { 'iot:ClientId': { a: 1 } } } }),
    message: /string, a number, a boolean/,
  },
  {
    rule: 'a bad CIDR in IpAddress',
    text: withStatement({ ...ok, Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } }),
    message: /IP address or CIDR/,
  },
  {
    rule: 'a Bool value other than true/false',
    text: withStatement({
      ...ok,
      Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'yes' } },
    }),
    message: /"true" or "false"/,
  },
  {
    rule: 'a Numeric value that is not a number',
    text: withStatement({ ...ok, Condition: { NumericEquals: { 'iot:ClientId': 'ten' } } }),
    message: /not a number/,
  },
  {
    rule: 'Null with IfExists',
    text: withStatement({ ...ok, Condition: { NullIfExists: { 'iot:ClientId': 'true' } } }),
    message: /Null/,
  },
  {
    rule: `more than ${MAX_POLICY_DOCUMENT_CHARACTERS} characters excluding whitespace`,
    text: documentOfSize(MAX_POLICY_DOCUMENT_CHARACTERS + 1),
    message: /2049 characters excluding whitespace; the limit is 2048/,
  },
];

for (const item of cases) {
  test(`malformed policy: ${item.rule}`, () => malformed(item.text, item.message));
}

test('exactly 2048 characters excluding whitespace is accepted, however much whitespace', () => {
  const text = documentOfSize(MAX_POLICY_DOCUMENT_CHARACTERS);
  assert.equal(text.length, MAX_POLICY_DOCUMENT_CHARACTERS);
  PolicyDocument.parse(text);
  // Indentation does not count: the same document pretty-printed is still within the limit.
  const pretty = JSON.stringify(JSON.parse(text), null, 8);
  assert.ok(pretty.length > MAX_POLICY_DOCUMENT_CHARACTERS);
  PolicyDocument.parse(pretty);
});

test('accepted forms: string or list elements, Sid, Id, 2008-10-17, no Version, conditions', () => {
  for (const document of [
    { Version: '2012-10-17', Statement: ok },
    { Version: '2012-10-17', Id: 'p', Statement: [{ ...ok, Sid: 's1', Action: ['iot:Publish'] }] },
    { Version: '2008-10-17', Statement: [ok] },
    { Statement: [ok] },
    {
      Version: '2012-10-17',
      Statement: [
        {
          ...ok,
          Condition: {
            'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['PersistentConnect'] },
            StringLikeIfExists: { 'iot:LastWillTopic': 'wills/*' },
            IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32', '192.0.2.1'] },
            Bool: { 'iot:Connection.Thing.IsAttached': true },
            Null: { 'iot:Certificate.Subject.CommonName': 'false' },
            ArnLike: { 'iot:LastWillTopic': 'arn:aws:iot:*:*:topic/*' },
            NumericLessThanEquals: { 'iot:Connection.Thing.Attributes[n]': 5 },
          },
        },
      ],
    },
  ])
    PolicyDocument.parse(JSON.stringify(document));
});
