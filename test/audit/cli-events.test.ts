// `bulwark iam …` and `bulwark kms …` on a data dir record each action in the audit trail: as the
// account's root invoked by bulwark-cli, with the OS user, success and failure alike, and never a
// secret. The administrator recovery is recorded too, and does not complete when its event
// cannot be written; nor does a new access key.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { openDataDir, type OpenDataDir } from '../../src/app/data-dir.js';
import { lookupEvents } from '../../src/audit/lookup.js';
import type { AuditRecord } from '../../src/audit/record.js';
import { CliAudit, cliUserIdentity, operatorFacts } from '../../src/cli/cli-audit.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { ADMIN_USER_NAME, ADMINISTRATOR_POLICY_NAME } from '../../src/iam/administrator.js';
import { recoverAdministrator } from '../../src/iam/administrator-recovery.js';
import { IamAuthorizer } from '../../src/iam/authorize.js';
import { createIamQueryServices } from '../../src/iam/query/index.js';
import type { Logger } from '../../src/logs/logger.js';
import { adminCredentials } from '../helpers/aws-api.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';

function initialised(t: Parameters<typeof tempDir>[0]): string {
  const dataDir = join(tempDir(t, 'bulwark-cli-events-'), 'data');
  assert.equal(runCli(['init', '--data-dir', dataDir]).status, 0);
  return dataDir;
}

function cli(dataDir: string, args: string[]): CliResult {
  return runCli([...args, '--data-dir', dataDir]);
}

