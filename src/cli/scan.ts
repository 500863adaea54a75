import type { Command } from 'commander';
import { once } from 'node:events';
import { IotArns } from '../api/iot-arns.js';
import type { OpenDataDir } from '../app/data-dir.js';
import type { Config } from '../config/index.js';
import { Guard } from '../guard/guard.js';
import { SEVERITIES, type Severity } from '../guard/detector.js';
import {
  findingView,
  openScanService,
  scanView,
  SOURCE_KINDS,
  type Finding,
  type FindingFilter,
  type Scan,
  type ScanService,
  type SourceKind,
} from '../guard/scan/index.js';
import { createLogger } from '../logs/logger.js';
import { withCliAudit } from './cli-audit.js';
import { action, invalidArgument, withDataDir, withDataDirOptions } from './common.js';

/**
 * `bulwark scan`: sensitive-data discovery over a data dir's stored device data (shadow states,
 * retained messages, thing attributes, queued session messages), safe while `serve` runs on it.
 * It resumes an unfinished scan whose runner is gone (a crash, kill -9), else starts one.
 * Progress goes to stderr; the summary (with --json, one JSON document: the scan and its
 * findings) to stdout. Exit 0 when the scan completed, findings or not (1 with
 * --fail-on-findings when it made any); 1 when it failed or was stopped; 2 for bad usage.
 */

/** Findings read per page while printing them. */
const FINDINGS_PAGE = 200;
/** Progress lines at most this often. */
const PROGRESS_INTERVAL_MS = 1000;

type ScanFlags = {
  dataDir?: string;
  config?: string;
  json?: boolean;
  sources?: string;
  pageSize?: string;
  failOnFindings?: boolean;
  new?: boolean;
};

function sourcesFlag(value: string | undefined): SourceKind[] {
  if (value === undefined) return [...SOURCE_KINDS];
  const kinds = value.split(',').map((kind) => kind.trim());
  for (const kind of kinds)
    if (!SOURCE_KINDS.includes(kind as SourceKind))
      throw invalidArgument(
        `--sources ${JSON.stringify(value.slice(0, 100))}: give a comma-separated list of ${SOURCE_KINDS.join(', ')}`,
      );
  return SOURCE_KINDS.filter((kind) => kinds.includes(kind));
}

function pageSizeFlag(value: string | undefined, config: Config): number {
  if (value === undefined) return config.guard.scan.pageSize;
  const size = Number(value);
  if (!Number.isInteger(size) || size < 1 || size > 10_000)
    throw invalidArgument(`--page-size ${JSON.stringify(value.slice(0, 20))}: give 1 to 10000`);
  return size;
}

function scanServiceOf(dataDir: OpenDataDir, config: Config, pageSize: number): ScanService {
  const guard = new Guard(config.guard);
  return openScanService({
    store: dataDir.store,
    arns: new IotArns(config.region, config.accountId),
    detectors: guard.detectors,
    pageSize,
    logger: createLogger('WARN', guard.redaction),
  });
}

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);

/** A progress line: counts only, never anything read. */
function progressLine(scan: Scan, scannedHere: number, elapsedMs: number): string {
  const rate = elapsedMs > 0 ? Math.round((scannedHere * 1000) / elapsedMs) : 0;
  return `scan ${scan.scanId}: ${scan.items} items, ${megabytes(scan.bytes)} MB, ${scan.findings} findings, ${rate} items/s\n`;
}

/** Writes to stdout, waiting while it is full: findings are many, memory is bounded. */
async function out(text: string): Promise<void> {
  if (!process.stdout.write(text)) await once(process.stdout, 'drain');
}

/** Every finding matching `filter`, a page at a time. */
async function* allFindings(scans: ScanService, filter: FindingFilter): AsyncIterable<Finding> {
  let after: string | undefined;
  for (;;) {
    const page = await scans.findings(filter, after, FINDINGS_PAGE);
    yield* page;
    if (page.length < FINDINGS_PAGE) return;
    after = page[page.length - 1]?.findingId;
  }
}

