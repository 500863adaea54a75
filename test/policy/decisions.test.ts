// The broker's decision point: policy writes reach it before the API call returns (no stale
// cache), and writes by another process are picked up by refreshIfChanged.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { isBulwarkError } from '../../src/errors.js';
import {
  PolicyDecisions,
  policyMigrations,
  PolicyService,
  registryDirectory,
} from '../../src/policy/index.js';
import { Registry, registryMigrations } from '../../src/registry/index.js';
import { newLocation, openHarnessAt } from '../helpers/store-harness.js';

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';
const ARN = `arn:aws:iot:${REGION}:${ACCOUNT}`;
const CERT = `${ARN}:cert/${'ab'.repeat(32)}`;
const topic = (name: string) => `${ARN}:topic/${name}`;
const policy = (...Statement: object[]) => JSON.stringify({ Version: '2012-10-17', Statement });

async function open(t: TestContext, kind: 'sqlite' | 'postgres') {
  const location = await newLocation(t, kind);
  if (!location) return undefined;
  const harness = await openHarnessAt(location, [...registryMigrations, ...policyMigrations]);
  t.after(() => harness.close());
  const registry = new Registry({ store: harness.store, region: REGION, accountId: ACCOUNT });
  const service = async () => {
    const decisions = await PolicyDecisions.load(harness.store);
    return {
      decisions,
      service: new PolicyService({
        store: harness.store,
        region: REGION,
        accountId: ACCOUNT,
        decisions,
        directory: registryDirectory(registry),
      }),
    };
  };
  return { harness, registry, service };
}

for (const kind of ['sqlite', 'postgres'] as const) {
  test(`every policy write governs the very next decision [${kind}]`, async (t) => {
    const opened = await open(t, kind);
    if (!opened) return;
    const { decisions, service } = await opened.service();
    const decide = (targets: string[], name: string) =>
      decisions.decide(targets, 'iot:Publish', topic(name), { clientId: 'c1' });

    await service.policies.create(
      'pub',
      policy({ Effect: 'Allow', Action: 'iot:Publish', Resource: topic('a') }),
    );
    assert.equal(decide([CERT], 'a'), 'implicit-deny', 'not attached yet');
    await service.targets.attach('pub', CERT);
    assert.equal(decide([CERT], 'a'), 'allow', 'attach applies at once');

    await service.policies.createVersion(
      'pub',
      policy({ Effect: 'Allow', Action: 'iot:Publish', Resource: topic('b') }),
      false,
    );
    assert.equal(decide([CERT], 'a'), 'allow', 'a non-default version changes nothing');
    await service.policies.setDefaultVersion('pub', '2');
    assert.equal(decide([CERT], 'a'), 'implicit-deny', 'the new default version applies at once');
    assert.equal(decide([CERT], 'b'), 'allow');

    // Thing group policies apply through the group's ARN and its ancestors'.
    await opened.registry.thingGroups.create({ thingGroupName: 'fleet' });
    await opened.registry.thingGroups.create({
      thingGroupName: 'floor-3',
      parentGroupName: 'fleet',
    });
    await service.policies.create(
      'fence',
      policy({ Effect: 'Deny', Action: 'iot:*', Resource: topic('b') }),
    );
    await service.targets.attach('fence', `${ARN}:thinggroup/fleet`);
    const groups = [`${ARN}:thinggroup/fleet`, `${ARN}:thinggroup/floor-3`];
    assert.equal(decide([CERT, ...groups], 'b'), 'deny', 'the ancestor group denies');
    assert.equal(decide([CERT], 'b'), 'allow');

    await service.targets.detach('pub', CERT);
    assert.equal(decide([CERT], 'b'), 'implicit-deny', 'detach applies at once');
    assert.equal(decisions.decideByPolicyNames(['pub'], 'iot:Publish', topic('b'), {}), 'allow');
  });

  test(`another process's writes are picked up by refreshIfChanged [${kind}]`, async (t) => {
    const opened = await open(t, kind);
    if (!opened) return;
    const serving = await opened.service();
    const cli = await opened.service();
    await cli.service.policies.create(
      'p',
      policy({ Effect: 'Allow', Action: 'iot:*', Resource: '*' }),
    );
    await cli.service.targets.attach('p', CERT);
    const decide = () => serving.decisions.decide([CERT], 'iot:Connect', `${ARN}:client/c`, {});
    assert.equal(decide(), 'implicit-deny', 'the serving copy has not looked yet');
    const before = serving.decisions.changeCount;
    assert.equal(await serving.decisions.refreshIfChanged(), true);
    assert.ok(serving.decisions.changeCount > before);
    assert.equal(decide(), 'allow');
    assert.equal(await serving.decisions.refreshIfChanged(), false, 'nothing new');
    // Its own writes keep it current without a reload.
    await serving.service.targets.detach('p', CERT);
    assert.equal(await serving.decisions.refreshIfChanged(), false);
    assert.equal(decide(), 'implicit-deny');
  });
}

test('a thing group target must exist; a certificate ARN need only be well formed', async (t) => {
  const opened = await open(t, 'sqlite');
  assert.ok(opened);
  const { service } = await opened.service();
  await service.policies.create('p', policy({ Effect: 'Allow', Action: 'iot:*', Resource: '*' }));
  await assert.rejects(service.targets.attach('p', `${ARN}:thinggroup/nope`), (error: unknown) =>
    isBulwarkError(error, 'ResourceNotFound'),
  );
  for (const bad of [
    `${ARN}:cert/xyz`,
    'arn:aws:iot:us-east-1:999999999999:cert/' + 'ab'.repeat(32),
    'eu-west-1:0f1e2d3c-aaaa-bbbb-cccc-0123456789ab',
  ])
    await assert.rejects(service.targets.attach('p', bad), (error: unknown) =>
      isBulwarkError(error, 'InvalidRequest'),
    );
  await service.targets.attach('p', CERT);
});
