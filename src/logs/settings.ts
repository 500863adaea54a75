import type { Migration, Store } from '../store/index.js';
import {
  emptyTargetLevels,
  LOG_LEVEL_NAMES,
  type LoggingOptions,
  type LogLevelName,
  type NamedTargetType,
  type TargetLevels,
} from './levels.js';

/**
 * Where the v2 logging settings live: one row of account options (SetV2LoggingOptions) and one
 * row per log target (SetV2LoggingLevel). Names, levels and the role ARN are plaintext: targets
 * are looked up by name, and none of them is a secret.
 */

export const LOGGING_OPTIONS_TABLE = 'logs_v2_options';
export const LOGGING_LEVELS_TABLE = 'logs_v2_levels';
const ACCOUNT_ROW = { id: 'account' };

export const loggingMigrations: Migration[] = [
  {
    id: 'logs-0001-v2-logging',
    steps: [
      {
        createTable: {
          name: LOGGING_OPTIONS_TABLE,
          columns: {
            id: { type: 'text' },
            role_arn: { type: 'text', nullable: true },
            default_log_level: { type: 'text' },
            disable_all_logs: { type: 'boolean' },
            last_modified: { type: 'integer' },
          },
          primaryKey: ['id'],
          sealed: [],
        },
      },
      {
        createTable: {
          name: LOGGING_LEVELS_TABLE,
          columns: {
            target_type: { type: 'text' },
            target_name: { type: 'text' },
            log_level: { type: 'text' },
            last_modified: { type: 'integer' },
          },
          primaryKey: ['target_type', 'target_name'],
          sealed: [],
        },
      },
    ],
  },
];

/** What the store holds; `options` is undefined until SetV2LoggingOptions (or a DEFAULT level) was set. */
export interface StoredSettings {
  options: LoggingOptions | undefined;
  levels: TargetLevels;
}

function levelName(value: unknown): LogLevelName | undefined {
  return LOG_LEVEL_NAMES.includes(value as LogLevelName) ? (value as LogLevelName) : undefined;
}

export async function loadSettings(store: Store): Promise<StoredSettings> {
  const row = await store.get(LOGGING_OPTIONS_TABLE, ACCOUNT_ROW);
  const defaultLogLevel = levelName(row?.default_log_level);
  const options: LoggingOptions | undefined =
    row && defaultLogLevel
      ? {
          ...(typeof row.role_arn === 'string' ? { roleArn: row.role_arn } : {}),
          defaultLogLevel,
          disableAllLogs: row.disable_all_logs === true,
        }
      : undefined;
  const levels = emptyTargetLevels();
  for (const level of await store.list(LOGGING_LEVELS_TABLE)) {
    const type = level.target_type as NamedTargetType;
    const name = levelName(level.log_level);
    if (name && type in levels) levels[type].set(level.target_name as string, name);
  }
  return { options, levels };
}

export async function saveOptions(store: Store, options: LoggingOptions): Promise<void> {
  await store.put(LOGGING_OPTIONS_TABLE, {
    ...ACCOUNT_ROW,
    role_arn: options.roleArn ?? null,
    default_log_level: options.defaultLogLevel,
    disable_all_logs: options.disableAllLogs,
    last_modified: Date.now(),
  });
}

/**
 * Sets one target's level; false (and nothing written) when it is a new target and `maxTargets`
 * are already set.
 */
export async function saveLevel(
  store: Store,
  type: NamedTargetType,
  name: string,
  level: LogLevelName,
  maxTargets: number,
): Promise<boolean> {
  return store.transaction(async (tx) => {
    const key = { target_type: type, target_name: name };
    if (
      !(await tx.get(LOGGING_LEVELS_TABLE, key)) &&
      (await tx.count(LOGGING_LEVELS_TABLE)) >= maxTargets
    )
      return false;
    await tx.put(LOGGING_LEVELS_TABLE, { ...key, log_level: level, last_modified: Date.now() });
    return true;
  });
}

export async function deleteLevel(
  store: Store,
  type: NamedTargetType,
  name: string,
): Promise<boolean> {
  return store.delete(LOGGING_LEVELS_TABLE, { target_type: type, target_name: name });
}