function findingLine(finding: Finding): string {
  const where = finding.occurrences
    .map((occurrence) =>
      'jsonPath' in occurrence ? occurrence.jsonPath : `byte ${occurrence.byteOffset}`,
    )
    .join(', ');
  const shadow = finding.shadowName !== undefined ? ` (shadow ${finding.shadowName})` : '';
  return `  ${finding.severity.padEnd(6)} ${finding.detector} ×${finding.count} in ${finding.resourceType} ${finding.resourceArn}${shadow}: ${where}${finding.archived ? ' [archived]' : ''}\n`;
}

/** The findings as a JSON array, written a page at a time (a scan may have many). */
async function writeFindingsJson(scans: ScanService, filter: FindingFilter): Promise<void> {
  let first = true;
  await out('[');
  for await (const finding of allFindings(scans, filter)) {
    await out(`${first ? '\n' : ',\n'}    ${JSON.stringify(findingView(finding))}`);
    first = false;
  }
  await out(first ? ']' : '\n  ]');
}

/** The scan to run: an unfinished one of the same sources whose runner is gone, else a new one. */
async function scanToRun(
  scans: ScanService,
  sources: SourceKind[],
  fresh: boolean,
): Promise<{ scan: Scan; resumed: boolean }> {
  if (!fresh) {
    const orphan = (await scans.orphaned())
      .filter((scan) => scan.sources.join(',') === sources.join(','))
      .sort((a, b) => b.startedAt - a.startedAt)[0];
    if (orphan) return { scan: orphan, resumed: true };
  }
  return { scan: (await scans.create('cli', sources)) as Scan, resumed: false };
}

async function runScan(flags: ScanFlags): Promise<void> {
  const sources = sourcesFlag(flags.sources);
  await withDataDir(flags, async (dataDir, config) => {
    const scans = scanServiceOf(dataDir, config, pageSizeFlag(flags.pageSize, config));
    // Recorded before it runs, as the API's StartScan is: a scan reads every stored document.
    const { scan: chosen, resumed } = await withCliAudit(dataDir, config, (audit) =>
      audit.run(
        {
          eventSource: 'bulwark.amazonaws.com',
          eventName: 'StartScan',
          readOnly: false,
          requestParameters: { sources, resume: flags.new !== true },
        },
        () => scanToRun(scans, sources, flags.new === true),
        { response: ({ scan, resumed }) => ({ scanId: scan.scanId, resumed }) },
      ),
    );
    process.stderr.write(
      `${resumed ? 'resuming' : 'starting'} scan ${chosen.scanId} of ${chosen.sources.join(', ')}\n`,
    );
    // Stopped by a signal: the page in hand is committed, the lease given up, the scan resumable.
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    const began = Date.now();
    const itemsBefore = chosen.items;
    let lastProgress = began;
    let scan: Scan;
    try {
      scan = await scans.run(chosen.scanId, {
        signal: stop.signal,
        onProgress: (progress) => {
          const now = Date.now();
          if (now - lastProgress < PROGRESS_INTERVAL_MS) return;
          lastProgress = now;
          process.stderr.write(progressLine(progress, progress.items - itemsBefore, now - began));
        },
      });
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
    const elapsedMs = Date.now() - began;
    process.stderr.write(progressLine(scan, scan.items - itemsBefore, elapsedMs));
    const filter = { scanId: scan.scanId };
    if (flags.json) {
      await out(`{\n  "scan": ${JSON.stringify(scanView(scan))},\n  "findings": `);
      await writeFindingsJson(scans, filter);
      // The peak resident memory of this process: a scan's memory does not grow with the data.
      const usage = { elapsedMs, maxRssBytes: process.resourceUsage().maxRSS * 1024 };
      await out(`,\n  "process": ${JSON.stringify(usage)}\n}\n`);
    } else {
      await out(
        `Scan ${scan.scanId}: ${scan.status}; ${scan.items} items (${megabytes(scan.bytes)} MB), ${scan.findings} findings${scan.failureReason ? `; failed: ${scan.failureReason}` : ''}\n`,
      );
      for await (const finding of allFindings(scans, filter)) await out(findingLine(finding));
      if (scan.status === 'RUNNING')
        await out('Stopped before the end: run `bulwark scan` again to resume it.\n');
    }
    process.exitCode =
      scan.status !== 'COMPLETED' || (flags.failOnFindings === true && scan.findings > 0) ? 1 : 0;
  });
}

function archivedFlag(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === 'true' || value === 'false') return value === 'true';
  throw invalidArgument(`--archived ${JSON.stringify(value.slice(0, 20))}: give true or false`);
}

