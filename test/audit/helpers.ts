import { pino } from 'pino';
import { openDataDir, type OpenDataDir } from '../../src/app/data-dir.js';
import { AuditTrail } from '../../src/audit/index.js';
import { eventRow } from '../../src/audit/trail.js';
import { chainHashOf, GENESIS_HASH } from '../../src/audit/chain.js';
import { EVENTS_TABLE, HEADS_TABLE } from '../../src/audit/migrations.js';
import type { AuditEvent, AuditRecord } from '../../src/audit/record.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { runCli, type CliResult } from '../helpers/cli.js';

export const ACCOUNT = { region: 'us-east-1', accountId: '123456789012' };
export const silent = pino({ level: 'silent' });

export function configFor(dataDir: string): Config {
  return loadConfig({ env: {}, flags: { dataDir } });
}

export function openDir(dataDir: string, create = false): Promise<OpenDataDir> {
  return openDataDir(configFor(dataDir), {}, { create });
}

/** An API call as the edge records it, numbered so a test can find it. */
export function apiEvent(n: number): AuditEvent {
  return {
    userIdentity: {
      type: 'IAMUser',
      principalId: 'AIDAEXAMPLE',
      arn: `arn:aws:iam::${ACCOUNT.accountId}:user/alice`,
      accountId: ACCOUNT.accountId,
      accessKeyId: 'AKIAEXAMPLE',
      userName: 'alice',
    },
    eventSource: 'iot.amazonaws.com',
    eventName: n % 2 ? 'CreateThing' : 'DescribeThing',
    sourceIPAddress: '127.0.0.1',
    userAgent: 'test',
    readOnly: n % 2 === 0,
    eventType: 'AwsApiCall',
    requestParameters: { thingName: `thing-${n}` },
    resources: [
      { ARN: `arn:aws:iot:us-east-1:123456789012:thing/thing-${n}`, type: 'AWS::IoT::Thing' },
    ],
  };
}

/**
 * A data dir with `events` events on stream main, a digest after every `perDigest` of them, then
 * a shutdown digest: the trail a server leaves when it stops.
 */
export async function writeTrail(
  dataDir: string,
  events: number,
  perDigest: number,
  digestIntervalMs = 3_600_000,
): Promise<void> {
  const dir = await openDir(dataDir, true);
  try {
    const trail = await AuditTrail.open({
      store: dir.store,
      stream: 'main',
      account: ACCOUNT,
      logger: silent,
      digestIntervalMs,
    });
    for (let n = 1; n <= events; n += perDigest) {
      const batch: Promise<void>[] = [];
      for (let m = n; m < Math.min(n + perDigest, events + 1); m++)
        batch.push(trail.record(apiEvent(m)));
      await Promise.all(batch);
      await trail.writeDigest('interval');
    }
    await trail.close();
  } finally {
    await dir.close();
  }
}

/**
 * What an attacker with the data dir and its keys can do: rewrite events through the store and
 * recompute every chain hash after them, so the chain itself stays consistent.
 */
export async function rewriteEvents(
  dataDir: string,
  change: (records: AuditRecord[]) => AuditRecord[],
): Promise<void> {
  const dir = await openDir(dataDir);
  try {
    const rows = await dir.store.list(EVENTS_TABLE, { where: { stream: 'main' } });
    const records = change(rows.map((row) => row.record as AuditRecord));
    await dir.store.transaction(async (tx) => {
      await tx.deleteWhere(EVENTS_TABLE, { stream: 'main' });
      let previous = GENESIS_HASH;
      for (const record of records) {
        previous = chainHashOf(previous, record);
        const row = eventRow(record, Date.parse(record.eventTime), previous);
        await tx.insert(EVENTS_TABLE, row);
      }
      const last = records[records.length - 1];
      await tx.put(HEADS_TABLE, { stream: 'main', seq: last?.seq ?? 0, chain_hash: previous });
    });
  } finally {
    await dir.close();
  }
}

export function verify(args: string[]): CliResult & { invalid: string[] } {
  const result = runCli(['audit', 'verify', ...args]);
  return {
    ...result,
    invalid: result.stdout.split('\n').filter((line) => line.includes('INVALID:')),
  };
}
