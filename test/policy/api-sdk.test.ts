// The IoT policy APIs through the real server with the AWS SDK v3 (@aws-sdk/client-iot): shapes,
// versions, attachments, TestAuthorization, GetEffectivePolicies, every error with AWS's name and
// status; the dev-listener policy init creates; documents sealed in the database files.
import {
  AttachPolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  AddThingToThingGroupCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DetachPolicyCommand,
  GetEffectivePoliciesCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  ListAttachedPoliciesCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  ListTargetsForPolicyCommand,
  SetDefaultPolicyVersionCommand,
  TestAuthorizationCommand,
} from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { iotClient, signedRequest, type ApiTarget } from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS, fileCleanup, startServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const ACCOUNT_ID = '210987654321';
const dataDir = join(tempDir(files), 'data');
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
  env: { BULWARK_ACCOUNT_ID: ACCOUNT_ID },
});
const target: ApiTarget = { port: server.ready.api, dataDir };
const client = iotClient(target);
const ARN = `arn:aws:iot:us-east-1:${ACCOUNT_ID}`;
const CERT = `${ARN}:cert/${'0f'.repeat(32)}`;
const OTHER_CERT = `${ARN}:cert/${'1e'.repeat(32)}`;
const MARKER = 'SECRET-TOPIC-MARKER-7731';

const document = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });
const allowAll = document({ Effect: 'Allow', Action: 'iot:*', Resource: '*' });

type SdkError = Error & { name: string; $metadata: { httpStatusCode?: number } };

async function fails(promise: Promise<unknown>, name: string, status: number): Promise<SdkError> {
  try {
    await promise;
  } catch (error) {
    const sdk = error as SdkError;
    assert.equal(sdk.name, name, sdk.message);
    assert.equal(sdk.$metadata.httpStatusCode, status);
    return sdk;
  }
  assert.fail(`expected ${name}`);
}

test('init created dev-listener, allowing everything', async () => {
  const policy = await client.send(new GetPolicyCommand({ policyName: 'dev-listener' }));
  assert.equal(policy.policyArn, `${ARN}:policy/dev-listener`);
  assert.equal(policy.defaultVersionId, '1');
  assert.deepEqual(JSON.parse(policy.policyDocument ?? ''), {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }],
  });
});

