import type { Command } from 'commander';
import { openDataDir, type OpenDataDir } from '../app/data-dir.js';
import type { KeyMetadata } from '../kms/index.js';
import { rewrapAll } from '../store/index.js';
import { action, configFrom, invalidArgument, printJson, withDataDirOptions } from './common.js';

/** AWS KMS's DescribeKey shape, with dates as ISO strings. */
function keyMetadataJson(key: KeyMetadata) {
  return {
    KeyMetadata: {
      KeyId: key.keyId,
      KeyManager: key.kind === 'customer' ? 'CUSTOMER' : key.kind === 'service' ? 'AWS' : 'SCOPE',
      Description: key.description,
      KeyState: key.keyState,
      Enabled: key.keyState === 'Enabled',
      CurrentVersion: key.currentVersion,
      CreationDate: key.creationDate.toISOString(),
      ...(key.deletionDate ? { DeletionDate: key.deletionDate.toISOString() } : {}),
      ...(key.destroyedDate ? { DestroyedDate: key.destroyedDate.toISOString() } : {}),
    },
  };
}

async function withDataDir(
  flags: { dataDir?: string; config?: string },
  work: (dataDir: OpenDataDir) => Promise<void>,
): Promise<void> {
  const dataDir = await openDataDir(configFrom(flags), process.env, { create: false });
  try {
    await work(dataDir);
  } finally {
    await dataDir.close();
  }
}

function keyCommand(
  kms: Command,
  name: string,
  description: string,
  run: (dataDir: OpenDataDir, keyId: string) => Promise<KeyMetadata>,
): void {
  withDataDirOptions(kms.command(name))
    .description(description)
    .requiredOption('--key-id <id>', 'the key')
    .action(
      action(async (flags) =>
        withDataDir(flags, async (dataDir) =>
          printJson(keyMetadataJson(await run(dataDir, flags.keyId))),
        ),
      ),
    );
}

export function registerKms(program: Command): void {
  const kms = program
    .command('kms')
    .description('keys that seal stored data: customer-managed keys, rotation, erase, rewrap');

  withDataDirOptions(kms.command('create-key'))
    .description('create a customer-managed key')
    .option('--description <text>', 'what the key is for', '')
    .action(
      action(async (flags) =>
        withDataDir(flags, async ({ kms }) =>
          printJson(keyMetadataJson(await kms.createKey(flags.description))),
        ),
      ),
    );

  keyCommand(kms, 'describe-key', 'show a key and its state', ({ kms }, keyId) =>
    kms.describeKey(keyId),
  );
  keyCommand(kms, 'enable-key', 'enable a disabled key', ({ kms }, keyId) => kms.enableKey(keyId));
  keyCommand(
    kms,
    'disable-key',
    'disable a key: its data becomes unreadable until it is enabled',
    ({ kms }, keyId) => kms.disableKey(keyId),
  );
  keyCommand(
    kms,
    'rotate-key',
    'add a new key version; new writes use it, old versions still open old data',
    ({ kms }, keyId) => kms.rotateKey(keyId),
  );
  keyCommand(
    kms,
    'cancel-key-deletion',
    'cancel a scheduled deletion (the key becomes Disabled)',
    ({ kms }, keyId) => kms.cancelKeyDeletion(keyId),
  );
  keyCommand(
    kms,
    'set-default-key',
    'seal new values (outside per-thing scopes) under this key',
    ({ kms }, keyId) => kms.setDefaultKey(keyId),
  );

  withDataDirOptions(kms.command('schedule-key-deletion'))
    .description('schedule the destruction of a key after a waiting period of 7 to 30 days')
    .requiredOption('--key-id <id>', 'the key')
    .option('--pending-window-in-days <days>', 'waiting period, 7 to 30', '30')
    .action(
      action(async (flags) => {
        const days = Number(flags.pendingWindowInDays);
        if (!Number.isInteger(days))
          throw invalidArgument(
            `--pending-window-in-days must be a whole number from 7 to 30; got ${JSON.stringify(flags.pendingWindowInDays)}`,
          );
        await withDataDir(flags, async ({ kms }) =>
          printJson(keyMetadataJson(await kms.scheduleKeyDeletion(flags.keyId, days))),
        );
      }),
    );

  withDataDirOptions(kms.command('list-keys'))
    .description('list every key with its state')
    .action(
      action(async (flags) =>
        withDataDir(flags, async ({ kms }) =>
          printJson({
            Keys: (await kms.listKeys()).map((key) => keyMetadataJson(key).KeyMetadata),
          }),
        ),
      ),
    );

  withDataDirOptions(kms.command('erase-scope'))
    .description(
      "crypto-erase: destroy a scope's own key (e.g. thing/NAME), making all its stored data unreadable",
    )
    .requiredOption('--scope <scope>', 'the scope, e.g. thing/sensor-1')
    .action(
      action(async (flags) =>
        withDataDir(flags, async ({ kms }) =>
          printJson({ ErasureReceipt: kms.eraseScope(flags.scope) }),
        ),
      ),
    );

  withDataDirOptions(kms.command('rewrap'))
    .description(
      'move every stored value to the newest version of its key, and onto the default key after set-default-key (resumable; safe while serve runs)',
    )
    .option('--batch-size <n>', 'rows read per batch', '500')
    .action(
      action(async (flags) => {
        const batchSize = Number(flags.batchSize);
        if (!Number.isInteger(batchSize) || batchSize < 1)
          throw invalidArgument(
            `--batch-size must be a positive whole number; got ${JSON.stringify(flags.batchSize)}`,
          );
        await withDataDir(flags, async ({ store }) => {
          const report = await rewrapAll(store, {
            batchSize,
            onProgress: ({ done, total, table }) =>
              process.stderr.write(
                `rewrap: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} values (${table})\n`,
              ),
          });
          printJson(report);
          if (report.remaining > 0) process.exitCode = 1;
        });
      }),
    );
}
