import type { Command } from 'commander';
import { openDataDir } from '../app/data-dir.js';
import { IamUsers, type AccessKeyMetadata } from '../iam/index.js';
import { action, configFrom, printJson, withDataDirOptions } from './common.js';

async function withUsers(
  flags: { dataDir?: string; config?: string },
  work: (users: IamUsers) => Promise<void>,
): Promise<void> {
  const dataDir = await openDataDir(configFrom(flags), process.env, { create: false });
  try {
    await work(new IamUsers(dataDir.store));
  } finally {
    await dataDir.close();
  }
}

/** IAM's ListAccessKeys member shape. */
function metadataJson(key: AccessKeyMetadata) {
  return {
    UserName: key.userName,
    AccessKeyId: key.accessKeyId,
    Status: key.status,
    CreateDate: key.createDate.toISOString(),
  };
}

export function registerIam(program: Command): void {
  const iam = program
    .command('iam')
    .description('IAM users and their access keys (SigV4 credentials for the AWS API)');

  withDataDirOptions(iam.command('create-access-key'))
    .description('create an access key for a user (at most 2 each); the secret is shown only now')
    .requiredOption('--user <name>', 'the IAM user, e.g. admin')
    .option('--json', 'print {"AccessKeyId":…,"SecretAccessKey":…} on one line')
    .action(
      action(async (flags) =>
        withUsers(flags, async (users) => {
          const key = await users.createAccessKey(flags.user);
          if (flags.json)
            process.stdout.write(
              JSON.stringify({
                AccessKeyId: key.accessKeyId,
                SecretAccessKey: key.secretAccessKey,
              }) + '\n',
            );
          else
            process.stdout.write(
              `AccessKeyId     ${key.accessKeyId}\nSecretAccessKey ${key.secretAccessKey}\n`,
            );
        }),
      ),
    );

  withDataDirOptions(iam.command('list-access-keys'))
    .description("list a user's access keys (never their secrets)")
    .requiredOption('--user <name>', 'the IAM user')
    .action(
      action(async (flags) =>
        withUsers(flags, async (users) =>
          printJson({
            AccessKeyMetadata: (await users.listAccessKeys(flags.user)).map(metadataJson),
          }),
        ),
      ),
    );

  withDataDirOptions(iam.command('delete-access-key'))
    .description('delete an access key; requests signed with it fail from then on')
    .requiredOption('--user <name>', 'the IAM user')
    .requiredOption('--access-key-id <id>', 'the key, AKIA…')
    .action(
      action(async (flags) =>
        withUsers(flags, (users) => users.deleteAccessKey(flags.user, flags.accessKeyId)),
      ),
    );
}
