// The free-form field guard on the create, update and tag calls, through real clients: the AWS
// CLI for refusals (their messages are what an operator reads), the JS SDK v3 with a middleware
// that keeps the response headers for warnings, and `aws cloudtrail lookup-events` for the audit
// records. Two servers: one with the defaults (names and tags deny, descriptions and attributes
// warn), one with names and tags in warn mode and attributes off.
import { CreatePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateThingCommand,
  CreateThingGroupCommand,
  IoTClient,
  TagResourceCommand,
  UpdateThingGroupCommand,
} from '@aws-sdk/client-iot';
import type { DeserializeMiddleware, MiddlewareStack } from '@smithy/types';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import {
  adminCredentials,
  awsCliJson,
  needAwsCli,
  sdkClientConfig,
  type ApiTarget,
  type AwsCliJson,
  type CliJson,
} from '../helpers/aws-api.js';
import {
  attributeMapFields,
  FieldGuard,
  sensitiveDataWarningHeader,
} from '../../src/guard/field-guard.js';
import { Guard, guardSettingsSchema } from '../../src/guard/index.js';
import { EPHEMERAL_PORTS, fileCleanup, startServer, type RunningServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const dir = tempDir(files, 'bulwark-field-guard-');
const home = join(dir, 'home');

const EMAIL = 'alice@example.com';
/** A test card number: 16 digits passing Luhn. */
const CARD = '4111111111111111';
const WARNING_HEADER = 'x-bulwark-sensitive-data-warning';

/** A server on its own data dir with `guard` as its config's guard section. */
async function serverWith(name: string, guard: object): Promise<ApiTarget> {
  const dataDir = join(dir, name);
  const configFile = join(dir, `${name}.json`);
  writeFileSync(configFile, JSON.stringify({ guard }));
  const server: RunningServer = await startServer(files, [
    '--data-dir',
    dataDir,
    '--config',
    configFile,
    ...EPHEMERAL_PORTS,
  ]);
  return { port: server.ready.api, dataDir };
}

let defaults: ApiTarget;
let lenient: ApiTarget;

before(async () => {
  [defaults, lenient] = await Promise.all([
    serverWith('defaults', {}),
    serverWith('lenient', { fields: { names: 'warn', tags: 'warn', attributes: 'off' } }),
  ]);
});

function aws(on: ApiTarget, args: string[]): AwsCliJson {
  return awsCliJson(on, args, { home });
}

function ok(on: ApiTarget, args: string[]): CliJson {
  const result = aws(on, args);
  assert.equal(result.status, 0, `aws ${args.join(' ')}: ${result.stderr}`);
  return result.json;
}

/** `aws …` that must fail with `errorType`; its stderr. */
function refused(on: ApiTarget, args: string[], errorType: string): string {
  const result = aws(on, args);
  assert.notEqual(result.status, 0, `aws ${args.join(' ')} succeeded: ${result.stdout}`);
  assert.match(result.stderr, new RegExp(`\\(${errorType}\\)`), result.stderr);
  return result.stderr;
}

/** One `lookup-events` record, parsed. */
type TrailRecord = CliJson;

/** Every record of `eventName` on `on`, newest first, and the raw CLI output. */
function lookup(on: ApiTarget, eventName: string): { records: TrailRecord[]; stdout: string } {
  const result = aws(on, [
    'cloudtrail',
    'lookup-events',
    '--lookup-attributes',
    `AttributeKey=EventName,AttributeValue=${eventName}`,
  ]);
  assert.equal(result.status, 0, result.stderr);
  return {
    records: (result.json.Events as { CloudTrailEvent: string }[]).map(
      (event) => JSON.parse(event.CloudTrailEvent) as TrailRecord,
    ),
    stdout: result.stdout,
  };
}

function recordOf(on: ApiTarget, eventName: string, requestId: string | undefined): TrailRecord {
  const record = lookup(on, eventName).records.find((event) => event.requestID === requestId);
  assert.ok(record, `no ${eventName} record with request id ${requestId}`);
  return record;
}

/** An SDK client whose `headers()` are those of the last response it received. */
function withHeaders<C extends IoTClient | IAMClient>(
  client: C,
): { client: C; headers: () => Record<string, string | undefined> } {
  let last: Record<string, string | undefined> = {};
  const keep: DeserializeMiddleware<object, object> = (next) => async (args) => {
    const result = await next(args);
    last = (result.response as { headers: Record<string, string> }).headers;
    return result;
  };
  (client.middlewareStack as unknown as MiddlewareStack<object, object>).add(keep, {
    step: 'deserialize',
    name: 'keepResponseHeaders',
  });
  return { client, headers: () => last };
}

function iot(on: ApiTarget) {
  return withHeaders(new IoTClient(sdkClientConfig(on, adminCredentials(on.dataDir))));
}

function iam(on: ApiTarget) {
  return withHeaders(new IAMClient(sdkClientConfig(on, adminCredentials(on.dataDir))));
}

const builtin = new Guard(guardSettingsSchema.parse({})).detectors;

/** A warning as the audit record carries it, with the detector's own severity. */
function warning(field: string, detector: string) {
  return { field, detector, severity: builtin.get(detector)?.severity };
}

/** A private key as a PEM, made now: credentials are refused in every class not off. */
function privateKeyPem(): string {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({
    type: 'pkcs8',
    format: 'pem',
  }) as string;
}

/** An AWS secret access key's shape (40 base64 characters), made now. */
function awsSecret(): string {
  return randomBytes(30).toString('base64');
}

test('names and tags are refused by default, naming the field and the detector, never the value', async (t) => {
  if (!needAwsCli(t)) return;

  const thing = refused(
    defaults,
    ['iot', 'create-thing', '--thing-name', EMAIL],
    'InvalidRequestException',
  );
  assert.match(thing, /thingName/);
  assert.match(thing, /EMAIL_ADDRESS/);
  assert.match(thing, /names, tags/);
  assert.ok(!thing.includes(EMAIL), thing);

  const groupTag = refused(
    defaults,
    [
      'iot',
      'create-thing-group',
      '--thing-group-name',
      'fleet',
      '--tags',
      `Key=billing,Value=${CARD}`,
    ],
    'InvalidRequestException',
  );
  assert.match(groupTag, /tags\[0\]\.Value/);
  assert.match(groupTag, /CREDIT_CARD_NUMBER/);
  assert.ok(!groupTag.includes(CARD), groupTag);

  const groupArn = ok(defaults, ['iot', 'create-thing-group', '--thing-group-name', 'fleet'])
    .thingGroupArn as string;
  const tagged = refused(
    defaults,
    [
      'iot',
      'tag-resource',
      '--resource-arn',
      groupArn,
      '--tags',
      'Key=site,Value=north',
      `Key=billing,Value=${CARD}`,
    ],
    'InvalidRequestException',
  );
  assert.match(tagged, /tags\[1\]\.Value/);
  assert.match(tagged, /CREDIT_CARD_NUMBER/);
  assert.ok(!tagged.includes(CARD), tagged);
  assert.deepEqual(
    ok(defaults, ['iot', 'list-tags-for-resource', '--resource-arn', groupArn]).tags ?? [],
    [],
  );

  // IAM answers in its own Query form: ValidationError.
  const user = refused(defaults, ['iam', 'create-user', '--user-name', EMAIL], 'ValidationError');
  assert.match(user, /UserName/);
  assert.match(user, /EMAIL_ADDRESS/);
  assert.ok(!user.includes(EMAIL), user);
  refused(defaults, ['iam', 'get-user', '--user-name', EMAIL], 'NoSuchEntity');

  // Each refusal is audited with what was refused, never the value.
  const [thingRecord] = lookup(defaults, 'CreateThing').records.filter(
    (record) => record.errorCode === 'InvalidRequestException',
  );
  assert.deepEqual(thingRecord?.additionalEventData, {
    sensitiveDataRefused: { field: 'thingName', detector: 'EMAIL_ADDRESS' },
  });
  const tagRecords = lookup(defaults, 'TagResource');
  assert.deepEqual(tagRecords.records[0]?.additionalEventData, {
    sensitiveDataRefused: { field: 'tags[1].Value', detector: 'CREDIT_CARD_NUMBER' },
  });
  const userRecords = lookup(defaults, 'CreateUser');
  const userRecord = userRecords.records.find((record) => record.errorCode === 'ValidationError');
  assert.deepEqual(userRecord?.additionalEventData, {
    sensitiveDataRefused: { field: 'UserName', detector: 'EMAIL_ADDRESS' },
  });
  // The trail redacts request parameters with the same detectors.
  for (const output of [
    lookup(defaults, 'CreateThing').stdout,
    tagRecords.stdout,
    userRecords.stdout,
  ]) {
    assert.ok(!output.includes(EMAIL), 'an e-mail address in lookup-events output');
    assert.ok(!output.includes(CARD), 'a card number in lookup-events output');
  }
});

test('descriptions and attributes are accepted by default with a warning header and an audit record', async (t) => {
  if (!needAwsCli(t)) return;
  const { client, headers } = iot(defaults);
  const thing = await client.send(
    new CreateThingCommand({
      thingName: 'sensor-1',
      attributePayload: { attributes: { owner: EMAIL, floor: '3' } },
    }),
  );
  assert.equal(headers()[WARNING_HEADER], 'attributePayload.attributes.owner=EMAIL_ADDRESS');
  assert.deepEqual(
    recordOf(defaults, 'CreateThing', thing.$metadata.requestId).additionalEventData,
    {
      sensitiveDataWarnings: [warning('attributePayload.attributes.owner', 'EMAIL_ADDRESS')],
    },
  );

  // An attribute's name is checked too, and a sensitive one is not repeated in the field path.
  await client.send(
    new CreateThingCommand({
      thingName: 'sensor-2',
      attributePayload: { attributes: { [EMAIL]: 'yes' } },
    }),
  );
  assert.equal(headers()[WARNING_HEADER], 'attributePayload.attributes=EMAIL_ADDRESS');

  const group = await client.send(
    new CreateThingGroupCommand({
      thingGroupName: 'lobby',
      thingGroupProperties: { thingGroupDescription: `Sensors; ask ${EMAIL}` },
    }),
  );
  assert.equal(
    headers()[WARNING_HEADER],
    'thingGroupProperties.thingGroupDescription=EMAIL_ADDRESS',
  );
  assert.deepEqual(
    recordOf(defaults, 'CreateThingGroup', group.$metadata.requestId).additionalEventData
      ?.sensitiveDataWarnings,
    [warning('thingGroupProperties.thingGroupDescription', 'EMAIL_ADDRESS')],
  );

  // No match, no header and nothing added to the record.
  const plain = await client.send(
    new UpdateThingGroupCommand({
      thingGroupName: 'lobby',
      thingGroupProperties: { thingGroupDescription: 'Lobby sensors' },
    }),
  );
  assert.equal(headers()[WARNING_HEADER], undefined);
  assert.equal(
    recordOf(defaults, 'UpdateThingGroup', plain.$metadata.requestId).additionalEventData,
    undefined,
  );

  // IAM's Query API: a policy description.
  const iamClient = iam(defaults);
  const policy = await iamClient.client.send(
    new CreatePolicyCommand({
      PolicyName: 'readers',
      Description: `Owned by ${EMAIL}`,
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'iot:DescribeThing', Resource: '*' }],
      }),
    }),
  );
  assert.equal(iamClient.headers()[WARNING_HEADER], 'Description=EMAIL_ADDRESS');
  assert.deepEqual(
    recordOf(defaults, 'CreatePolicy', policy.$metadata.requestId).additionalEventData,
    {
      sensitiveDataWarnings: [warning('Description', 'EMAIL_ADDRESS')],
    },
  );
  // Accepted values are in the store, but the trail records them redacted.
  for (const eventName of ['CreateThing', 'CreateThingGroup', 'CreatePolicy'])
    assert.ok(!lookup(defaults, eventName).stdout.includes(EMAIL), `${eventName}: ${EMAIL}`);
  client.destroy();
  iamClient.client.destroy();
});