function severityFlag(value: string | undefined): Severity | undefined {
  if (value === undefined) return undefined;
  if (!SEVERITIES.includes(value as Severity))
    throw invalidArgument(
      `--severity ${JSON.stringify(value.slice(0, 20))}: give one of ${SEVERITIES.join(', ')}`,
    );
  return value as Severity;
}

export function registerScan(program: Command): Command {
  const scan = withDataDirOptions(program.command('scan'))
    .description(
      'find sensitive data in stored device data (shadows, retained messages, thing attributes, queued messages); safe while serve runs; resumes an interrupted scan',
    )
    .option('--json', 'print the scan and its findings as one JSON document')
    .option('--sources <kinds>', `comma-separated: ${SOURCE_KINDS.join(', ')} (default: all)`)
    .option('--page-size <n>', 'items read per page and checkpoint (default guard.scan.pageSize)')
    .option('--new', 'start a new scan even if an interrupted one could be resumed')
    .option('--fail-on-findings', 'exit 1 when the scan made any finding (default: exit 0)')
    .action(action(async (flags: ScanFlags) => runScan(flags)));

  withDataDirOptions(scan.command('findings'))
    .description('list findings: of the newest scan, or of the one given')
    .option('--scan-id <id>', 'the scan whose findings to list')
    .option('--detector <id>', 'only this detector (e.g. EMAIL_ADDRESS)')
    .option('--severity <level>', `only this severity (${SEVERITIES.join(', ')})`)
    .option('--archived <bool>', 'only archived (true) or only unarchived (false) findings')
    .option('--json', 'print them as JSON')
    .action(
      action(async (_options: unknown, command: Command) => {
        // `scan`'s own flags (--data-dir, --json…) may be read by `scan` itself: all of them.
        const flags = command.optsWithGlobals();
        const archived = archivedFlag(flags.archived);
        const severity = severityFlag(flags.severity);
        await withDataDir(flags, async (dataDir, config) => {
          const scans = scanServiceOf(dataDir, config, config.guard.scan.pageSize);
          const scanId =
            (flags.scanId as string | undefined) ?? (await scans.list(undefined, 1))[0]?.scanId;
          if (scanId === undefined) throw invalidArgument('no scan has been run on this data dir');
          const filter: FindingFilter = {
            scanId,
            ...(flags.detector !== undefined ? { detector: flags.detector as string } : {}),
            ...(severity !== undefined ? { severity } : {}),
            ...(archived !== undefined ? { archived } : {}),
          };
          if (flags.json) {
            await out(`{\n  "scanId": ${JSON.stringify(scanId)},\n  "findings": `);
            await writeFindingsJson(scans, filter);
            await out('\n}\n');
            return;
          }
          await out(`Findings of scan ${scanId}:\n`);
          for await (const finding of allFindings(scans, filter))
            await out(`${finding.findingId}${findingLine(finding)}`);
        });
      }),
    );

  for (const [name, archived] of [
    ['archive', true],
    ['unarchive', false],
  ] as const)
    withDataDirOptions(scan.command(`${name} <findingId>`))
      .description(archived ? 'archive a finding (reviewed, kept)' : 'unarchive a finding')
      .action(
        action(async (findingId: string, _options: unknown, command: Command) => {
          const flags = command.optsWithGlobals();
          if (!/^[0-9a-f]{32}$/.test(findingId))
            throw invalidArgument(`${JSON.stringify(findingId.slice(0, 40))} is no finding id`);
          await withDataDir(flags, async (dataDir, config) => {
            const scans = scanServiceOf(dataDir, config, config.guard.scan.pageSize);
            const finding = await withCliAudit(dataDir, config, (audit) =>
              audit.run(
                {
                  eventSource: 'bulwark.amazonaws.com',
                  eventName: archived ? 'ArchiveFinding' : 'UnarchiveFinding',
                  readOnly: false,
                  requestParameters: { findingId },
                },
                () => scans.setArchived(findingId, archived),
              ),
            );
            process.stdout.write(
              `Finding ${finding.findingId} ${archived ? 'archived' : 'unarchived'}.\n`,
            );
          });
        }),
      );
  return scan;
}
