import { controlOperation, type Operation, type OperationRequest } from '../api/operation.js';
import {
  ARN,
  bodyObject,
  checkPageSize,
  constraintError,
  decodeToken,
  encodeToken,
  invalid,
  NEXT_TOKEN,
  optionalBoolean,
  optionalObject,
  optionalQueryString,
  optionalString,
  queryInteger,
  queryValue,
  RESOURCE_NAME,
  checkString,
  type StringRule,
} from '../api/validation.js';
import { BulwarkError } from '../errors.js';
import type { DeviceLog } from './device-log.js';
import {
  canonicalIp,
  LOG_LEVEL_NAMES,
  LOG_TARGET_TYPES,
  type LoggingOptions,
  type LogLevelName,
  type LogTargetType,
  type NamedTargetType,
} from './levels.js';

/**
 * AWS IoT's v2 logging API (restJson1, as the botocore and AWS SDK models define it):
 * SetV2LoggingOptions, GetV2LoggingOptions, SetV2LoggingLevel, ListV2LoggingLevels and
 * DeleteV2LoggingLevel. Changes apply to connected clients at once and persist in the store.
 */

/** Levels set on targets at most (Bulwark's limit; AWS answers LimitExceededException past its own). */
export const MAX_LOG_TARGETS = 1000;
/** ListV2LoggingLevels' maxResults: 1..250 (the model's SkyfallMaxResults). */
const MAX_RESULTS = 250;
const DEFAULT_MAX_RESULTS = 50;
const LIST = 'ListV2LoggingLevels';

/** What each target type's names look like (the model leaves LogTargetName unconstrained). */
const TARGET_NAME_RULES: Record<Exclude<NamedTargetType, 'SOURCE_IP'>, StringRule> = {
  THING_GROUP: RESOURCE_NAME,
  CLIENT_ID: { min: 1, max: 128 },
  PRINCIPAL_ID: { min: 1, max: 2048 },
};
const ROLE_ARN: StringRule = { ...ARN, pattern: 'arn:aws[a-z-]*:iam::\\d{12}:role/[\\w+=,.@/-]+' };

function enumValue<T extends string>(
  value: unknown,
  field: string,
  allowed: readonly T[],
  required: boolean,
): T | undefined {
  if (value === undefined || value === null) {
    if (required) throw constraintError(field, 'Member must not be null');
    return undefined;
  }
  if (!allowed.includes(value as T))
    throw constraintError(field, `Member must satisfy enum value set: [${allowed.join(', ')}]`);
  return value as T;
}

const logLevel = (value: unknown, field: string, required: boolean) =>
  enumValue<LogLevelName>(value, field, LOG_LEVEL_NAMES, required);
const targetType = (value: unknown, field: string, required: boolean) =>
  enumValue<LogTargetType>(value, field, LOG_TARGET_TYPES, required);

/** A target's name, checked for its type; SOURCE_IP names are kept as sockets write addresses. */
function targetName(type: NamedTargetType, value: unknown, field: string): string {
  if (value === undefined || value === null || value === '')
    throw invalid(`A targetName is required for targetType ${type}.`);
  if (typeof value !== 'string') throw constraintError(field, 'Member must be a string');
  if (type !== 'SOURCE_IP') return checkString(value, field, TARGET_NAME_RULES[type]);
  const ip = canonicalIp(value);
  if (ip === undefined)
    throw invalid(`The targetName of a SOURCE_IP target must be an IPv4 or IPv6 address.`);
  return ip;
}

/** The list's order: DEFAULT first, then each type in the model's order, names sorted. */
function sortKey(type: LogTargetType, name: string): string {
  return `${LOG_TARGET_TYPES.indexOf(type)}\u0000${name}`;
}

function setOptions(log: DeviceLog, request: OperationRequest): Promise<void> {
  const body = bodyObject(request.body);
  if (body.eventConfigurations !== undefined && body.eventConfigurations !== null)
    throw invalid(
      'eventConfigurations (event-based logging) is not supported; set levels per target with SetV2LoggingLevel.',
    );
  const roleArn = optionalString(body.roleArn, 'roleArn', ROLE_ARN);
  const defaultLogLevel = logLevel(body.defaultLogLevel, 'defaultLogLevel', false);
  const disableAllLogs = optionalBoolean(body.disableAllLogs, 'disableAllLogs');
  const current = log.options;
  const options: LoggingOptions = {
    // Omitted: the role and the default level stay as they are; logging is on (the model's default).
    ...((roleArn ?? current.roleArn) !== undefined
      ? { roleArn: (roleArn ?? current.roleArn) as string }
      : {}),
    defaultLogLevel: defaultLogLevel ?? current.defaultLogLevel,
    disableAllLogs: disableAllLogs ?? false,
  };
  return log.setOptions(options);
}