test('CreatePolicy, GetPolicy, ListPolicies with paging; duplicate and malformed documents', async () => {
  const text = document({
    Effect: 'Allow',
    Action: 'iot:Publish',
    Resource: `${ARN}:topic/${MARKER}`,
  });
  const created = await client.send(
    new CreatePolicyCommand({
      policyName: 'sdk-policy',
      policyDocument: text,
      tags: [{ Key: 'team', Value: 'ops' }],
    }),
  );
  assert.equal(created.policyName, 'sdk-policy');
  assert.equal(created.policyArn, `${ARN}:policy/sdk-policy`);
  assert.equal(created.policyDocument, text);
  assert.equal(created.policyVersionId, '1');

  const got = await client.send(new GetPolicyCommand({ policyName: 'sdk-policy' }));
  assert.equal(got.policyDocument, text);
  assert.equal(got.defaultVersionId, '1');
  assert.ok(got.creationDate instanceof Date);
  assert.ok(Math.abs((got.creationDate as Date).getTime() - Date.now()) < 60_000);
  assert.match(got.generationId ?? '', /^[0-9a-f]{64}$/);

  const duplicate = await fails(
    client.send(new CreatePolicyCommand({ policyName: 'sdk-policy', policyDocument: text })),
    'ResourceAlreadyExistsException',
    409,
  );
  assert.match(duplicate.message, /name already exists \(name=sdk-policy\)/);
  await fails(
    client.send(
      new CreatePolicyCommand({
        policyName: 'bad',
        policyDocument: '{"Statement":[{"Effect":"Maybe"}]}',
      }),
    ),
    'MalformedPolicyException',
    400,
  );
  const big = document({
    Effect: 'Allow',
    Action: 'iot:Publish',
    Resource: `${ARN}:topic/${'x'.repeat(2100)}`,
  });
  const tooBig = await fails(
    client.send(new CreatePolicyCommand({ policyName: 'big', policyDocument: big })),
    'MalformedPolicyException',
    400,
  );
  assert.match(tooBig.message, /limit is 2048/);
  await fails(
    client.send(new CreatePolicyCommand({ policyName: 'bad name!', policyDocument: allowAll })),
    'InvalidRequestException',
    400,
  );
  await fails(
    client.send(new GetPolicyCommand({ policyName: 'nope' })),
    'ResourceNotFoundException',
    404,
  );

  for (const name of ['page-a', 'page-b', 'page-c'])
    await client.send(new CreatePolicyCommand({ policyName: name, policyDocument: allowAll }));
  const seen: string[] = [];
  let marker: string | undefined;
  do {
    const page = await client.send(
      new ListPoliciesCommand({ pageSize: 2, ...(marker ? { marker } : {}) }),
    );
    assert.ok((page.policies ?? []).length <= 2);
    seen.push(...(page.policies ?? []).map((policy) => policy.policyName as string));
    marker = page.nextMarker;
  } while (marker);
  for (const name of ['dev-listener', 'sdk-policy', 'page-a', 'page-b', 'page-c'])
    assert.ok(seen.includes(name), name);
  assert.equal(new Set(seen).size, seen.length, 'no policy twice');
  assert.ok(seen.indexOf('dev-listener') < seen.indexOf('page-c'), 'creation order, ascending');
  const descending = await client.send(new ListPoliciesCommand({ ascendingOrder: false }));
  assert.equal(descending.policies?.[0]?.policyName, 'page-c');
});

test('policy versions: at most five, ids never reused, set default, delete rules', async () => {
  const name = 'versioned';
  await client.send(new CreatePolicyCommand({ policyName: name, policyDocument: allowAll }));
  for (let version = 2; version <= 5; version++) {
    const created = await client.send(
      new CreatePolicyVersionCommand({
        policyName: name,
        policyDocument: document({
          Effect: 'Allow',
          Action: 'iot:Publish',
          Resource: `${ARN}:topic/v${version}`,
        }),
        setAsDefault: version === 3,
      }),
    );
    assert.equal(created.policyVersionId, String(version));
    assert.equal(created.isDefaultVersion, version === 3);
    assert.equal(created.policyArn, `${ARN}:policy/${name}`);
  }
  const limit = await fails(
    client.send(new CreatePolicyVersionCommand({ policyName: name, policyDocument: allowAll })),
    'VersionsLimitExceededException',
    409,
  );
  assert.match(limit.message, /maximum number of versions \(5\)/);

  const versions = await client.send(new ListPolicyVersionsCommand({ policyName: name }));
  assert.deepEqual(
    versions.policyVersions?.map((version) => [version.versionId, version.isDefaultVersion]),
    [
      ['5', false],
      ['4', false],
      ['3', true],
      ['2', false],
      ['1', false],
    ],
  );
  assert.ok(versions.policyVersions?.[0]?.createDate instanceof Date);
  assert.equal(
    (await client.send(new GetPolicyCommand({ policyName: name }))).defaultVersionId,
    '3',
  );

  const v4 = await client.send(
    new GetPolicyVersionCommand({ policyName: name, policyVersionId: '4' }),
  );
  assert.equal(v4.isDefaultVersion, false);
  assert.equal(v4.policyVersionId, '4');
  assert.match(v4.policyDocument ?? '', /topic\/v4/);
  await fails(
    client.send(new GetPolicyVersionCommand({ policyName: name, policyVersionId: '9' })),
    'ResourceNotFoundException',
    404,
  );

  await client.send(new SetDefaultPolicyVersionCommand({ policyName: name, policyVersionId: '4' }));
  assert.equal(
    (await client.send(new GetPolicyCommand({ policyName: name }))).defaultVersionId,
    '4',
  );
  const defaultDelete = await fails(
    client.send(new DeletePolicyVersionCommand({ policyName: name, policyVersionId: '4' })),
    'DeleteConflictException',
    409,
  );
  assert.match(defaultDelete.message, /default version/);
  await client.send(new DeletePolicyVersionCommand({ policyName: name, policyVersionId: '5' }));
  const next = await client.send(
    new CreatePolicyVersionCommand({ policyName: name, policyDocument: allowAll }),
  );
  assert.equal(next.policyVersionId, '6', 'a deleted version id is never reused');

  const withVersions = await fails(
    client.send(new DeletePolicyCommand({ policyName: name })),
    'DeleteConflictException',
    409,
  );
  assert.match(withVersions.message, /versions/);
  for (const version of ['1', '2', '3', '6'])
    await client.send(
      new DeletePolicyVersionCommand({ policyName: name, policyVersionId: version }),
    );
  await client.send(new DeletePolicyCommand({ policyName: name }));
  await fails(
    client.send(new GetPolicyCommand({ policyName: name })),
    'ResourceNotFoundException',
    404,
  );
});

