import { epochSeconds, type Operation } from '../api/operation.js';
import { BulwarkError, isBulwarkError } from '../errors.js';
import type { Logger } from '../logs/logger.js';
import { rewrapAll, type Migration, type SealedStore } from '../store/index.js';
import { SERVICE_KEY_ID } from './key-store.js';
import type { Kms } from './kms.js';

/**
 * AWS IoT Core's account encryption configuration (Describe/UpdateEncryptionConfiguration) on
 * Bulwark's own KMS. `AWS_OWNED_KMS_KEY` is the service key made at init;
 * `CUSTOMER_MANAGED_KMS_KEY` names a customer-managed key of Bulwark's KMS by ARN. Switching makes
 * that key the default key (as `bulwark kms set-default-key` does) and moves the stored data onto
 * it in the background; the description shows the move's progress and any data that cannot move.
 */

export const ENCRYPTION_CONFIGURATION_TABLE = 'kms_encryption_configuration';
const ACCOUNT_ROW = { id: 'account' };

export const encryptionConfigurationMigrations: Migration[] = [
  {
    id: 'kms-0001-encryption-configuration',
    steps: [
      {
        createTable: {
          name: ENCRYPTION_CONFIGURATION_TABLE,
          columns: {
            id: { type: 'text' },
            kms_access_role_arn: { type: 'text', nullable: true },
            last_modified: { type: 'integer' },
            // Set when a switch starts moving data and cleared when all of it has moved, so a
            // move cut short by a restart resumes at the next start.
            move_pending: { type: 'boolean' },
          },
          primaryKey: ['id'],
          sealed: [],
        },
      },
    ],
  },
];

export const ENCRYPTION_TYPES = ['AWS_OWNED_KMS_KEY', 'CUSTOMER_MANAGED_KMS_KEY'] as const;
export type EncryptionType = (typeof ENCRYPTION_TYPES)[number];
const MAX_ARN_LENGTH = 2048;

/** Stored values sealed under a key that is not usable, so they cannot move to the configured key. */
interface StrandedValues {
  keyId: string;
  keyState: string;
  values: number;
}

/** Bulwark's addition to the description: the background move onto the configured key. */
export interface DataMoveProgress {
  status: 'IN_PROGRESS' | 'COMPLETE' | 'FAILED';
  /** Values to move when the move started, and how many have moved so far. */
  valuesToMove: number;
  valuesMoved: number;
  /** Values still not under the configured key when the move ended (see configurationDetails). */
  valuesRemaining?: number;
  startedDate: number;
  completedDate?: number;
}

export interface UpdateEncryptionConfigurationInput {
  encryptionType?: unknown;
  kmsKeyArn?: unknown;
  kmsAccessRoleArn?: unknown;
}

/** Thrown from the progress callback to stop a move when the server closes. */
class MoveStopped extends Error {}

export class EncryptionConfiguration {
  private progress: DataMoveProgress | undefined;
  private stranded: StrandedValues[] = [];
  private failure: string | undefined;
  private moves: Promise<void> = Promise.resolve();
  private closing = false;

  constructor(
    private readonly kms: Kms,
    private readonly store: SealedStore,
    private readonly account: { region: string; accountId: string },
    private readonly logger: Logger,
  ) {}

  /** `arn:aws:kms:{region}:{accountId}:key/{keyId}`. */
  keyArn(keyId: string): string {
    return `arn:aws:kms:${this.account.region}:${this.account.accountId}:key/${keyId}`;
  }

  async describe(): Promise<Record<string, unknown>> {
    const key = await this.kms.describeKey(this.kms.getDefaultKeyId());
    const customer = key.kind === 'customer';
    const row = await this.store.get(ENCRYPTION_CONFIGURATION_TABLE, ACCOUNT_ROW);
    const roleArn = row?.kms_access_role_arn as string | null | undefined;
    return {
      encryptionType: customer ? 'CUSTOMER_MANAGED_KMS_KEY' : 'AWS_OWNED_KMS_KEY',
      ...(customer ? { kmsKeyArn: this.keyArn(key.keyId) } : {}),
      ...(customer && roleArn ? { kmsAccessRoleArn: roleArn } : {}),
      configurationDetails: this.health(key.keyId, key.keyState),
      ...(row ? { lastModifiedDate: epochSeconds(row.last_modified as number) } : {}),
      ...(this.progress ? { dataMove: this.progress } : {}),
    };
  }