async function setLevel(log: DeviceLog, request: OperationRequest): Promise<void> {
  const body = bodyObject(request.body);
  const target = optionalObject(body.logTarget, 'logTarget');
  if (!target) throw constraintError('logTarget', 'Member must not be null');
  const type = targetType(target.targetType, 'logTarget.targetType', true) as LogTargetType;
  const level = logLevel(body.logLevel, 'logLevel', true) as LogLevelName;
  // DEFAULT is every client: its level is the default level of the logging options.
  if (type === 'DEFAULT') return log.setOptions({ ...log.options, defaultLogLevel: level });
  const name = targetName(type, target.targetName, 'logTarget.targetName');
  if (!(await log.setLevel(type, name, level, MAX_LOG_TARGETS)))
    throw new BulwarkError(
      'LimitExceeded',
      `Log levels can be set on ${MAX_LOG_TARGETS} targets at most; delete one with DeleteV2LoggingLevel first.`,
    );
}

function listLevels(log: DeviceLog, request: OperationRequest) {
  const { query } = request;
  const type = targetType(queryValue(query, 'targetType'), 'targetType', false);
  const after = decodeToken(optionalQueryString(query, 'nextToken', NEXT_TOKEN), LIST);
  const maxResults = queryInteger(query, 'maxResults');
  const limit =
    maxResults === undefined
      ? DEFAULT_MAX_RESULTS
      : checkPageSize(maxResults, 'maxResults', MAX_RESULTS);
  const all = [
    { type: 'DEFAULT' as LogTargetType, name: '', level: log.options.defaultLogLevel },
    ...log.targetLevels(),
  ]
    .filter((entry) => type === undefined || entry.type === type)
    .map((entry) => ({ ...entry, key: sortKey(entry.type, entry.name) }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const rest = after === undefined ? all : all.filter((entry) => entry.key > after);
  const page = rest.slice(0, limit);
  const last = page[page.length - 1];
  return {
    body: {
      logTargetConfigurations: page.map((entry) => ({
        logTarget: {
          targetType: entry.type,
          ...(entry.type !== 'DEFAULT' ? { targetName: entry.name } : {}),
        },
        logLevel: entry.level,
      })),
      ...(rest.length > limit && last ? { nextToken: encodeToken(LIST, last.key) } : {}),
    },
  };
}

async function deleteLevel(log: DeviceLog, request: OperationRequest): Promise<void> {
  const { query } = request;
  const type = targetType(queryValue(query, 'targetType'), 'targetType', true) as LogTargetType;
  if (type === 'DEFAULT')
    throw invalid(
      'The DEFAULT log level cannot be deleted; change it with SetV2LoggingOptions or SetV2LoggingLevel.',
    );
  const raw = queryValue(query, 'targetName');
  if (raw === undefined) throw constraintError('targetName', 'Member must not be null');
  // Deleting a level that is not set succeeds, as the model has no not-found error here.
  await log.deleteLevel(type, targetName(type, raw, 'targetName'));
}

export function loggingOperations(log: DeviceLog): Operation[] {
  return [
    controlOperation({
      name: 'SetV2LoggingOptions',
      method: 'POST',
      path: '/v2LoggingOptions',
      readOnly: false,
      async handle(request) {
        await setOptions(log, request);
        return {};
      },
    }),
    controlOperation({
      name: 'GetV2LoggingOptions',
      method: 'GET',
      path: '/v2LoggingOptions',
      readOnly: true,
      async handle() {
        const { roleArn, defaultLogLevel, disableAllLogs } = log.options;
        return {
          body: { ...(roleArn !== undefined ? { roleArn } : {}), defaultLogLevel, disableAllLogs },
        };
      },
    }),
    controlOperation({
      name: 'SetV2LoggingLevel',
      method: 'POST',
      path: '/v2LoggingLevel',
      readOnly: false,
      async handle(request) {
        await setLevel(log, request);
        return {};
      },
    }),
    controlOperation({
      name: 'ListV2LoggingLevels',
      method: 'GET',
      path: '/v2LoggingLevel',
      readOnly: true,
      async handle(request) {
        return listLevels(log, request);
      },
    }),
    controlOperation({
      name: 'DeleteV2LoggingLevel',
      method: 'DELETE',
      path: '/v2LoggingLevel',
      readOnly: false,
      async handle(request) {
        await deleteLevel(log, request);
        return {};
      },
    }),
  ];
}
