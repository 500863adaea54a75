import type { Command } from 'commander';
import {
  LOOKUP_ATTRIBUTE_COLUMNS,
  lookupEvents,
  type AuditRecord,
  type LookupAttributeKey,
  type LookupQuery,
} from '../audit/index.js';
import type { StoreReader } from '../store/index.js';
import { withCliAudit, type CliCall } from './cli-audit.js';
import {
  action,
  collect,
  invalidArgument,
  printJson,
  timeFlag,
  withDataDir,
  withDataDirOptions,
} from './common.js';

/** Events read per store query while collecting `--max-results`. */
const PAGE = 500;
const DEFAULT_MAX_RESULTS = 50;
const ATTRIBUTE_KEYS = Object.keys(LOOKUP_ATTRIBUTE_COLUMNS) as LookupAttributeKey[];

/** `Key=Value`, the key one of CloudTrail's lookup attributes; the value may hold `=`. */
export function lookupAttributeOf(text: string): { key: LookupAttributeKey; value: string } {
  const equals = text.indexOf('=');
  const key = equals < 0 ? text : text.slice(0, equals);
  const value = equals < 0 ? '' : text.slice(equals + 1);
  if (!ATTRIBUTE_KEYS.includes(key as LookupAttributeKey))
    throw invalidArgument(
      `--lookup-attribute ${JSON.stringify(text.slice(0, 200))}: the key must be one of ${ATTRIBUTE_KEYS.join(', ')} (Key=Value)`,
    );
  if (value === '')
    throw invalidArgument(
      `--lookup-attribute ${JSON.stringify(text.slice(0, 200))}: give a value (Key=Value)`,
    );
  if (key === 'ReadOnly' && !['true', 'false'].includes(value.toLowerCase()))
    throw invalidArgument(`--lookup-attribute ${key}=…: the value must be true or false`);
  return { key: key as LookupAttributeKey, value };
}

/** A time flag as epoch ms at the start of its second (records' eventTime is to the second). */
export function lookupTimeOf(flag: string, value: string | undefined): number | undefined {
  const ms = timeFlag(flag, value);
  return ms === undefined ? undefined : Math.floor(ms / 1000) * 1000;
}

function maxResultsOf(value: string | undefined): number {
  if (value === undefined) return DEFAULT_MAX_RESULTS;
  if (!/^\d{1,9}$/.test(value) || Number(value) < 1)
    throw invalidArgument(
      `--max-results ${JSON.stringify(value.slice(0, 100))}: give a whole number from 1`,
    );
  return Number(value);
}

/** Up to `maxResults` events matching `query`, newest first, read a page at a time. */
async function lookUpTo(
  store: StoreReader,
  query: Omit<LookupQuery, 'maxResults' | 'after'>,
  maxResults: number,
): Promise<AuditRecord[]> {
  const records: AuditRecord[] = [];
  let after: LookupQuery['after'];
  do {
    const page = await lookupEvents(store, {
      ...query,
      maxResults: Math.min(PAGE, maxResults - records.length),
      ...(after ? { after } : {}),
    });
    records.push(...page.records);
    after = page.next;
  } while (after && records.length < maxResults);
  return records;
}

/** One line an operator reads: when, what, who, from where, and how it ended. */
function summaryLine(record: AuditRecord): string {
  const who =
    record.userIdentity.userName ??
    record.userIdentity.principalId ??
    record.userIdentity.accessKeyId ??
    record.userIdentity.type;
  const outcome = record.errorCode ?? record.errorMessage ?? 'ok';
  return [
    record.eventTime,
    record.eventSource,
    record.eventName,
    who,
    record.sourceIPAddress,
    outcome,
    record.eventID,
  ].join('  ');
}

/**
 * `bulwark audit lookup`: the trail's events newest first, found as CloudTrail's LookupEvents
 * finds them, with any number of lookup attributes (all must match) and a time range. Prints
 * one line per event, or with `--json` the CloudTrail records (`{"Records": […]}`). Safe while
 * the server runs. Reading the trail is itself recorded, as CloudTrail records LookupEvents: as
 * the account's root through the CLI, after the lookup, so later lookups find it.
 */
export function registerAuditLookup(audit: Command): Command {
  return withDataDirOptions(audit.command('lookup'))
    .description(
      'look up audit events, newest first, by CloudTrail lookup attributes (all must match) and time',
    )
    .option(
      '--lookup-attribute <Key=Value>',
      `an attribute the events must have (repeatable): ${ATTRIBUTE_KEYS.join(', ')}`,
      collect,
      [],
    )
    .option('--start-time <time>', 'events at or after this time (ISO 8601 or epoch seconds)')
    .option('--end-time <time>', 'events at or before this time (ISO 8601 or epoch seconds)')
    .option('--max-results <n>', `print at most this many events (default ${DEFAULT_MAX_RESULTS})`)
    .option('--json', 'print the CloudTrail records as JSON: {"Records": [...]}')
    .action(
      action(async (flags) => {
        const attributes = (flags.lookupAttribute as string[]).map(lookupAttributeOf);
        const startTime = lookupTimeOf('--start-time', flags.startTime);
        const end = lookupTimeOf('--end-time', flags.endTime);
        // The end second is included whole, as the records' eventTime is to the second.
        const endTime = end === undefined ? undefined : end + 999;
        if (startTime !== undefined && endTime !== undefined && startTime > endTime)
          throw invalidArgument('--start-time must be at or before --end-time');
        const maxResults = maxResultsOf(flags.maxResults);
        const query = {
          attributes,
          ...(startTime !== undefined ? { startTime } : {}),
          ...(endTime !== undefined ? { endTime } : {}),
        };
        const call: CliCall = {
          eventSource: 'cloudtrail.amazonaws.com',
          eventName: 'LookupEvents',
          readOnly: true,
          requestParameters: {
            lookupAttributes: attributes.map(({ key, value }) => ({
              attributeKey: key,
              attributeValue: value,
            })),
            ...(flags.startTime !== undefined ? { startTime: flags.startTime } : {}),
            ...(flags.endTime !== undefined ? { endTime: flags.endTime } : {}),
            maxResults,
          },
        };
        const records = await withDataDir(flags, (dataDir, config) =>
          withCliAudit(dataDir, config, (audit) =>
            audit.run(call, () => lookUpTo(dataDir.store, query, maxResults)),
          ),
        );
        if (flags.json) printJson({ Records: records });
        else if (records.length > 0)
          process.stdout.write(records.map(summaryLine).join('\n') + '\n');
      }),
    );
}