  /** AWS's HEALTHY/UNHEALTHY, with the reason when the key or the data under old keys is not usable. */
  private health(keyId: string, keyState: string) {
    const unhealthy = (errorMessage: string) => ({
      configurationStatus: 'UNHEALTHY',
      errorCode: 'KMS_KEY_VALIDATION_ERROR',
      errorMessage,
    });
    if (keyState !== 'Enabled')
      return unhealthy(`The KMS key ${this.keyArn(keyId)} is ${keyState}: nothing can be stored.`);
    if (this.failure !== undefined)
      return unhealthy(`Moving stored data onto the KMS key failed: ${this.failure}`);
    if (this.stranded.length > 0)
      return unhealthy(
        this.stranded
          .map(
            (stranded) =>
              `${stranded.values} stored values are sealed under the KMS key ${this.keyArn(stranded.keyId)}, which is ${stranded.keyState}; they cannot be read or moved onto ${this.keyArn(keyId)}: enable that key, then update the encryption configuration again.`,
          )
          .join(' '),
      );
    return { configurationStatus: 'HEALTHY' };
  }

  async update(input: UpdateEncryptionConfigurationInput): Promise<void> {
    const { encryptionType, kmsKeyArn, kmsAccessRoleArn } = input;
    if (!ENCRYPTION_TYPES.includes(encryptionType as EncryptionType))
      throw new BulwarkError(
        'InvalidRequest',
        `encryptionType must be one of ${ENCRYPTION_TYPES.join(', ')}; got ${JSON.stringify(encryptionType ?? null)}.`,
      );
    for (const [field, value] of Object.entries({ kmsKeyArn, kmsAccessRoleArn }))
      if (value !== undefined && (typeof value !== 'string' || value.length > MAX_ARN_LENGTH))
        throw new BulwarkError(
          'InvalidRequest',
          `${field} must be a string of at most ${MAX_ARN_LENGTH} characters.`,
        );
    let keyId = SERVICE_KEY_ID;
    if (encryptionType === 'CUSTOMER_MANAGED_KMS_KEY') {
      if (kmsKeyArn === undefined)
        throw new BulwarkError(
          'InvalidRequest',
          'kmsKeyArn is required when encryptionType is CUSTOMER_MANAGED_KMS_KEY.',
        );
      keyId = await this.customerKeyId(kmsKeyArn as string);
    } else if (kmsKeyArn !== undefined) {
      throw new BulwarkError(
        'InvalidRequest',
        'kmsKeyArn may only be given when encryptionType is CUSTOMER_MANAGED_KMS_KEY.',
      );
    }
    await this.kms.setDefaultKey(keyId);
    await this.store.put(ENCRYPTION_CONFIGURATION_TABLE, {
      ...ACCOUNT_ROW,
      kms_access_role_arn:
        encryptionType === 'CUSTOMER_MANAGED_KMS_KEY'
          ? ((kmsAccessRoleArn as string) ?? null)
          : null,
      last_modified: Date.now(),
      move_pending: true,
    });
    this.startMove();
  }

  /** The id of the Enabled customer-managed key `arn` names, or the InvalidRequest saying why not. */
  private async customerKeyId(arn: string): Promise<string> {
    const prefix = this.keyArn('');
    if (!arn.startsWith(prefix) || arn.length === prefix.length)
      throw new BulwarkError(
        'InvalidRequest',
        `kmsKeyArn must name a key of this server's KMS: ${prefix}{keyId}; got ${JSON.stringify(arn.slice(0, 200))}.`,
      );
    const keyId = arn.slice(prefix.length);
    let key;
    try {
      key = await this.kms.describeKey(keyId);
    } catch (error) {
      if (isBulwarkError(error, 'KeyNotFound'))
        throw new BulwarkError('InvalidRequest', `The KMS key ${arn} does not exist.`);
      throw error;
    }
    if (key.kind !== 'customer')
      throw new BulwarkError(
        'InvalidRequest',
        `The KMS key ${arn} is not a customer managed key; create one with bulwark kms create-key.`,
      );
    if (key.keyState !== 'Enabled')
      throw new BulwarkError('InvalidRequest', `The KMS key ${arn} is ${key.keyState}.`, {
        keyState: key.keyState,
      });
    return keyId;
  }