test('attach to a certificate ARN and to thing groups; list both ways; limits and conflicts', async () => {
  await client.send(new CreateThingGroupCommand({ thingGroupName: 'building' }));
  await client.send(
    new CreateThingGroupCommand({ thingGroupName: 'floor-1', parentGroupName: 'building' }),
  );
  await client.send(
    new CreatePolicyCommand({ policyName: 'cert-policy', policyDocument: allowAll }),
  );
  await client.send(
    new CreatePolicyCommand({ policyName: 'building-policy', policyDocument: allowAll }),
  );
  await client.send(
    new CreatePolicyCommand({ policyName: 'floor-policy', policyDocument: allowAll }),
  );

  await client.send(new AttachPolicyCommand({ policyName: 'cert-policy', target: CERT }));
  await client.send(new AttachPolicyCommand({ policyName: 'cert-policy', target: CERT }));
  await client.send(
    new AttachPolicyCommand({
      policyName: 'building-policy',
      target: `${ARN}:thinggroup/building`,
    }),
  );
  await client.send(
    new AttachPolicyCommand({ policyName: 'floor-policy', target: `${ARN}:thinggroup/floor-1` }),
  );

  const onCert = await client.send(new ListAttachedPoliciesCommand({ target: CERT }));
  assert.deepEqual(onCert.policies, [
    { policyName: 'cert-policy', policyArn: `${ARN}:policy/cert-policy` },
  ]);
  const direct = await client.send(
    new ListAttachedPoliciesCommand({ target: `${ARN}:thinggroup/floor-1` }),
  );
  assert.deepEqual(
    direct.policies?.map((policy) => policy.policyName),
    ['floor-policy'],
  );
  const recursive = await client.send(
    new ListAttachedPoliciesCommand({ target: `${ARN}:thinggroup/floor-1`, recursive: true }),
  );
  assert.deepEqual(
    recursive.policies?.map((policy) => policy.policyName),
    ['building-policy', 'floor-policy'],
  );
  const targets = await client.send(new ListTargetsForPolicyCommand({ policyName: 'cert-policy' }));
  assert.deepEqual(targets.targets, [CERT]);

  await fails(
    client.send(
      new AttachPolicyCommand({ policyName: 'cert-policy', target: `${ARN}:thinggroup/missing` }),
    ),
    'ResourceNotFoundException',
    404,
  );
  await fails(
    client.send(new AttachPolicyCommand({ policyName: 'missing', target: CERT })),
    'ResourceNotFoundException',
    404,
  );
  await fails(
    client.send(new AttachPolicyCommand({ policyName: 'cert-policy', target: 'not-an-arn' })),
    'InvalidRequestException',
    400,
  );
  const conflict = await fails(
    client.send(new DeletePolicyCommand({ policyName: 'cert-policy' })),
    'DeleteConflictException',
    409,
  );
  assert.match(conflict.message, /attached/);

  for (let i = 0; i < 10; i++) {
    await client.send(
      new CreatePolicyCommand({ policyName: `many-${i}`, policyDocument: allowAll }),
    );
    await client.send(new AttachPolicyCommand({ policyName: `many-${i}`, target: OTHER_CERT }));
  }
  await client.send(new CreatePolicyCommand({ policyName: 'eleventh', policyDocument: allowAll }));
  await fails(
    client.send(new AttachPolicyCommand({ policyName: 'eleventh', target: OTHER_CERT })),
    'LimitExceededException',
    410,
  );
  const paged = await client.send(
    new ListAttachedPoliciesCommand({ target: OTHER_CERT, pageSize: 4 }),
  );
  assert.equal(paged.policies?.length, 4);
  assert.ok(paged.nextMarker);
  const rest = await client.send(
    new ListAttachedPoliciesCommand({ target: OTHER_CERT, pageSize: 10, marker: paged.nextMarker }),
  );
  assert.equal(rest.policies?.length, 6);
  assert.equal(rest.nextMarker, undefined);

  await client.send(new DetachPolicyCommand({ policyName: 'cert-policy', target: CERT }));
  assert.deepEqual(
    (await client.send(new ListAttachedPoliciesCommand({ target: CERT }))).policies,
    [],
  );
  await client.send(new DeletePolicyCommand({ policyName: 'cert-policy' }));
});