function ok(dataDir: string, args: string[]): string {
  const result = cli(dataDir, args);
  assert.equal(result.status, 0, `bulwark ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

async function withOpen<T>(
  dataDir: string,
  work: (opened: OpenDataDir, config: Config) => Promise<T>,
): Promise<T> {
  const config = loadConfig({ env: {}, flags: { dataDir } });
  const opened = await openDataDir(config, {}, { create: false });
  try {
    return await work(opened, config);
  } finally {
    await opened.close();
  }
}

/** Every event of the trail, oldest first. */
function trail(dataDir: string): Promise<AuditRecord[]> {
  return withOpen(dataDir, async ({ store }) =>
    (await lookupEvents(store, { attributes: [], maxResults: 1000 })).records.reverse(),
  );
}

function named(events: AuditRecord[], eventName: string): AuditRecord[] {
  return events.filter((event) => event.eventName === eventName);
}

function only(events: AuditRecord[], eventName: string): AuditRecord {
  const found = named(events, eventName);
  assert.equal(found.length, 1, `${eventName}: ${JSON.stringify(found, null, 1)}`);
  return found[0] as AuditRecord;
}

function assertLocalRoot(event: AuditRecord): void {
  assert.deepEqual(event.userIdentity, {
    type: 'Root',
    principalId: '000000000000',
    arn: 'arn:aws:iam::000000000000:root',
    accountId: '000000000000',
    invokedBy: 'bulwark-cli',
  });
  assert.equal(event.additionalEventData?.osUser, userInfo().username);
  assert.equal(event.userAgent, 'bulwark-cli');
  assert.equal(event.eventType, 'AwsApiCall');
}

test('bulwark iam and kms commands record their actions as the root invoked by bulwark-cli, failures included, secrets never', async (t) => {
  const dataDir = initialised(t);
  ok(dataDir, ['iam', 'create-user', '--user', 'alice']);
  const key = JSON.parse(
    ok(dataDir, ['iam', 'create-access-key', '--user', 'alice', '--json']),
  ) as {
    AccessKeyId: string;
    SecretAccessKey: string;
  };
  ok(dataDir, ['iam', 'list-users']);
  const missing = cli(dataDir, ['iam', 'delete-user', '--user', 'nobody']);
  assert.equal(missing.status, 1);
  const created = JSON.parse(ok(dataDir, ['kms', 'create-key', '--description', 'fleet data']))
    .KeyMetadata as { KeyId: string };
  ok(dataDir, [
    ...['kms', 'schedule-key-deletion', '--key-id', created.KeyId],
    ...['--pending-window-in-days', '7'],
  ]);
  assert.equal(cli(dataDir, ['kms', 'rotate-key', '--key-id', 'no-such-key']).status, 1);

  const events = await trail(dataDir);
  for (const event of events) assertLocalRoot(event);

  const createUser = only(events, 'CreateUser');
  assert.equal(createUser.eventSource, 'iam.amazonaws.com');
  assert.equal(createUser.readOnly, false);
  assert.equal(createUser.eventCategory, 'Management');
  assert.deepEqual(createUser.requestParameters, { userName: 'alice' });
  assert.equal((createUser.responseElements?.user as { userName: string }).userName, 'alice');
  assert.equal(createUser.errorCode, undefined);

  const createKey = only(events, 'CreateAccessKey');
  assert.deepEqual(createKey.requestParameters, { userName: 'alice' });
  assert.equal(
    (createKey.responseElements?.accessKey as { accessKeyId: string }).accessKeyId,
    key.AccessKeyId,
  );
  assert.ok(!JSON.stringify(events).includes(key.SecretAccessKey), 'no secret in the trail');

  const listUsers = only(events, 'ListUsers');
  assert.equal(listUsers.readOnly, true);
  assert.equal(listUsers.responseElements, null);

  const deleteUser = only(events, 'DeleteUser');
  assert.equal(deleteUser.errorCode, 'NoSuchEntityException');
  assert.match(deleteUser.errorMessage as string, /nobody/);
  assert.deepEqual(deleteUser.requestParameters, { userName: 'nobody' });

  const kmsCreate = only(events, 'CreateKey');
  assert.equal(kmsCreate.eventSource, 'kms.amazonaws.com');
  assert.equal((kmsCreate.responseElements?.keyMetadata as { keyId: string }).keyId, created.KeyId);
  const schedule = only(events, 'ScheduleKeyDeletion');
  assert.deepEqual(schedule.requestParameters, { keyId: created.KeyId, pendingWindowInDays: 7 });
  assert.deepEqual(schedule.resources, [
    {
      ARN: `arn:aws:kms:us-east-1:000000000000:key/${created.KeyId}`,
      type: 'AWS::KMS::Key',
      accountId: '000000000000',
    },
  ]);
  assert.equal(
    (schedule.responseElements?.keyMetadata as { keyState: string }).keyState,
    'PendingDeletion',
  );
  const rotate = only(events, 'RotateKeyOnDemand');
  assert.equal(rotate.errorCode, 'NotFoundException');
});

test('recover-administrator is recorded, refused or done, with the new key named and its secret nowhere', async (t) => {
  const dataDir = initialised(t);
  const firstKey = adminCredentials(dataDir);
  ok(dataDir, ['iam', 'create-access-key', '--user', 'admin']);
  const refused = cli(dataDir, ['iam', 'recover-administrator']);
  assert.equal(refused.status, 2, refused.stderr);
  const recovered = cli(dataDir, [
    ...['iam', 'recover-administrator'],
    ...['--replace-access-key', firstKey.accessKeyId],
  ]);
  assert.equal(recovered.status, 0, recovered.stderr);
  assert.match(recovered.stderr, /the audit trail records it as RecoverAdministrator/);
  const newKey = adminCredentials(dataDir);

  const events = named(await trail(dataDir), 'RecoverAdministrator');
  assert.equal(events.length, 2);
  const [refusal, recovery] = events as [AuditRecord, AuditRecord];
  for (const event of events) {
    assertLocalRoot(event);
    assert.equal(event.eventSource, 'iam.amazonaws.com');
    assert.equal(event.readOnly, false);
  }
  assert.equal(refusal.errorCode, 'InvalidRequestException');
  assert.match(refusal.errorMessage as string, /already has 2 access keys/);
  assert.deepEqual(refusal.requestParameters, { userName: 'admin' });
  assert.equal(recovery.errorCode, undefined);
  assert.deepEqual(recovery.requestParameters, {
    userName: 'admin',
    replaceAccessKeyId: firstKey.accessKeyId,
  });
  assert.equal(recovery.responseElements?.accessKeyId, newKey.accessKeyId);
  assert.equal(recovery.responseElements?.deletedAccessKeyId, firstKey.accessKeyId);
  assert.ok(!JSON.stringify(events).includes(newKey.secretAccessKey), 'no secret in the trail');
});

function quietLogger(): Logger {
  const logger = {
    warn: () => undefined,
    error: () => undefined,
    info: () => undefined,
    child: () => logger,
  };
  return logger as unknown as Logger;
}

test('a recovery or a new access key whose event cannot be written does not complete: it is undone, and no secret is written', async (t) => {
  const dataDir = initialised(t);
  const credentialsFile = join(dataDir, 'admin-credentials.json');
  const credentialsBefore = readFileSync(credentialsFile, 'utf8');
  ok(dataDir, [
    'iam',
    'delete-user-policy',
    '--user',
    'admin',
    '--policy-name',
    'AdministratorAccess',
  ]);

  await withOpen(dataDir, async (opened, config) => {
    const services = createIamQueryServices(opened.store, config.accountId);
    const keysBefore = await services.users.listAccessKeys(ADMIN_USER_NAME);
    // A trail that can no longer write: every event is refused.
    const audit = await CliAudit.open(opened, config);
    await audit.close();

    await assert.rejects(
      recoverAdministrator(
        {
          users: services.users,
          inlinePolicies: services.inlinePolicies,
          authorizer: new IamAuthorizer(services, config.region),
        },
        dataDir,
        {},
        {
          sink: audit.sink,
          userIdentity: cliUserIdentity(config.accountId),
          additionalEventData: operatorFacts(),
          logger: quietLogger(),
        },
      ),
      /could not be recorded in the audit trail .*so it was undone; no new key was written/,
    );
    assert.deepEqual(
      (await services.users.listAccessKeys(ADMIN_USER_NAME)).map((k) => k.accessKeyId),
      keysBefore.map((k) => k.accessKeyId),
      'the new key was deleted again',
    );
    assert.deepEqual(
      (await services.inlinePolicies.all({ type: 'user', name: ADMIN_USER_NAME })).map(
        (policy) => policy.policyName,
      ),
      [],
      `${ADMINISTRATOR_POLICY_NAME} is not left restored`,
    );
    assert.equal(readFileSync(credentialsFile, 'utf8'), credentialsBefore, 'no secret written');

    await assert.rejects(
      audit.run(
        {
          eventSource: 'iam.amazonaws.com',
          eventName: 'CreateAccessKey',
          readOnly: false,
          requestParameters: { userName: ADMIN_USER_NAME },
        },
        () => services.users.createAccessKey(ADMIN_USER_NAME),
        { undo: (created) => services.users.deleteAccessKey(ADMIN_USER_NAME, created.accessKeyId) },
      ),
      /CreateAccessKey was undone: the audit trail could not record it/,
    );
    assert.equal((await services.users.listAccessKeys(ADMIN_USER_NAME)).length, keysBefore.length);
  });
  assert.equal(named(await trail(dataDir), 'RecoverAdministrator').length, 0);
});
