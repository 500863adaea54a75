// The IoT policy language, case by case: each case names the AWS rule it checks (AWS IoT
// Developer Guide: iot-policies, iot-policy-actions, iot-action-resources, iot-policy-variables,
// thing-policy-variables, cert-policy-variables, pub-sub-policy, connect-policy; IAM User Guide:
// reference_policies_evaluation-logic, reference_policies_variables,
// reference_policies_elements_condition_operators, reference_policies_condition-single-vs-multi-
// valued-context-keys, reference_policies_elements_notaction / _notresource).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { AuthorizationContext } from '../../src/policy/context.js';
import { PolicyDocument } from '../../src/policy/document.js';
import { evaluate, explain, type Decision } from '../../src/policy/evaluate.js';

const ARN = 'arn:aws:iot:us-east-1:123456789012';
const topic = (name: string) => `${ARN}:topic/${name}`;
const filter = (name: string) => `${ARN}:topicfilter/${name}`;
const client = (id: string) => `${ARN}:client/${id}`;

type Statement = Record<string, unknown>;
const allow = (Action: unknown, Resource: unknown, Condition?: object): Statement => ({
  Effect: 'Allow',
  Action,
  Resource,
  ...(Condition ? { Condition } : {}),
});
const deny = (Action: unknown, Resource: unknown, Condition?: object): Statement => ({
  Effect: 'Deny',
  Action,
  Resource,
  ...(Condition ? { Condition } : {}),
});
const doc = (...Statement: Statement[]) => ({ Version: '2012-10-17', Statement });

const THING: AuthorizationContext = {
  clientId: 'sensor-1',
  thing: { name: 'sensor-1', typeName: 'thermostat', attributes: { floor: '3', Room: 'a/b' } },
};
const CERT: AuthorizationContext = {
  clientId: 'c1',
  certificate: {
    subject: { CommonName: ['dev-42'], Organization: ['Acme'], OrganizationalUnit: ['ops', 'lab'] },
    issuer: { CommonName: ['Acme CA'], Country: ['US'] },
    subjectAlternativeName: { DNSName: ['a.example', 'b.example'], IPAddress: ['10.0.0.7'] },
    issuerAlternativeName: {},
    serialNumber: '9A3F',
  },
};

interface Case {
  rule: string;
  policies: object[];
  action: string;
  resource: string;
  context?: AuthorizationContext;
  expect: Decision;
}

