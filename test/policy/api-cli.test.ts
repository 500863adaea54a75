// The IoT policy APIs through the AWS CLI v2 (`aws iot … --endpoint-url`), as an operator would
// use them; and `bulwark init`, run twice, leaving one dev-listener policy.
import { CreateThingGroupCommand } from '@aws-sdk/client-iot';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { iotClient, needAwsCli, runAwsCli, type ApiTarget } from '../helpers/aws-api.js';
import { EPHEMERAL_PORTS, fileCleanup, runCli, startServer } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

const files = fileCleanup();
const ACCOUNT_ID = '123456789012';
const dataDir = join(tempDir(files), 'data');
// init twice before the first serve: idempotent, one dev-listener with one version.
for (let i = 0; i < 2; i++) {
  const init = runCli(['init', '--data-dir', dataDir], { env: { BULWARK_ACCOUNT_ID: ACCOUNT_ID } });
  assert.equal(init.status, 0, init.stderr);
}
const server = await startServer(files, ['--data-dir', dataDir, ...EPHEMERAL_PORTS], {
  env: { BULWARK_ACCOUNT_ID: ACCOUNT_ID },
});
const target: ApiTarget = { port: server.ready.api, dataDir };
const home = tempDir(files);
const ARN = `arn:aws:iot:us-east-1:${ACCOUNT_ID}`;
const CERT = `${ARN}:cert/${'4b'.repeat(32)}`;

function iot(args: string[]): Record<string, unknown> {
  const result = runAwsCli(target, ['iot', ...args], { home });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim() ? (JSON.parse(result.stdout) as Record<string, unknown>) : {};
}

function iotFails(args: string[]): string {
  const result = runAwsCli(target, ['iot', ...args], { home });
  assert.notEqual(result.status, 0, result.stdout);
  return result.stderr;
}

function documentFile(name: string, statements: object[]): string {
  const path = join(home, `${name}.json`);
  // Pretty-printed, as operators keep them in files.
  writeFileSync(path, JSON.stringify({ Version: '2012-10-17', Statement: statements }, null, 2));
  return `file://${path}`;
}

function cli(t: TestContext): boolean {
  return needAwsCli(t);
}

test('bulwark init twice: one dev-listener policy with a single version', (t) => {
  if (!cli(t)) return;
  const versions = iot(['list-policy-versions', '--policy-name', 'dev-listener']);
  assert.deepEqual(
    (versions.policyVersions as { versionId: string }[]).map((version) => version.versionId),
    ['1'],
  );
});

test('AWS CLI v2: create-policy from a file, versions to the limit, set-default, delete rules', (t) => {
  if (!cli(t)) return;
  const created = iot([
    'create-policy',
    '--policy-name',
    'cli-policy',
    '--policy-document',
    documentFile('v1', [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `${ARN}:client/\${iot:ClientId}` },
    ]),
  ]);
  assert.equal(created.policyVersionId, '1');
  assert.equal(created.policyArn, `${ARN}:policy/cli-policy`);
  for (let version = 2; version <= 5; version++) {
    const added = iot([
      'create-policy-version',
      '--policy-name',
      'cli-policy',
      '--policy-document',
      documentFile(`v${version}`, [
        { Effect: 'Allow', Action: 'iot:Publish', Resource: `${ARN}:topic/v${version}` },
      ]),
      ...(version === 5 ? ['--set-as-default'] : []),
    ]);
    assert.equal(added.policyVersionId, String(version));
  }
  const limit = iotFails([
    'create-policy-version',
    '--policy-name',
    'cli-policy',
    '--policy-document',
    documentFile('v6', [{ Effect: 'Allow', Action: 'iot:*', Resource: '*' }]),
  ]);
  assert.match(limit, /VersionsLimitExceededException/);
  assert.equal(iot(['get-policy', '--policy-name', 'cli-policy']).defaultVersionId, '5');
  iot(['set-default-policy-version', '--policy-name', 'cli-policy', '--policy-version-id', '2']);
  assert.equal(iot(['get-policy', '--policy-name', 'cli-policy']).defaultVersionId, '2');
  assert.match(
    iotFails(['delete-policy-version', '--policy-name', 'cli-policy', '--policy-version-id', '2']),
    /DeleteConflictException/,
  );
  assert.match(
    iotFails(['delete-policy', '--policy-name', 'cli-policy']),
    /DeleteConflictException/,
  );
  const malformed = iotFails([
    'create-policy',
    '--policy-name',
    'broken',
    '--policy-document',
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Resource":"*"}]}',
  ]);
  assert.match(malformed, /MalformedPolicyException/);
});

test('AWS CLI v2: attach to a cert and a thing group, list both ways, test-authorization, effective policies', async (t) => {
  if (!cli(t)) return;
  await iotClient(target).send(new CreateThingGroupCommand({ thingGroupName: 'cli-group' }));
  const group = `${ARN}:thinggroup/cli-group`;
  iot([
    'create-policy',
    '--policy-name',
    'cli-attach',
    '--policy-document',
    documentFile('attach', [
      { Effect: 'Allow', Action: 'iot:Publish', Resource: `${ARN}:topic/ok/*` },
    ]),
  ]);
  iot(['attach-policy', '--policy-name', 'cli-attach', '--target', CERT]);
  iot(['attach-policy', '--policy-name', 'cli-attach', '--target', group]);
  assert.deepEqual(
    (iot(['list-attached-policies', '--target', CERT]).policies as { policyName: string }[]).map(
      (policy) => policy.policyName,
    ),
    ['cli-attach'],
  );
  assert.deepEqual(iot(['list-targets-for-policy', '--policy-name', 'cli-attach']).targets, [
    CERT,
    group,
  ]);
  const authorized = iot([
    'test-authorization',
    '--principal',
    CERT,
    '--client-id',
    'c1',
    '--auth-infos',
    JSON.stringify([
      { actionType: 'PUBLISH', resources: [`${ARN}:topic/ok/1`] },
      { actionType: 'PUBLISH', resources: [`${ARN}:topic/other`] },
    ]),
  ]);
  assert.deepEqual(
    (authorized.authResults as { authDecision: string }[]).map((result) => result.authDecision),
    ['ALLOWED', 'IMPLICIT_DENY'],
  );
  const effective = iot(['get-effective-policies', '--principal', CERT]);
  assert.deepEqual(
    (effective.effectivePolicies as { policyName: string }[]).map((policy) => policy.policyName),
    ['cli-attach'],
  );
  assert.match(
    iotFails(['delete-policy', '--policy-name', 'cli-attach']),
    /DeleteConflictException/,
  );
  iot(['detach-policy', '--policy-name', 'cli-attach', '--target', CERT]);
  iot(['detach-policy', '--policy-name', 'cli-attach', '--target', group]);
  iot(['delete-policy', '--policy-name', 'cli-attach']);
  assert.match(
    iotFails(['get-policy', '--policy-name', 'cli-attach']),
    /ResourceNotFoundException/,
  );
});
