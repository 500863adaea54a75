import type { Command } from 'commander';
import type { OpenDataDir } from '../app/data-dir.js';
import type { AuditResource } from '../audit/record.js';
import type { Config } from '../config/index.js';
import type { KeyMetadata } from '../kms/index.js';
import { rewrapAll } from '../store/index.js';
import { withCliAudit, type CliAudit, type CliCall } from './cli-audit.js';
import { action, invalidArgument, printJson, withDataDir, withDataDirOptions } from './common.js';

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

/** An open data dir, its configuration, and the audit trail every key operation is recorded in. */
interface KmsContext {
  dataDir: OpenDataDir;
  config: Config;
  audit: CliAudit;
}

function withKms(
  flags: { dataDir?: string; config?: string },
  work: (context: KmsContext) => Promise<void>,
): Promise<void> {
  return withDataDir(flags, (dataDir, config) =>
    withCliAudit(dataDir, config, (audit) => work({ dataDir, config, audit })),
  );
}

/** A key's ARN in the audit trail, as AWS KMS names it. */
function keyResource(config: Config, keyId: string): AuditResource {
  return {
    ARN: `arn:aws:kms:${config.region}:${config.accountId}:key/${keyId}`,
    type: 'AWS::KMS::Key',
    accountId: config.accountId,
  };
}

/** CloudTrail's responseElements of a key operation: the key's metadata, camelCase. */
function keyResponse(key: KeyMetadata): Record<string, unknown> {
  const { KeyMetadata: metadata } = keyMetadataJson(key);
  return {
    keyMetadata: Object.fromEntries(
      Object.entries(metadata).map(([name, value]) => [
        name.charAt(0).toLowerCase() + name.slice(1),
        value,
      ]),
    ),
  };
}

/** Runs and records one operation on one key (AWS KMS's action name for it). */
function recordedKeyCall(
  { config, audit }: KmsContext,
  eventName: string,
  keyId: string,
  work: () => Promise<KeyMetadata>,
  extra: { readOnly?: boolean; requestParameters?: Record<string, unknown> } = {},
): Promise<KeyMetadata> {
  const call: CliCall = {
    eventSource: 'kms.amazonaws.com',
    eventName,
    readOnly: extra.readOnly ?? false,
    requestParameters: { keyId, ...extra.requestParameters },
    resources: [keyResource(config, keyId)],
  };
  return audit.run(call, work, { response: keyResponse });
}

function keyCommand(
  kms: Command,
  name: string,
  eventName: string,
  description: string,
  run: (dataDir: OpenDataDir, keyId: string) => Promise<KeyMetadata>,
): void {
  withDataDirOptions(kms.command(name))
    .description(description)
    .requiredOption('--key-id <id>', 'the key')
    .action(
      action(async (flags) =>
        withKms(flags, async (context) =>
          printJson(
            keyMetadataJson(
              await recordedKeyCall(
                context,
                eventName,
                flags.keyId,
                () => run(context.dataDir, flags.keyId),
                { readOnly: eventName === 'DescribeKey' },
              ),
            ),
          ),
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
        withKms(flags, async ({ dataDir, audit }) => {
          const description = flags.description as string;
          const key = await audit.run(
            {
              eventSource: 'kms.amazonaws.com',
              eventName: 'CreateKey',
              readOnly: false,
              requestParameters: { description },
            },
            () => dataDir.kms.createKey(description),
            { response: keyResponse },
          );
          printJson(keyMetadataJson(key));
        }),
      ),
    );

  keyCommand(kms, 'describe-key', 'DescribeKey', 'show a key and its state', ({ kms }, keyId) =>
    kms.describeKey(keyId),
  );
  keyCommand(kms, 'enable-key', 'EnableKey', 'enable a disabled key', ({ kms }, keyId) =>
    kms.enableKey(keyId),
  );
  keyCommand(
    kms,
    'disable-key',
    'DisableKey',
    'disable a key: its data becomes unreadable until it is enabled',
    ({ kms }, keyId) => kms.disableKey(keyId),
  );
  keyCommand(
    kms,
    'rotate-key',
    'RotateKeyOnDemand',
    'add a new key version; new writes use it, old versions still open old data',
    ({ kms }, keyId) => kms.rotateKey(keyId),
  );
  keyCommand(
    kms,
    'cancel-key-deletion',
    'CancelKeyDeletion',
    'cancel a scheduled deletion (the key becomes Disabled)',
    ({ kms }, keyId) => kms.cancelKeyDeletion(keyId),
  );
  // Bulwark's own: AWS KMS has no default key (AWS IoT's UpdateEncryptionConfiguration is closest).
  keyCommand(
    kms,
    'set-default-key',
    'SetDefaultKey',
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
        await withKms(flags, async (context) =>
          printJson(
            keyMetadataJson(
              await recordedKeyCall(
                context,
                'ScheduleKeyDeletion',
                flags.keyId,
                () => context.dataDir.kms.scheduleKeyDeletion(flags.keyId, days),
                { requestParameters: { pendingWindowInDays: days } },
              ),
            ),
          ),
        );
      }),
    );

  withDataDirOptions(kms.command('list-keys'))
    .description('list every key with its state')
    .action(
      action(async (flags) =>
        withKms(flags, async ({ dataDir, audit }) => {
          const keys = await audit.run(
            { eventSource: 'kms.amazonaws.com', eventName: 'ListKeys', readOnly: true },
            () => dataDir.kms.listKeys(),
          );
          printJson({ Keys: keys.map((key) => keyMetadataJson(key).KeyMetadata) });
        }),
      ),
    );

  withDataDirOptions(kms.command('erase-scope'))
    .description(
      "crypto-erase: destroy a scope's own key (e.g. thing/NAME), making all its stored data unreadable",
    )
    .requiredOption('--scope <scope>', 'the scope, e.g. thing/sensor-1')
    .action(
      action(async (flags) =>
        withKms(flags, async ({ dataDir, config, audit }) => {
          const scope = flags.scope as string;
          // Bulwark's own action (AWS KMS has no crypto-erase of a scope); the receipt is the response.
          const receipt = await audit.run(
            {
              eventSource: 'kms.amazonaws.com',
              eventName: 'EraseScope',
              readOnly: false,
              requestParameters: { scope },
              resources: [keyResource(config, `scope/${scope}`)],
            },
            async () => {
              // Erasing the trail's keys would erase the record of what was done; events leave
              // the trail only by retention, which keeps it verifiable.
              if (scope.startsWith('audit/'))
                throw invalidArgument(
                  `scope ${scope} holds the audit trail and cannot be erased; events leave it only by retention (audit.retentionDays)`,
                );
              return dataDir.kms.eraseScope(scope);
            },
            { response: (erased) => ({ erasureReceipt: { ...erased } }) },
          );
          printJson({ ErasureReceipt: receipt });
        }),
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
        await withKms(flags, async ({ dataDir, audit }) => {
          // AWS KMS's ReEncrypt, for every stored value at once.
          const report = await audit.run(
            {
              eventSource: 'kms.amazonaws.com',
              eventName: 'ReEncrypt',
              readOnly: false,
              requestParameters: { batchSize },
            },
            () =>
              rewrapAll(dataDir.store, {
                batchSize,
                onProgress: ({ done, total, table }) =>
                  process.stderr.write(
                    `rewrap: ${done.toLocaleString('en-US')} of ${total.toLocaleString('en-US')} values (${table})\n`,
                  ),
              }),
            { response: (done) => ({ ...done }) },
          );
          printJson(report);
          if (report.remaining > 0) process.exitCode = 1;
        });
      }),
    );
}