const cases: Case[] = [
  // ---- default deny, explicit deny, union (iot-policies, IAM evaluation logic) ----
  {
    rule: 'default deny: no policy at all',
    policies: [],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'implicit-deny',
  },
  {
    rule: 'default deny: a policy that says nothing about the action',
    policies: [doc(allow('iot:Subscribe', filter('a')))],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'implicit-deny',
  },
  {
    rule: 'an Allow statement allows',
    policies: [doc(allow('iot:Publish', topic('a')))],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'allow',
  },
  {
    rule: 'explicit deny overrides an allow in the same policy',
    policies: [doc(allow('iot:*', '*'), deny('iot:Publish', topic('secret')))],
    action: 'iot:Publish',
    resource: topic('secret'),
    expect: 'deny',
  },
  {
    rule: 'explicit deny overrides an allow from another policy',
    policies: [doc(allow('iot:Publish', '*')), doc(deny('iot:Publish', topic('x')))],
    action: 'iot:Publish',
    resource: topic('x'),
    expect: 'deny',
  },
  {
    rule: 'explicit deny wins whatever the order of the policies',
    policies: [doc(deny('iot:Publish', topic('x'))), doc(allow('iot:Publish', '*'))],
    action: 'iot:Publish',
    resource: topic('x'),
    expect: 'deny',
  },
  {
    rule: 'a deny for another resource does not deny this one',
    policies: [doc(allow('iot:Publish', '*'), deny('iot:Publish', topic('x')))],
    action: 'iot:Publish',
    resource: topic('y'),
    expect: 'allow',
  },
  {
    rule: 'union: the second policy allows what the first does not',
    policies: [doc(allow('iot:Connect', client('c'))), doc(allow('iot:Publish', topic('a')))],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'allow',
  },
  {
    rule: 'a Deny statement alone gives explicit deny, not implicit',
    policies: [doc(deny('iot:Publish', topic('a')))],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'deny',
  },
  {
    rule: 'Statement may be a single object instead of a list',
    policies: [{ Version: '2012-10-17', Statement: allow('iot:Publish', topic('a')) }],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'allow',
  },

  // ---- actions (iot-policy-actions; IAM: action names are case-insensitive) ----
  {
    rule: 'action "*" matches every action',
    policies: [doc(allow('*', '*'))],
    action: 'iot:Receive',
    resource: topic('a'),
    expect: 'allow',
  },
  {
    rule: 'action "iot:*" matches every IoT action',
    policies: [doc(allow('iot:*', '*'))],
    action: 'iot:RetainPublish',
    resource: topic('a'),
    expect: 'allow',
  },
  {
    rule: 'action wildcard in the middle: iot:*Publish matches iot:RetainPublish',
    policies: [doc(allow('iot:*Publish', '*'))],
    action: 'iot:RetainPublish',
    resource: topic('a'),
    expect: 'allow',
  },
  {
    rule: 'action wildcard iot:*Publish does not match iot:Subscribe',
    policies: [doc(allow('iot:*Publish', '*'))],
    action: 'iot:Subscribe',
    resource: filter('a'),
    expect: 'implicit-deny',
  },
  {
    rule: 'action "?" matches one character: iot:Connec? matches iot:Connect',
    policies: [doc(allow('iot:Connec?', '*'))],
    action: 'iot:Connect',
    resource: client('c'),
    expect: 'allow',
  },
  {
    rule: 'action names are case-insensitive (IAM)',
    policies: [doc(allow('IOT:publish', '*'))],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'allow',
  },
  {
    rule: 'Action may be a list',
    policies: [doc(allow(['iot:Subscribe', 'iot:Receive'], '*'))],
    action: 'iot:Receive',
    resource: topic('a'),
    expect: 'allow',
  },
  {
    rule: 'iot:Publish does not cover iot:RetainPublish',
    policies: [doc(allow('iot:Publish', '*'))],
    action: 'iot:RetainPublish',
    resource: topic('a'),
    expect: 'implicit-deny',
  },
  {
    rule: 'NotAction with Allow allows every other action',
    policies: [doc({ Effect: 'Allow', NotAction: 'iot:Publish', Resource: '*' })],
    action: 'iot:Subscribe',
    resource: filter('a'),
    expect: 'allow',
  },
  {
    rule: 'NotAction with Allow does not allow the listed action',
    policies: [doc({ Effect: 'Allow', NotAction: 'iot:Publish', Resource: '*' })],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'implicit-deny',
  },
  {
    rule: 'NotAction with Deny denies every other action',
    policies: [
      doc(allow('iot:*', '*'), {
        Effect: 'Deny',
        NotAction: ['iot:Connect', 'iot:Publish'],
        Resource: '*',
      }),
    ],
    action: 'iot:Subscribe',
    resource: filter('a'),
    expect: 'deny',
  },
  {
    rule: 'NotAction with Deny leaves the listed actions to other statements',
    policies: [
      doc(allow('iot:*', '*'), {
        Effect: 'Deny',
        NotAction: ['iot:Connect', 'iot:Publish'],
        Resource: '*',
      }),
    ],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'allow',
  },

  // ---- resources: wildcards (iot-policy-variables, pub-sub-policy) ----
  {
    rule: 'resource "*" matches any resource',
    policies: [doc(allow('iot:Publish', '*'))],
    action: 'iot:Publish',
    resource: topic('a/b/c'),
    expect: 'allow',
  },
  {
    rule: 'resource "*" in a topic ARN matches across "/" (not level-bounded)',
    policies: [doc(allow('iot:Publish', topic('a/*')))],
    action: 'iot:Publish',
    resource: topic('a/b/c/d'),
    expect: 'allow',
  },
  {
    rule: 'resource "*" matches the empty string',
    policies: [doc(allow('iot:Publish', topic('a/*')))],
    action: 'iot:Publish',
    resource: topic('a/'),
    expect: 'allow',
  },
  {
    rule: 'resource a/* does not match a (the slash is literal)',
    policies: [doc(allow('iot:Publish', topic('a/*')))],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'implicit-deny',
  },
  {
    rule: 'resource "?" matches exactly one character',
    policies: [doc(allow('iot:Publish', topic('room?')))],
    action: 'iot:Publish',
    resource: topic('room7'),
    expect: 'allow',
  },
  {
    rule: 'resource "?" does not match two characters',
    policies: [doc(allow('iot:Publish', topic('room?')))],
    action: 'iot:Publish',
    resource: topic('room17'),
    expect: 'implicit-deny',
  },
  {
    rule: 'resource "?" does match "/"',
    policies: [doc(allow('iot:Publish', topic('a?b')))],
    action: 'iot:Publish',
    resource: topic('a/b'),
    expect: 'allow',
  },
  {
    rule: 'resource wildcard in the middle: a/*/c',
    policies: [doc(allow('iot:Publish', topic('a/*/c')))],
    action: 'iot:Publish',
    resource: topic('a/x/y/c'),
    expect: 'allow',
  },
  {
    rule: 'resource wildcard in the middle needs the suffix',
    policies: [doc(allow('iot:Publish', topic('a/*/c')))],
    action: 'iot:Publish',
    resource: topic('a/x/y/d'),
    expect: 'implicit-deny',
  },
  {
    rule: 'resource matching is case-sensitive',
    policies: [doc(allow('iot:Publish', topic('Room')))],
    action: 'iot:Publish',
    resource: topic('room'),
    expect: 'implicit-deny',
  },
  {
    rule: 'wildcard in the region and account parts of the ARN',
    policies: [doc(allow('iot:Publish', 'arn:aws:iot:*:*:topic/a'))],
    action: 'iot:Publish',
    resource: topic('a'),
    expect: 'allow',
  },
  {
    rule: 'a topic ARN does not cover a topicfilter ARN',
    policies: [doc(allow('iot:Subscribe', topic('a')))],
    action: 'iot:Subscribe',
    resource: filter('a'),
    expect: 'implicit-deny',
  },
  {
    rule: '"+" is literal in a policy: topicfilter/a/+ matches the filter a/+',
    policies: [doc(allow('iot:Subscribe', filter('a/+')))],
    action: 'iot:Subscribe',
    resource: filter('a/+'),
    expect: 'allow',
  },
  {
    rule: '"+" is literal in a policy: topicfilter/a/+ does not match the filter a/b',
    policies: [doc(allow('iot:Subscribe', filter('a/+')))],
    action: 'iot:Subscribe',
    resource: filter('a/b'),
    expect: 'implicit-deny',
  },
  {
    rule: '"#" is literal in a policy: topicfilter/a/# does not match the filter a/b/c',
    policies: [doc(allow('iot:Subscribe', filter('a/#')))],
    action: 'iot:Subscribe',
    resource: filter('a/b/c'),
    expect: 'implicit-deny',
  },
  {
    rule: '"#" is literal in a policy: topic/a/# does not allow publishing to a/b',
    policies: [doc(allow('iot:Publish', topic('a/#')))],
    action: 'iot:Publish',
    resource: topic('a/b'),
    expect: 'implicit-deny',
  },
  {
    rule: 'policy "*" covers a wildcard subscription filter a/#',
    policies: [doc(allow('iot:Subscribe', filter('a/*')))],
    action: 'iot:Subscribe',
    resource: filter('a/#'),
    expect: 'allow',
  },
  {
    rule: '${*} is a literal asterisk',
    policies: [doc(allow('iot:Publish', topic('a${*}')))],
    action: 'iot:Publish',
    resource: topic('a*'),
    expect: 'allow',
  },
  {
    rule: '${*} is not a wildcard',
    policies: [doc(allow('iot:Publish', topic('a${*}')))],
    action: 'iot:Publish',
    resource: topic('ab'),
    expect: 'implicit-deny',
  },
  {
    rule: '${?} is a literal question mark',
    policies: [doc(allow('iot:Publish', topic('a${?}')))],
    action: 'iot:Publish',
    resource: topic('a?'),
    expect: 'allow',
  },
  {
    rule: '${?} is not a wildcard',
    policies: [doc(allow('iot:Publish', topic('a${?}')))],
    action: 'iot:Publish',
    resource: topic('ab'),
    expect: 'implicit-deny',
  },
  {
    rule: '${$} is a literal dollar sign',
    policies: [doc(allow('iot:Publish', topic('${$}aws/things/t/shadow/update')))],
    action: 'iot:Publish',
    resource: topic('$aws/things/t/shadow/update'),
    expect: 'allow',
  },
  {
    rule: 'Resource may be a list: any entry matching is enough',
    policies: [doc(allow('iot:Publish', [topic('a'), topic('b')]))],
    action: 'iot:Publish',
    resource: topic('b'),
    expect: 'allow',
  },
  {
    rule: 'NotResource with Allow allows every other resource',
    policies: [doc({ Effect: 'Allow', Action: 'iot:Publish', NotResource: topic('admin/*') })],
    action: 'iot:Publish',
    resource: topic('user/1'),
    expect: 'allow',
  },
  {
    rule: 'NotResource with Allow does not allow the listed resources',
    policies: [doc({ Effect: 'Allow', Action: 'iot:Publish', NotResource: topic('admin/*') })],
    action: 'iot:Publish',
    resource: topic('admin/1'),
    expect: 'implicit-deny',
  },
  {
    rule: 'NotResource with Deny denies every other resource',
    policies: [
      doc(allow('iot:Publish', '*'), {
        Effect: 'Deny',
        Action: 'iot:Publish',
        NotResource: topic('mine/*'),
      }),
    ],
    action: 'iot:Publish',
    resource: topic('theirs/1'),
    expect: 'deny',
  },

  // ---- basic policy variables (iot-policy-variables) ----
  {
    rule: '${iot:ClientId} resolves to the MQTT client id',
    policies: [doc(allow('iot:Connect', client('${iot:ClientId}')))],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1' },
    expect: 'allow',
  },
  {
    rule: '${iot:ClientId} with a prefix and suffix',
    policies: [doc(allow('iot:Publish', topic('devices/${iot:ClientId}/data')))],
    action: 'iot:Publish',
    resource: topic('devices/c1/data'),
    context: { clientId: 'c1' },
    expect: 'allow',
  },
  {
    rule: "${iot:ClientId} does not match another client's topic",
    policies: [doc(allow('iot:Publish', topic('devices/${iot:ClientId}/*')))],
    action: 'iot:Publish',
    resource: topic('devices/c2/data'),
    context: { clientId: 'c1' },
    expect: 'implicit-deny',
  },
  {
    rule: 'a variable value is literal: a client id "*" does not become a wildcard',
    policies: [doc(allow('iot:Publish', topic('devices/${iot:ClientId}')))],
    action: 'iot:Publish',
    resource: topic('devices/c2'),
    context: { clientId: '*' },
    expect: 'implicit-deny',
  },
  {
    rule: 'policy variable names are case-insensitive (IAM)',
    policies: [doc(allow('iot:Publish', topic('d/${IOT:CLIENTID}')))],
    action: 'iot:Publish',
    resource: topic('d/c1'),
    context: { clientId: 'c1' },
    expect: 'allow',
  },
  {
    rule: 'unresolved variable: no client id, the resource does not match',
    policies: [doc(allow('iot:Publish', topic('d/${iot:ClientId}')))],
    action: 'iot:Publish',
    resource: topic('d/'),
    expect: 'implicit-deny',
  },
  {
    rule: 'unresolved variable: an unknown variable never resolves',
    policies: [doc(allow('iot:Publish', topic('d/${iot:NoSuchKey}')))],
    action: 'iot:Publish',
    resource: topic('d/x'),
    context: { clientId: 'x' },
    expect: 'implicit-deny',
  },
  {
    rule: 'unresolved variable in a Deny: the deny does not apply (IAM)',
    policies: [
      doc(
        allow('iot:Publish', '*'),
        deny('iot:Publish', topic('${iot:Connection.Thing.ThingName}/*')),
      ),
    ],
    action: 'iot:Publish',
    resource: topic('t/1'),
    context: { clientId: 't' },
    expect: 'allow',
  },
  {
    rule: 'unresolved variable in NotResource: the statement does not apply (never widens an Allow)',
    policies: [
      doc({
        Effect: 'Allow',
        Action: 'iot:Publish',
        NotResource: topic('${iot:Connection.Thing.ThingName}/*'),
      }),
    ],
    action: 'iot:Publish',
    resource: topic('x/1'),
    context: { clientId: 'x' },
    expect: 'implicit-deny',
  },
  {
    rule: 'an unresolved entry in a Resource list leaves the other entries',
    policies: [
      doc(allow('iot:Publish', [topic('t/${iot:Connection.Thing.ThingName}'), topic('common')])),
    ],
    action: 'iot:Publish',
    resource: topic('common'),
    context: { clientId: 'x' },
    expect: 'allow',
  },
  {
    rule: 'Version 2008-10-17: ${…} is literal text, not a variable',
    policies: [
      { Version: '2008-10-17', Statement: [allow('iot:Publish', topic('d/${iot:ClientId}'))] },
    ],
    action: 'iot:Publish',
    resource: topic('d/${iot:ClientId}'),
    context: { clientId: 'c1' },
    expect: 'allow',
  },
  {
    rule: 'Version 2008-10-17: the variable is not substituted',
    policies: [
      { Version: '2008-10-17', Statement: [allow('iot:Publish', topic('d/${iot:ClientId}'))] },
    ],
    action: 'iot:Publish',
    resource: topic('d/c1'),
    context: { clientId: 'c1' },
    expect: 'implicit-deny',
  },

  // ---- thing policy variables (thing-policy-variables) ----
  {
    rule: '${iot:Connection.Thing.ThingName} resolves when the client id is an attached thing',
    policies: [doc(allow('iot:Publish', topic('devices/${iot:Connection.Thing.ThingName}/*')))],
    action: 'iot:Publish',
    resource: topic('devices/sensor-1/t'),
    context: THING,
    expect: 'allow',
  },
  {
    rule: 'thing variables do not resolve without an attached thing',
    policies: [doc(allow('iot:Publish', topic('devices/${iot:Connection.Thing.ThingName}/*')))],
    action: 'iot:Publish',
    resource: topic('devices/sensor-1/t'),
    context: { clientId: 'sensor-1' },
    expect: 'implicit-deny',
  },
  {
    rule: "ThingName does not match another thing's topic",
    policies: [doc(allow('iot:Publish', topic('devices/${iot:Connection.Thing.ThingName}/*')))],
    action: 'iot:Publish',
    resource: topic('devices/sensor-2/t'),
    context: THING,
    expect: 'implicit-deny',
  },
  {
    rule: '${iot:Connection.Thing.ThingTypeName} resolves to the thing type',
    policies: [doc(allow('iot:Publish', topic('types/${iot:Connection.Thing.ThingTypeName}')))],
    action: 'iot:Publish',
    resource: topic('types/thermostat'),
    context: THING,
    expect: 'allow',
  },
  {
    rule: 'ThingTypeName is unresolved for a thing without a type',
    policies: [doc(allow('iot:Publish', topic('types/${iot:Connection.Thing.ThingTypeName}')))],
    action: 'iot:Publish',
    resource: topic('types/'),
    context: { clientId: 'x', thing: { name: 'x', attributes: {} } },
    expect: 'implicit-deny',
  },
  {
    rule: '${iot:Connection.Thing.Attributes[floor]} resolves to the attribute',
    policies: [
      doc(allow('iot:Publish', topic('floors/${iot:Connection.Thing.Attributes[floor]}'))),
    ],
    action: 'iot:Publish',
    resource: topic('floors/3'),
    context: THING,
    expect: 'allow',
  },
  {
    rule: 'thing attribute names are case-sensitive: Attributes[room] is not Attributes[Room]',
    policies: [doc(allow('iot:Publish', topic('rooms/${iot:Connection.Thing.Attributes[room]}')))],
    action: 'iot:Publish',
    resource: topic('rooms/a/b'),
    context: THING,
    expect: 'implicit-deny',
  },
  {
    rule: 'an attribute value may hold "/"',
    policies: [doc(allow('iot:Publish', topic('rooms/${iot:Connection.Thing.Attributes[Room]}')))],
    action: 'iot:Publish',
    resource: topic('rooms/a/b'),
    context: THING,
    expect: 'allow',
  },
  {
    rule: 'a missing attribute is unresolved',
    policies: [doc(allow('iot:Publish', topic('x/${iot:Connection.Thing.Attributes[missing]}')))],
    action: 'iot:Publish',
    resource: topic('x/'),
    context: THING,
    expect: 'implicit-deny',
  },
  {
    rule: 'Bool iot:Connection.Thing.IsAttached "true" holds with an attached thing (connect-policy)',
    policies: [
      doc(
        allow('iot:Connect', client('${iot:Connection.Thing.ThingName}'), {
          Bool: { 'iot:Connection.Thing.IsAttached': 'true' },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('sensor-1'),
    context: THING,
    expect: 'allow',
  },
  {
    rule: 'Bool iot:Connection.Thing.IsAttached "true" fails without one',
    policies: [
      doc(allow('iot:Connect', '*', { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } })),
    ],
    action: 'iot:Connect',
    resource: client('x'),
    context: { clientId: 'x' },
    expect: 'implicit-deny',
  },
  {
    rule: 'connect-policy example: deny client1 while allowing attached things',
    policies: [
      doc(
        deny('iot:Connect', [client('client1'), client('client2')]),
        allow('iot:Connect', client('${iot:Connection.Thing.ThingName}'), {
          Bool: { 'iot:Connection.Thing.IsAttached': 'true' },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('client1'),
    context: { clientId: 'client1', thing: { name: 'client1', attributes: {} } },
    expect: 'deny',
  },
  {
    rule: 'StringEquals on a thing attribute in a condition (thing-policy-examples)',
    policies: [
      doc(
        allow('iot:Publish', topic('device/stats'), {
          StringEquals: {
            'iot:Connection.Thing.Attributes[floor]': '3',
            'iot:Connection.Thing.ThingTypeName': 'thermostat',
          },
        }),
      ),
    ],
    action: 'iot:Publish',
    resource: topic('device/stats'),
    context: THING,
    expect: 'allow',
  },

  // ---- certificate policy variables (cert-policy-variables) ----
  {
    rule: '${iot:Certificate.Subject.CommonName} resolves to the subject CN',
    policies: [doc(allow('iot:Publish', topic('cn/${iot:Certificate.Subject.CommonName}')))],
    action: 'iot:Publish',
    resource: topic('cn/dev-42'),
    context: CERT,
    expect: 'allow',
  },
  {
    rule: '${iot:Certificate.Issuer.Country} resolves to the issuer C',
    policies: [doc(allow('iot:Publish', topic('c/${iot:Certificate.Issuer.Country}')))],
    action: 'iot:Publish',
    resource: topic('c/US'),
    context: CERT,
    expect: 'allow',
  },
  {
    rule: 'a multivalued attribute as a variable gives its first value',
    policies: [
      doc(allow('iot:Publish', topic('ou/${iot:Certificate.Subject.OrganizationalUnit}'))),
    ],
    action: 'iot:Publish',
    resource: topic('ou/ops'),
    context: CERT,
    expect: 'allow',
  },
  {
    rule: "the second value of a multivalued attribute is not the variable's value",
    policies: [
      doc(allow('iot:Publish', topic('ou/${iot:Certificate.Subject.OrganizationalUnit}'))),
    ],
    action: 'iot:Publish',
    resource: topic('ou/lab'),
    context: CERT,
    expect: 'implicit-deny',
  },
  {
    rule: 'a .List key cannot be a policy variable (IAM: multivalued keys are not variables)',
    policies: [
      doc(allow('iot:Publish', topic('ou/${iot:Certificate.Subject.OrganizationalUnit.List}'))),
    ],
    action: 'iot:Publish',
    resource: topic('ou/ops'),
    context: CERT,
    expect: 'implicit-deny',
  },
  {
    rule: 'ForAnyValue:StringEquals on a .List key: one value matches',
    policies: [
      doc(
        allow('iot:Publish', '*', {
          'ForAnyValue:StringEquals': {
            'iot:Certificate.Subject.OrganizationalUnit.List': ['lab'],
          },
        }),
      ),
    ],
    action: 'iot:Publish',
    resource: topic('x'),
    context: CERT,
    expect: 'allow',
  },
  {
    rule: 'ForAllValues:StringLike on SAN DNS names: every value matches',
    policies: [
      doc(
        allow('iot:Publish', '*', {
          'ForAllValues:StringLike': {
            'iot:Certificate.Subject.AlternativeName.DNSName.List': ['*.example'],
          },
        }),
      ),
    ],
    action: 'iot:Publish',
    resource: topic('x'),
    context: CERT,
    expect: 'allow',
  },
  {
    rule: 'ForAllValues:StringEquals fails when one value is not listed',
    policies: [
      doc(
        allow('iot:Publish', '*', {
          'ForAllValues:StringEquals': {
            'iot:Certificate.Subject.AlternativeName.DNSName.List': ['a.example'],
          },
        }),
      ),
    ],
    action: 'iot:Publish',
    resource: topic('x'),
    context: CERT,
    expect: 'implicit-deny',
  },
  {
    rule: 'iot:Certificate.SerialNumber in a condition',
    policies: [
      doc(allow('iot:Connect', '*', { StringEquals: { 'iot:Certificate.SerialNumber': '9A3F' } })),
    ],
    action: 'iot:Connect',
    resource: client('c1'),
    context: CERT,
    expect: 'allow',
  },
  {
    rule: 'an attribute the certificate lacks is unresolved',
    policies: [doc(allow('iot:Publish', topic('t/${iot:Certificate.Subject.Title}')))],
    action: 'iot:Publish',
    resource: topic('t/'),
    context: CERT,
    expect: 'implicit-deny',
  },
  {
    rule: 'certificate variables are unresolved without a certificate',
    policies: [doc(allow('iot:Publish', topic('cn/${iot:Certificate.Subject.CommonName}')))],
    action: 'iot:Publish',
    resource: topic('cn/dev-42'),
    context: { clientId: 'c1' },
    expect: 'implicit-deny',
  },
  {
    rule: 'iot:Certificate.AvailableKeys lists the attributes present',
    policies: [
      doc(
        allow('iot:Connect', '*', {
          'ForAnyValue:StringEquals': {
            'iot:Certificate.AvailableKeys': 'iot:Certificate.Issuer.Country',
          },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c1'),
    context: CERT,
    expect: 'allow',
  },

  // ---- string condition operators ----
  {
    rule: 'StringEquals holds on an equal value',
    policies: [doc(allow('iot:Connect', '*', { StringEquals: { 'iot:ClientId': 'c1' } }))],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1' },
    expect: 'allow',
  },
  {
    rule: 'StringEquals is case-sensitive',
    policies: [doc(allow('iot:Connect', '*', { StringEquals: { 'iot:ClientId': 'C1' } }))],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1' },
    expect: 'implicit-deny',
  },
  {
    rule: 'StringEquals: the values of one key are ORed',
    policies: [doc(allow('iot:Connect', '*', { StringEquals: { 'iot:ClientId': ['a', 'c1'] } }))],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1' },
    expect: 'allow',
  },
  {
    rule: 'StringEquals treats "*" literally',
    policies: [doc(allow('iot:Connect', '*', { StringEquals: { 'iot:ClientId': 'c*' } }))],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1' },
    expect: 'implicit-deny',
  },
  {
    rule: 'StringEquals with a policy variable in the value',
    policies: [
      doc(
        allow('iot:Publish', '*', {
          StringEquals: { 'iot:LastWillTopic': 'wills/${iot:ClientId}' },
        }),
      ),
    ],
    action: 'iot:Publish',
    resource: topic('x'),
    context: { clientId: 'c1', lastWillTopic: 'wills/c1' },
    expect: 'allow',
  },
  {
    rule: 'StringNotEquals holds on a different value',
    policies: [
      doc(allow('iot:Connect', '*', { StringNotEquals: { 'iot:ClientId': ['bad1', 'bad2'] } })),
    ],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1' },
    expect: 'allow',
  },
  {
    rule: 'StringNotEquals fails on a listed value',
    policies: [
      doc(allow('iot:Connect', '*', { StringNotEquals: { 'iot:ClientId': ['bad1', 'c1'] } })),
    ],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1' },
    expect: 'implicit-deny',
  },
  {
    rule: 'StringEqualsIgnoreCase ignores case',
    policies: [
      doc(allow('iot:Connect', '*', { StringEqualsIgnoreCase: { 'iot:ClientId': 'SENSOR' } })),
    ],
    action: 'iot:Connect',
    resource: client('sensor'),
    context: { clientId: 'Sensor' },
    expect: 'allow',
  },
  {
    rule: 'StringNotEqualsIgnoreCase fails on a value equal but for case',
    policies: [
      doc(allow('iot:Connect', '*', { StringNotEqualsIgnoreCase: { 'iot:ClientId': 'SENSOR' } })),
    ],
    action: 'iot:Connect',
    resource: client('sensor'),
    context: { clientId: 'Sensor' },
    expect: 'implicit-deny',
  },
  {
    rule: 'StringLike with "*"',
    policies: [doc(allow('iot:Connect', '*', { StringLike: { 'iot:ClientId': 'sensor-*' } }))],
    action: 'iot:Connect',
    resource: client('sensor-9'),
    context: { clientId: 'sensor-9' },
    expect: 'allow',
  },
  {
    rule: 'StringLike with "?"',
    policies: [doc(allow('iot:Connect', '*', { StringLike: { 'iot:ClientId': 'sensor-?' } }))],
    action: 'iot:Connect',
    resource: client('sensor-10'),
    context: { clientId: 'sensor-10' },
    expect: 'implicit-deny',
  },
  {
    rule: 'StringNotLike denies a matching client',
    policies: [
      doc(
        allow('iot:Connect', '*'),
        deny('iot:Connect', '*', { StringNotLike: { 'iot:ClientId': 'prod-*' } }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('test-1'),
    context: { clientId: 'test-1' },
    expect: 'deny',
  },
  {
    rule: 'a key absent from the request makes StringEquals false',
    policies: [doc(allow('iot:Publish', '*', { StringEquals: { 'iot:LastWillTopic': 'w' } }))],
    action: 'iot:Publish',
    resource: topic('x'),
    context: { clientId: 'c' },
    expect: 'implicit-deny',
  },
  {
    rule: 'a key absent from the request makes StringNotEquals true (IAM negated operators)',
    policies: [doc(allow('iot:Publish', '*', { StringNotEquals: { 'iot:LastWillTopic': 'w' } }))],
    action: 'iot:Publish',
    resource: topic('x'),
    context: { clientId: 'c' },
    expect: 'allow',
  },
  {
    rule: 'StringEqualsIfExists holds when the key is absent',
    policies: [
      doc(allow('iot:Connect', '*', { StringEqualsIfExists: { 'iot:LastWillTopic': 'wills/a' } })),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c' },
    expect: 'allow',
  },
  {
    rule: 'StringEqualsIfExists is checked when the key is present',
    policies: [
      doc(allow('iot:Connect', '*', { StringEqualsIfExists: { 'iot:LastWillTopic': 'wills/a' } })),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c', lastWillTopic: 'wills/b' },
    expect: 'implicit-deny',
  },
  {
    rule: 'StringLikeIfExists with a present key that matches',
    policies: [
      doc(allow('iot:Connect', '*', { StringLikeIfExists: { 'iot:LastWillTopic': 'wills/*' } })),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c', lastWillTopic: 'wills/b' },
    expect: 'allow',
  },
  {
    rule: 'an unresolved variable in a condition value makes the condition false',
    policies: [
      doc(
        allow('iot:Publish', '*', {
          StringNotEquals: { 'iot:ClientId': '${iot:Connection.Thing.ThingName}' },
        }),
      ),
    ],
    action: 'iot:Publish',
    resource: topic('x'),
    context: { clientId: 'c' },
    expect: 'implicit-deny',
  },
  {
    rule: 'several operators in one Condition are ANDed',
    policies: [
      doc(
        allow('iot:Connect', '*', {
          StringLike: { 'iot:ClientId': 'c*' },
          IpAddress: { 'aws:SourceIp': '10.0.0.0/8' },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1', sourceIp: '192.168.1.1' },
    expect: 'implicit-deny',
  },
  {
    rule: 'several keys in one operator are ANDed',
    policies: [
      doc(
        allow('iot:Connect', '*', {
          StringEquals: { 'iot:ClientId': 'c1', 'iot:LastWillTopic': 'w' },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1', lastWillTopic: 'w' },
    expect: 'allow',
  },
  {
    rule: 'condition key names are case-insensitive (IAM)',
    policies: [doc(allow('iot:Connect', '*', { StringEquals: { 'IOT:clientid': 'c1' } }))],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1' },
    expect: 'allow',
  },

  // ---- iot:ConnectAttributes (connect-policy: MQTT persistent sessions, last will) ----
  {
    rule: 'ForAllValues:StringEquals allows only the listed connect features',
    policies: [
      doc(
        allow('iot:Connect', '*', {
          'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['PersistentConnect'] },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c', connectAttributes: ['PersistentConnect', 'LastWill'] },
    expect: 'implicit-deny',
  },
  {
    rule: 'ForAllValues:StringEquals allows a subset of the listed features',
    policies: [
      doc(
        allow('iot:Connect', '*', {
          'ForAllValues:StringEquals': {
            'iot:ConnectAttributes': ['PersistentConnect', 'LastWill'],
          },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c', connectAttributes: ['LastWill'] },
    expect: 'allow',
  },
  {
    rule: 'ForAllValues holds when the request has no values (a clean connect)',
    policies: [
      doc(
        allow('iot:Connect', '*', {
          'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['PersistentConnect'] },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c', connectAttributes: [] },
    expect: 'allow',
  },
  {
    rule: 'ForAllValues holds when the key is absent',
    policies: [
      doc(
        allow('iot:Connect', '*', {
          'ForAllValues:StringEquals': { 'iot:ConnectAttributes': ['PersistentConnect'] },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c' },
    expect: 'allow',
  },
  {
    rule: 'ForAnyValue:StringEquals holds when one feature is used',
    policies: [
      doc(
        allow('iot:Connect', '*'),
        deny('iot:Connect', '*', {
          'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': ['LastWill'] },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c', connectAttributes: ['PersistentConnect', 'LastWill'] },
    expect: 'deny',
  },
  {
    rule: 'ForAnyValue is false when the key is absent',
    policies: [
      doc(
        allow('iot:Connect', '*'),
        deny('iot:Connect', '*', {
          'ForAnyValue:StringEquals': { 'iot:ConnectAttributes': ['LastWill'] },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c' },
    expect: 'allow',
  },
  {
    rule: 'ForAllValues:StringNotEquals: no request value may be listed',
    policies: [
      doc(
        allow('iot:Connect', '*', {
          'ForAllValues:StringNotEquals': { 'iot:ConnectAttributes': ['LastWill'] },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c', connectAttributes: ['PersistentConnect', 'LastWill'] },
    expect: 'implicit-deny',
  },
  {
    rule: 'iot:LastWillTopic with StringLike restricts will topics',
    policies: [
      doc(
        allow('iot:Connect', '*', { StringLike: { 'iot:LastWillTopic': 'wills/${iot:ClientId}' } }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c1'),
    context: { clientId: 'c1', lastWillTopic: 'wills/c1' },
    expect: 'allow',
  },

  // ---- Bool, IpAddress, Arn*, Null, Numeric ----
  {
    rule: 'Bool compares "true"/"false" case-insensitively',
    policies: [
      doc(allow('iot:Connect', '*', { Bool: { 'iot:Connection.Thing.IsAttached': 'TRUE' } })),
    ],
    action: 'iot:Connect',
    resource: client('sensor-1'),
    context: THING,
    expect: 'allow',
  },
  {
    rule: 'Bool accepts an unquoted JSON boolean',
    policies: [
      doc(allow('iot:Connect', '*', { Bool: { 'iot:Connection.Thing.IsAttached': false } })),
    ],
    action: 'iot:Connect',
    resource: client('x'),
    context: { clientId: 'x' },
    expect: 'allow',
  },
  {
    rule: 'IpAddress with an IPv4 CIDR matches an address inside it',
    policies: [doc(allow('iot:Connect', '*', { IpAddress: { 'aws:SourceIp': '10.1.0.0/16' } }))],
    action: 'iot:Connect',
    resource: client('c'),
    context: { sourceIp: '10.1.200.3' },
    expect: 'allow',
  },
  {
    rule: 'IpAddress with an IPv4 CIDR does not match an address outside it',
    policies: [doc(allow('iot:Connect', '*', { IpAddress: { 'aws:SourceIp': '10.1.0.0/16' } }))],
    action: 'iot:Connect',
    resource: client('c'),
    context: { sourceIp: '10.2.0.1' },
    expect: 'implicit-deny',
  },
  {
    rule: 'IpAddress with a single address (no prefix)',
    policies: [doc(allow('iot:Connect', '*', { IpAddress: { 'aws:SourceIp': '192.0.2.7' } }))],
    action: 'iot:Connect',
    resource: client('c'),
    context: { sourceIp: '192.0.2.7' },
    expect: 'allow',
  },
  {
    rule: 'IpAddress matches an IPv4-mapped IPv6 source address as IPv4',
    policies: [doc(allow('iot:Connect', '*', { IpAddress: { 'aws:SourceIp': '127.0.0.0/8' } }))],
    action: 'iot:Connect',
    resource: client('c'),
    context: { sourceIp: '::ffff:127.0.0.1' },
    expect: 'allow',
  },
  {
    rule: 'IpAddress with an IPv6 CIDR',
    policies: [doc(allow('iot:Connect', '*', { IpAddress: { 'aws:SourceIp': '2001:db8::/32' } }))],
    action: 'iot:Connect',
    resource: client('c'),
    context: { sourceIp: '2001:db8:1::5' },
    expect: 'allow',
  },
  {
    rule: 'NotIpAddress denies outside the range',
    policies: [
      doc(
        allow('iot:*', '*'),
        deny('iot:*', '*', { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { sourceIp: '203.0.113.9' },
    expect: 'deny',
  },
  {
    rule: 'NotIpAddress leaves addresses inside the range',
    policies: [
      doc(
        allow('iot:*', '*'),
        deny('iot:*', '*', { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8'] } }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { sourceIp: '10.9.9.9' },
    expect: 'allow',
  },
  {
    rule: 'IpAddress is false when the source address is unknown',
    policies: [doc(allow('iot:Connect', '*', { IpAddress: { 'aws:SourceIp': '0.0.0.0/0' } }))],
    action: 'iot:Connect',
    resource: client('c'),
    context: {},
    expect: 'implicit-deny',
  },
  {
    rule: 'ArnLike with wildcards on an ARN-valued key (the LastWillTopic as given)',
    policies: [
      doc(
        allow('iot:Connect', '*', {
          ArnLike: { 'iot:LastWillTopic': 'arn:aws:iot:*:*:topic/w/*' },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { lastWillTopic: `${ARN}:topic/w/1` },
    expect: 'allow',
  },
  {
    rule: 'ArnNotLike is true when the value does not match',
    policies: [
      doc(
        allow('iot:Connect', '*', {
          ArnNotLike: { 'iot:LastWillTopic': 'arn:aws:iot:*:*:topic/w/*' },
        }),
      ),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { lastWillTopic: `${ARN}:topic/x` },
    expect: 'allow',
  },
  {
    rule: 'ArnEquals compares like ArnLike (IAM)',
    policies: [
      doc(allow('iot:Connect', '*', { ArnEquals: { 'iot:LastWillTopic': `${ARN}:topic/w/1` } })),
    ],
    action: 'iot:Connect',
    resource: client('c'),
    context: { lastWillTopic: `${ARN}:topic/w/1` },
    expect: 'allow',
  },
  {
    rule: 'Null "true" holds when the key is absent',
    policies: [doc(allow('iot:Connect', '*', { Null: { 'iot:LastWillTopic': 'true' } }))],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c' },
    expect: 'allow',
  },
  {
    rule: 'Null "true" fails when the key is present',
    policies: [doc(allow('iot:Connect', '*', { Null: { 'iot:LastWillTopic': 'true' } }))],
    action: 'iot:Connect',
    resource: client('c'),
    context: { clientId: 'c', lastWillTopic: 'w' },
    expect: 'implicit-deny',
  },
  {
    rule: 'Null "false" holds when the key is present',
    policies: [
      doc(allow('iot:Connect', '*', { Null: { 'iot:Certificate.Subject.CommonName': 'false' } })),
    ],
    action: 'iot:Connect',
    resource: client('c1'),
    context: CERT,
    expect: 'allow',
  },
  {
    rule: 'NumericGreaterThanEquals on a numeric thing attribute',
    policies: [
      doc(
        allow('iot:Publish', '*', {
          NumericGreaterThanEquals: { 'iot:Connection.Thing.Attributes[floor]': 2 },
        }),
      ),
    ],
    action: 'iot:Publish',
    resource: topic('x'),
    context: THING,
    expect: 'allow',
  },
  {
    rule: 'NumericLessThan fails on a larger value',
    policies: [
      doc(
        allow('iot:Publish', '*', {
          NumericLessThan: { 'iot:Connection.Thing.Attributes[floor]': '3' },
        }),
      ),
    ],
    action: 'iot:Publish',
    resource: topic('x'),
    context: THING,
    expect: 'implicit-deny',
  },
  {
    rule: 'NumericEquals is false on a non-numeric request value',
    policies: [doc(allow('iot:Publish', '*', { NumericEquals: { 'iot:ClientId': '1' } }))],
    action: 'iot:Publish',
    resource: topic('x'),
    context: { clientId: 'one' },
    expect: 'implicit-deny',
  },
  {
    rule: 'Condition with an unknown key is never satisfied by StringEquals',
    policies: [doc(allow('iot:Publish', '*', { StringEquals: { 'iot:Unknown': 'x' } }))],
    action: 'iot:Publish',
    resource: topic('x'),
    context: { clientId: 'c' },
    expect: 'implicit-deny',
  },
];

for (const item of cases) {
  test(`evaluate: ${item.rule}`, () => {
    const documents = item.policies.map((policy) => PolicyDocument.parse(JSON.stringify(policy)));
    assert.equal(evaluate(documents, item.action, item.resource, item.context ?? {}), item.expect);
  });
}

test('the table has at least 80 cases', () => {
  assert.ok(cases.length >= 80, `${cases.length} cases`);
});

test('default-version semantics: only the document in force decides', () => {
  // A policy's versions are separate documents; only the default is evaluated (iot-policies).
  const version1 = PolicyDocument.parse(JSON.stringify(doc(allow('iot:Publish', topic('a')))));
  const version2 = PolicyDocument.parse(JSON.stringify(doc(allow('iot:Publish', topic('b')))));
  assert.equal(evaluate([version2], 'iot:Publish', topic('a'), {}), 'implicit-deny');
  assert.equal(evaluate([version1], 'iot:Publish', topic('a'), {}), 'allow');
});

test('explain: which policy allowed, which denied, and what the request lacked', () => {
  const policies = [
    { name: 'open', document: PolicyDocument.parse(JSON.stringify(doc(allow('iot:*', '*')))) },
    {
      name: 'fence',
      document: PolicyDocument.parse(
        JSON.stringify(doc(deny('iot:Publish', topic('${iot:Connection.Thing.ThingName}/*')))),
      ),
    },
    {
      name: 'other',
      document: PolicyDocument.parse(JSON.stringify(doc(allow('iot:Connect', '*')))),
    },
  ];
  const explained = explain(policies, 'iot:Publish', topic('t/1'), { clientId: 't' });
  assert.equal(explained.decision, 'allow');
  assert.deepEqual(explained.allowing, ['open']);
  assert.deepEqual(explained.denying, []);
  assert.deepEqual(explained.silent, ['fence', 'other']);
  assert.deepEqual(explained.missingContextValues, ['iot:Connection.Thing.ThingName']);
});