test('credentials are refused even where the class only warns', async (t) => {
  if (!needAwsCli(t)) return;
  const secret = awsSecret();
  const description = refused(
    defaults,
    [
      'iot',
      'create-thing-group',
      '--thing-group-name',
      'gateways',
      '--thing-group-properties',
      JSON.stringify({ thingGroupDescription: `aws_secret_access_key: ${secret}` }),
    ],
    'InvalidRequestException',
  );
  assert.match(description, /thingGroupProperties\.thingGroupDescription/);
  assert.match(description, /rotate/);
  assert.ok(!description.includes(secret), description);

  const key = privateKeyPem();
  const policy = refused(
    defaults,
    [
      'iam',
      'create-policy',
      '--policy-name',
      'writers',
      '--description',
      key,
      '--policy-document',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'iot:UpdateThing', Resource: '*' }],
      }),
    ],
    'ValidationError',
  );
  assert.match(policy, /Description/);
  assert.match(policy, /PRIVATE_KEY/);
  assert.ok(!policy.includes(key.split('\n')[1] as string), policy);

  const tag = refused(
    lenient,
    [
      'iot',
      'create-thing-group',
      '--thing-group-name',
      'gateways',
      '--tags',
      `Key=aws_secret_access_key,Value=${secret}`,
    ],
    'InvalidRequestException',
  );
  assert.match(tag, /tags\[0\]\.Value/);
  assert.ok(!tag.includes(secret), tag);
});