test("GetEffectivePolicies: the principal's policies and those of the thing's groups and ancestors", async () => {
  await client.send(new CreateThingCommand({ thingName: 'lamp' }));
  await client.send(new CreateThingGroupCommand({ thingGroupName: 'site' }));
  await client.send(
    new CreateThingGroupCommand({ thingGroupName: 'room', parentGroupName: 'site' }),
  );
  await client.send(new AddThingToThingGroupCommand({ thingGroupName: 'room', thingName: 'lamp' }));
  const cert = `${ARN}:cert/${'2d'.repeat(32)}`;
  const own = document({ Effect: 'Allow', Action: 'iot:Connect', Resource: '*' });
  await client.send(new CreatePolicyCommand({ policyName: 'lamp-cert', policyDocument: own }));
  await client.send(new CreatePolicyCommand({ policyName: 'site-wide', policyDocument: allowAll }));
  await client.send(new AttachPolicyCommand({ policyName: 'lamp-cert', target: cert }));
  await client.send(
    new AttachPolicyCommand({ policyName: 'site-wide', target: `${ARN}:thinggroup/site` }),
  );
  const effective = await client.send(
    new GetEffectivePoliciesCommand({ principal: cert, thingName: 'lamp' }),
  );
  assert.deepEqual(
    effective.effectivePolicies?.map((policy) => [
      policy.policyName,
      policy.policyArn,
      policy.policyDocument,
    ]),
    [
      ['lamp-cert', `${ARN}:policy/lamp-cert`, own],
      ['site-wide', `${ARN}:policy/site-wide`, allowAll],
    ],
  );
  await fails(
    client.send(new GetEffectivePoliciesCommand({ principal: cert, thingName: 'no-such-thing' })),
    'ResourceNotFoundException',
    404,
  );
});