  /** Resumes, in the background, a move that a restart cut short. */
  async resumePendingMove(): Promise<void> {
    const row = await this.store.get(ENCRYPTION_CONFIGURATION_TABLE, ACCOUNT_ROW);
    if (row?.move_pending) this.startMove();
  }

  /** Moves run one after another; each moves everything not yet under the current default key. */
  private startMove(): void {
    this.moves = this.moves.then(() => this.move());
  }

  private async move(): Promise<void> {
    if (this.closing) return;
    const progress: DataMoveProgress = {
      status: 'IN_PROGRESS',
      valuesToMove: 0,
      valuesMoved: 0,
      startedDate: epochSeconds(Date.now()),
    };
    this.progress = progress;
    this.failure = undefined;
    try {
      const report = await rewrapAll(this.store, {
        onProgress: ({ done, total }) => {
          if (this.closing) throw new MoveStopped();
          progress.valuesMoved = done;
          progress.valuesToMove = total;
        },
      });
      this.stranded = await this.strandedValues();
      progress.valuesMoved = report.rewrapped + report.replacedMeanwhile;
      progress.valuesRemaining =
        report.remaining + this.stranded.reduce((sum, stranded) => sum + stranded.values, 0);
      progress.status = 'COMPLETE';
      progress.completedDate = epochSeconds(Date.now());
      if (progress.valuesRemaining === 0) {
        const row = await this.store.get(ENCRYPTION_CONFIGURATION_TABLE, ACCOUNT_ROW);
        if (row)
          await this.store.put(ENCRYPTION_CONFIGURATION_TABLE, { ...row, move_pending: false });
      }
      this.logger.info({ dataMove: progress }, 'encryption configuration: stored data moved');
    } catch (error) {
      if (error instanceof MoveStopped) return;
      progress.status = 'FAILED';
      this.failure = isBulwarkError(error) ? error.message : 'an internal error occurred';
      this.logger.error({ err: error }, 'encryption configuration: moving stored data failed');
    }
  }

  /** Values under keys other than the default key and scope keys, whose key cannot be used. */
  private async strandedValues(): Promise<StrandedValues[]> {
    const defaultKeyId = this.kms.getDefaultKeyId();
    const byKey = new Map<string, StrandedValues>();
    for (const def of this.store.tableDefs()) {
      if (def.sealed.length === 0) continue;
      for (let after: Record<string, unknown> | undefined, done = false; !done;) {
        const batch = await this.store.scanSealed(def.name, after, 500);
        for (const row of batch)
          for (const sealed of Object.values(row.sealed)) {
            const { keyId, keyState } = this.kms.describeSealed(sealed);
            if (keyId === defaultKeyId || keyId.startsWith('scope/') || keyState === 'Enabled')
              continue;
            const entry = byKey.get(keyId) ?? { keyId, keyState, values: 0 };
            entry.values += 1;
            byKey.set(keyId, entry);
          }
        done = batch.length < 500;
        after = batch[batch.length - 1]?.key;
      }
    }
    return [...byKey.values()];
  }

  /** Stops a running move after its current batch (it resumes at the next start). */
  async close(): Promise<void> {
    this.closing = true;
    await this.moves;
  }
}

/** DescribeEncryptionConfiguration and UpdateEncryptionConfiguration, as AWS IoT Core serves them. */
export function encryptionConfigurationOperations(
  configuration: EncryptionConfiguration,
): Operation[] {
  return [
    {
      name: 'DescribeEncryptionConfiguration',
      action: 'iot:DescribeEncryptionConfiguration',
      method: 'GET',
      path: '/encryption-configuration',
      plane: 'control',
      readOnly: true,
      async handle() {
        return { body: await configuration.describe() };
      },
    },
    {
      name: 'UpdateEncryptionConfiguration',
      action: 'iot:UpdateEncryptionConfiguration',
      method: 'PATCH',
      path: '/encryption-configuration',
      plane: 'control',
      readOnly: false,
      async handle({ body }) {
        await configuration.update(body as UpdateEncryptionConfigurationInput);
        return {};
      },
    },
  ];
}
