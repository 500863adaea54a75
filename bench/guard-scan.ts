/**
 * Discovery-scan throughput: documents/s and MB/s of `bulwark scan` over 100,000 stored shadow
 * documents on SQLite (sealed, as Bulwark stores them), and its peak RSS. The same corpus as
 * test/guard/scan.test.ts: ordinary device states with a few sensitive values planted, 100
 * shadows per thing. Besides the real command (from dist/, each round a new scan of the whole
 * data), two in-process runs split the cost: reading the pages alone (the store: SQLite, opening
 * the sealed values, JSON), and the detectors alone over the same states held in memory.
 *
 *   npm run build && node --import tsx bench/guard-scan.ts
 *
 * Environment: BENCH_SCALE multiplies the document count (e.g. 0.1 for a smoke run). Prints a
 * markdown table; writes no file.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { IotArns } from '../src/api/iot-arns.js';
import { openDataDir } from '../src/app/data-dir.js';
import { loadConfig } from '../src/config/index.js';
import { Guard } from '../src/guard/guard.js';
import { ItemScanner } from '../src/guard/scan/item-scanner.js';
import { storedDataSources } from '../src/guard/scan/sources.js';
import type { ScannedItem } from '../src/guard/scan/types.js';
import { runCliAsync } from '../test/helpers/cli.js';
import { plants, writeShadowCorpus } from '../test/helpers/shadow-corpus.js';
import { codeVersion } from './results-file.js';

const SCALE = Number(process.env.BENCH_SCALE ?? '1');
if (!(SCALE > 0)) throw new Error('BENCH_SCALE must be a positive number');
const DOCUMENTS = Math.max(1000, Math.round(100_000 * SCALE));
const ROUNDS = 3;
/** `guard.scan.pageSize`'s default. */
const PAGE_SIZE = 200;

const progress = (line: string): void => void process.stderr.write(`${line}\n`);

interface Figures {
  label: string;
  documents: number;
  bytes: number;
  ms: number;
  maxRssBytes?: number;
}

/** One `bulwark scan --new --json` of the whole data dir. */
async function cliScan(dataDir: string): Promise<Figures> {
  const result = await runCliAsync(['scan', '--data-dir', dataDir, '--new', '--json']);
  if (result.status !== 0) throw new Error(`bulwark scan failed: ${result.stderr}`);
  const output = JSON.parse(result.stdout) as {
    scan: { statistics: { itemsScanned: number; bytesScanned: number } };
    process: { elapsedMs: number; maxRssBytes: number };
  };
  return {
    label: '`bulwark scan` (dist), end to end',
    documents: output.scan.statistics.itemsScanned,
    bytes: output.scan.statistics.bytesScanned,
    ms: output.process.elapsedMs,
    maxRssBytes: output.process.maxRssBytes,
  };
}

/** Reads every page of shadow states, and runs the detectors over states held in memory. */
async function inProcess(
  dataDir: string,
  totalBytes: number,
): Promise<{ read: Figures; detect: Figures }> {
  const config = loadConfig({ env: {}, flags: { dataDir } });
  const open = await openDataDir(config, {}, { create: false });
  try {
    const source = storedDataSources({
      store: open.store,
      arns: new IotArns(config.region, config.accountId),
    }).shadows;
    const scanner = new ItemScanner(new Guard(config.guard).detectors);
    // Held for the detector run: at most this many, so memory stays reasonable at any scale.
    const held: ScannedItem[] = [];
    let documents = 0;
    let started = performance.now();
    for await (const page of source.pages(undefined, PAGE_SIZE)) {
      documents += page.items.length;
      for (const item of page.items) if (held.length < 20_000) held.push(item);
    }
    const readMs = performance.now() - started;
    let bytes = 0;
    started = performance.now();
    for (const item of held) bytes += scanner.scan(item).bytes;
    const detectMs = performance.now() - started;
    return {
      read: {
        label: 'reading the pages only (SQLite, unsealing, JSON)',
        documents,
        bytes: totalBytes,
        ms: readMs,
      },
      detect: {
        label: 'detectors only, states in memory',
        documents: held.length,
        bytes,
        ms: detectMs,
      },
    };
  } finally {
    await open.close();
  }
}

function row(figures: Figures): string {
  const seconds = figures.ms / 1000;
  const rss =
    figures.maxRssBytes === undefined ? '—' : `${(figures.maxRssBytes / 2 ** 20).toFixed(0)} MiB`;
  return `| ${figures.label} | ${figures.documents.toLocaleString('en-US')} | ${(figures.bytes / 1e6).toFixed(1)} MB | ${seconds.toFixed(1)} s | ${Math.round(figures.documents / seconds).toLocaleString('en-US')} | ${(figures.bytes / 1e6 / seconds).toFixed(2)} | ${rss} |`;
}

const dir = mkdtempSync(join(tmpdir(), 'bulwark-bench-scan-'));
try {
  const dataDir = join(dir, 'data');
  const init = await runCliAsync(['init', '--data-dir', dataDir]);
  if (init.status !== 0) throw new Error(`bulwark init failed: ${init.stderr}`);
  const load = loadavg();
  progress(`writing ${DOCUMENTS} shadow documents…`);
  const writeStarted = performance.now();
  await writeShadowCorpus(dataDir, DOCUMENTS, plants(DOCUMENTS));
  progress(`written in ${((performance.now() - writeStarted) / 1000).toFixed(1)} s`);
  const cli: Figures[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const figures = await cliScan(dataDir);
    progress(`round ${round}: ${row(figures)}`);
    cli.push(figures);
  }
  // The median round by time; peak RSS is the largest of any round.
  const median = [...cli].sort((a, b) => a.ms - b.ms)[Math.floor(ROUNDS / 2)] as Figures;
  median.maxRssBytes = Math.max(...cli.map((figures) => figures.maxRssBytes ?? 0));
  median.label += ` (median of ${ROUNDS})`;
  const split = await inProcess(dataDir, median.bytes);
  const endLoad = loadavg();
  const lines = [
    '## Discovery scans: documents/s and MB/s over stored shadows',
    '',
    `- Date: ${new Date().toISOString()}`,
    `- Node: ${process.version}; CPU: ${cpus()[0]?.model ?? 'unknown'} (${cpus().length} cores)`,
    `- Command: \`node --import tsx bench/guard-scan.ts\` (BENCH_SCALE=${SCALE})`,
    `- Code: ${codeVersion()}`,
    `- Load average (1/5/15 min) at start: ${load.map((n) => n.toFixed(2)).join(' / ')}; at end: ${endLoad.map((n) => n.toFixed(2)).join(' / ')}`,
    `- Data: ${DOCUMENTS.toLocaleString('en-US')} shadow documents on SQLite (synchronous=full), 100 per thing, each sealed under its thing's key; page size ${PAGE_SIZE}; MB = JSON text of the states scanned (10^6 characters)`,
    '',
    '| Run | Documents | Size | Time | Documents/s | MB/s | Peak RSS |',
    '| --- | --: | --: | --: | --: | --: | --: |',
    row(median),
    row(split.read),
    row(split.detect),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