test('TestAuthorization: allowed, explicit deny, implicit deny, missing context values', async () => {
  const cert = `${ARN}:cert/${'3c'.repeat(32)}`;
  await client.send(
    new CreatePolicyCommand({
      policyName: 'device',
      policyDocument: document(
        { Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}:client/\${iot:ClientId}` },
        {
          Effect: 'Allow',
          Action: ['iot:Publish', 'iot:Receive'],
          Resource: `${ARN}:topic/devices/\${iot:ClientId}/*`,
        },
        {
          Effect: 'Allow',
          Action: 'iot:Subscribe',
          Resource: `${ARN}:topicfilter/devices/\${iot:Connection.Thing.ThingName}/*`,
        },
      ),
    }),
  );
  await client.send(
    new CreatePolicyCommand({
      policyName: 'no-admin',
      policyDocument: document({
        Effect: 'Deny',
        Action: 'iot:Publish',
        Resource: `${ARN}:topic/devices/*/admin`,
      }),
    }),
  );
  await client.send(new AttachPolicyCommand({ policyName: 'device', target: cert }));
  await client.send(new AttachPolicyCommand({ policyName: 'no-admin', target: cert }));
  const result = await client.send(
    new TestAuthorizationCommand({
      principal: cert,
      clientId: 'd1',
      authInfos: [
        { actionType: 'CONNECT', resources: [`${ARN}:client/d1`] },
        { actionType: 'PUBLISH', resources: [`${ARN}:topic/devices/d1/admin`] },
        { actionType: 'PUBLISH', resources: [`${ARN}:topic/devices/d2/data`] },
        { actionType: 'SUBSCRIBE', resources: [`${ARN}:topicfilter/devices/d1/*`] },
      ],
    }),
  );
  const [connect, admin, other, subscribe] = result.authResults ?? [];
  assert.equal(connect?.authDecision, 'ALLOWED');
  assert.deepEqual(connect?.allowed?.policies, [
    { policyName: 'device', policyArn: `${ARN}:policy/device` },
  ]);
  assert.equal(admin?.authDecision, 'EXPLICIT_DENY');
  assert.deepEqual(
    admin?.denied?.explicitDeny?.policies?.map((policy) => policy.policyName),
    ['no-admin'],
  );
  assert.equal(other?.authDecision, 'IMPLICIT_DENY');
  assert.deepEqual(
    other?.denied?.implicitDeny?.policies?.map((policy) => policy.policyName),
    ['device', 'no-admin'],
  );
  assert.equal(subscribe?.authDecision, 'IMPLICIT_DENY');
  assert.deepEqual(subscribe?.missingContextValues, ['iot:Connection.Thing.ThingName']);
  assert.deepEqual(subscribe?.authInfo, {
    actionType: 'SUBSCRIBE',
    resources: [`${ARN}:topicfilter/devices/d1/*`],
  });

  const skipped = await client.send(
    new TestAuthorizationCommand({
      principal: cert,
      clientId: 'd1',
      policyNamesToSkip: ['no-admin'],
      policyNamesToAdd: ['dev-listener'],
      authInfos: [{ actionType: 'PUBLISH', resources: [`${ARN}:topic/devices/d1/admin`] }],
    }),
  );
  assert.equal(skipped.authResults?.[0]?.authDecision, 'ALLOWED');
  await fails(
    client.send(
      new TestAuthorizationCommand({
        principal: cert,
        authInfos: [{ actionType: 'PUBLISH', resources: ['*'] }],
        policyNamesToAdd: ['missing'],
      }),
    ),
    'ResourceNotFoundException',
    404,
  );
});

test('raw requests: a bad actionType and a missing authInfos are 400 InvalidRequestException', async () => {
  for (const body of [
    { authInfos: [{ actionType: 'DANCE', resources: ['*'] }] },
    { principal: CERT },
  ]) {
    const response = await signedRequest(target, {
      method: 'POST',
      path: '/test-authorization',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    assert.equal(response.status, 400, response.body);
    assert.equal(response.headers['x-amzn-errortype'], 'InvalidRequestException');
  }
});

test('policy documents are sealed: the database files never hold one in plaintext', async () => {
  // sdk-policy's document names MARKER; the name itself is a plaintext index key.
  const dbDir = join(dataDir, 'db');
  const bytes = Buffer.concat(readdirSync(dbDir).map((file) => readFileSync(join(dbDir, file))));
  assert.ok(bytes.includes(Buffer.from('sdk-policy')), 'the policy name is plaintext');
  assert.equal(bytes.includes(Buffer.from(MARKER)), false, 'the document is sealed');
  assert.equal(bytes.includes(Buffer.from('"Effect"')), false, 'no document is in plaintext');
});