test('in warn mode names and tags are accepted and audited; AWS still checks the name pattern', async (t) => {
  if (!needAwsCli(t)) return;
  const { client, headers } = iot(lenient);
  const thingName = `meter-${CARD}`;
  const created = await client.send(new CreateThingCommand({ thingName }));
  assert.equal(headers()[WARNING_HEADER], 'thingName=CREDIT_CARD_NUMBER');
  assert.deepEqual(
    recordOf(lenient, 'CreateThing', created.$metadata.requestId).additionalEventData,
    { sensitiveDataWarnings: [warning('thingName', 'CREDIT_CARD_NUMBER')] },
  );

  const tagged = await client.send(
    new TagResourceCommand({
      resourceArn: created.thingArn,
      tags: [{ Key: 'billing', Value: CARD }],
    }),
  );
  assert.equal(headers()[WARNING_HEADER], 'tags[0].Value=CREDIT_CARD_NUMBER');
  assert.deepEqual(
    recordOf(lenient, 'TagResource', tagged.$metadata.requestId).additionalEventData,
    { sensitiveDataWarnings: [warning('tags[0].Value', 'CREDIT_CARD_NUMBER')] },
  );

  // The guard only warns; then AWS's own ThingName pattern, which has no `@`, refuses it.
  const email = refused(
    lenient,
    ['iot', 'create-thing', '--thing-name', EMAIL],
    'InvalidRequestException',
  );
  assert.match(email, /regular expression pattern/);
  assert.ok(!email.includes(EMAIL), email);

  // Attributes are off here: accepted without a look.
  const silent = await client.send(
    new CreateThingCommand({
      thingName: 'meter-2',
      attributePayload: { attributes: { contact: EMAIL } },
    }),
  );
  assert.equal(headers()[WARNING_HEADER], undefined);
  assert.equal(
    recordOf(lenient, 'CreateThing', silent.$metadata.requestId).additionalEventData,
    undefined,
  );
  assert.equal(
    ok(lenient, ['iot', 'describe-thing', '--thing-name', 'meter-2']).attributes.contact,
    EMAIL,
  );
  for (const eventName of ['CreateThing', 'TagResource'])
    assert.ok(!lookup(lenient, eventName).stdout.includes(CARD), `${eventName}: ${CARD}`);
  client.destroy();
});

test('field paths never carry a flagged map key, and the header escapes what HTTP cannot carry', () => {
  const guard = new FieldGuard(new Guard(guardSettingsSchema.parse({})));
  const warnings = guard.check([
    ...attributeMapFields({ [EMAIL]: EMAIL }, 'attributePayload.attributes'),
    ...attributeMapFields({ 'größe, a=b': EMAIL }, 'attributePayload.attributes'),
  ]);
  assert.deepEqual(
    warnings.map(({ field, detector }) => `${field} ${detector}`),
    [
      'attributePayload.attributes EMAIL_ADDRESS',
      'attributePayload.attributes.[REDACTED:EMAIL_ADDRESS] EMAIL_ADDRESS',
      'attributePayload.attributes.größe, a=b EMAIL_ADDRESS',
    ],
  );
  assert.equal(
    sensitiveDataWarningHeader(warnings),
    'attributePayload.attributes=EMAIL_ADDRESS, ' +
      'attributePayload.attributes.[REDACTED:EMAIL_ADDRESS]=EMAIL_ADDRESS, ' +
      'attributePayload.attributes.gr%C3%B6%C3%9Fe%2C%20a%3Db=EMAIL_ADDRESS',
  );
});
