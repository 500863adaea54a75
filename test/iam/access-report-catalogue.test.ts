// The access report's action catalogue: read from the definitions the server serves (never a
// list kept by hand), and complete: every action the source authorizes is in it. The real
// server's report is checked against it in access-report.test.ts.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { servedActionCatalogue } from '../../src/app/served-api.js';
import { ROOT } from '../helpers/child.js';

/** Quoted `service:Action` strings in the source that are no IAM actions. */
const NOT_ACTIONS = new Set([
  // DescribeEndpoint's retired endpoint types.
  'iot:Data',
  'iot:Jobs',
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

test('the catalogue is read from the served definitions, without a running server', () => {
  const catalogue = servedActionCatalogue();
  const entry = (action: string) => catalogue.find((known) => known.action === action);
  assert.deepEqual(entry('iot:CreateThing'), {
    action: 'iot:CreateThing',
    servedOver: ['rest-api'],
    usageRecorded: true,
  });
  for (const action of [
    'iot:UpdateThingShadow',
    'iot:AttachPolicy',
    'iot:CreateKeysAndCertificate',
  ])
    assert.deepEqual(entry(action)?.servedOver, ['rest-api'], action);
  // MQTT over WSS records no uses yet: an action it serves is never called unused.
  assert.deepEqual(entry('iot:Publish'), {
    action: 'iot:Publish',
    servedOver: ['mqtt-over-wss', 'rest-api'],
    usageRecorded: false,
  });
  assert.deepEqual(entry('iot:Subscribe')?.servedOver, ['mqtt-over-wss']);
  for (const action of [
    'iam:CreateUser',
    'iam:CreateVirtualMFADevice',
    'iam:CreateLoginProfile',
    'iam:SimulatePrincipalPolicy',
    'iam:GetUserAccessReport',
  ])
    assert.deepEqual(entry(action)?.servedOver, ['query-api'], action);
  assert.deepEqual(entry('bulwark:GetMetrics')?.servedOver, ['metrics']);
  // Authentication calls no policy controls are no permissions to grant or remove.
  assert.equal(entry('sts:GetSessionToken'), undefined);
  assert.equal(entry('sts:GetCallerIdentity'), undefined);
  const names = catalogue.map((known) => known.action);
  assert.deepEqual(names, [...new Set(names)].sort(), 'each action once, sorted');
});

test('every action the source names is in the catalogue', () => {
  const catalogued = new Set(servedActionCatalogue().map((known) => known.action));
  const missing = new Map<string, string>();
  for (const file of sourceFiles(join(ROOT, 'src')))
    for (const [, action] of readFileSync(file, 'utf8').matchAll(
      /['"]((?:iot|iam|sts|bulwark):[A-Z][A-Za-z]*)['"]/g,
    ))
      if (!catalogued.has(action as string) && !NOT_ACTIONS.has(action as string))
        missing.set(action as string, file.slice(ROOT.length));
  assert.deepEqual(
    Object.fromEntries(missing),
    {},
    'actions authorized outside the served operations and Query actions: add their source to servedApi (src/app/served-api.ts)',
  );
});
