// Discovery scans over stored device data: the real `bulwark scan` CLI (dist) over 100,000 stored
// shadow documents, a kill -9 in the middle of a scan and its resumption, the scan API of a
// running server over every kind of stored data, and scheduled scans.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import {
  adminCredentials,
  awsCliJson,
  createUserWithPolicy,
  needAwsCli,
  signedRequest,
  type ApiTarget,
  type AwsCredentials,
  type CliJson,
} from '../helpers/aws-api.js';
import {
  CLI,
  cleanEnv,
  runCliAsync,
  type CliResult,
  EPHEMERAL_PORTS_WITH_DEV,
  fileCleanup,
  runCli,
  startServer,
  type RunningServer,
} from '../helpers/cli.js';
import { connectClient } from '../helpers/mqtt-clients.js';
import {
  cardNumber,
  plants,
  shadowOfDocument,
  writeShadowCorpus,
  type Plant,
} from '../helpers/shadow-corpus.js';
import { tempDir } from '../helpers/temp.js';
import { dropSchema, needPostgres, POSTGRES_URL, uniqueSchema } from '../helpers/services.js';
import { eventually } from '../helpers/wait.js';

const files = fileCleanup();

const DOCUMENTS = 100_000;
const SMALL_DOCUMENTS = 2_000;
/**
 * The scans run with V8's old generation capped, so that its heap does not grow freely and peak
 * RSS follows what a scan keeps rather than how long it runs.
 */
const HEAP_CAP_MB = 96;
/**
 * How much more the peak RSS of the 100,000-document scan may be than that of the 2,000-document
 * one (same cap). Measured here: 25 to 35 MiB more (V8 filling its capped heap with garbage
 * between collections, SQLite's page cache); a scan that kept the states it read (41 MB of JSON)
 * grew by some 90 MiB.
 */
const RSS_GROWTH_BOUND_BYTES = 56 * 1024 * 1024;

/** `bulwark ARGS` from dist, its old generation capped, waited for (a scan may take a while). */
function bulwark(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return runCliAsync(args, { env, nodeArgs: [`--max-old-space-size=${HEAP_CAP_MB}`] });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

interface ScanOutput {
  scan: Json;
  findings: Json[];
  process: { elapsedMs: number; maxRssBytes: number };
}

function scanOutput(run: CliResult): ScanOutput {
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as ScanOutput;
}

function thingArn(dataDir: string, thingName: string): string {
  const config = loadConfig({ env: {}, flags: { dataDir } });
  return `arn:aws:iot:${config.region}:${config.accountId}:thing/${thingName}`;
}

/** Every form of every planted value: none may appear in `text`. */
function assertNoPlantedValue(text: string, planted: readonly Plant[], where: string): void {
  for (const plant of planted)
    for (const secret of plant.secrets)
      assert.ok(!text.includes(secret), `${where} holds the planted ${plant.detector} value`);
}

/** The findings expected for the plants: one each, at its resource and path. */
function assertFindsEveryPlant(findings: Json[], planted: readonly Plant[], dataDir: string): void {
  for (const plant of planted) {
    const { thingName, shadowName } = shadowOfDocument(plant.index);
    const matching = findings.filter(
      (finding) =>
        finding.detector === plant.detector &&
        finding.resourceArn === thingArn(dataDir, thingName) &&
        finding.shadowName === shadowName,
    );
    assert.equal(matching.length, 1, `one ${plant.detector} finding in ${thingName}/${shadowName}`);
    const [finding] = matching as [Json];
    assert.equal(finding.resourceType, 'shadow');
    assert.equal(finding.count, 1);
    assert.deepEqual(finding.occurrences, [{ jsonPath: plant.jsonPath }]);
    assert.equal(finding.archived, false);
  }
  // No finding on any of the clean documents.
  assert.equal(findings.length, planted.length, JSON.stringify(findings, null, 1));
}

/** What identifies a finding across two scans: detector, resource, paths and count. */
function findingFacts(findings: Json[]): string[] {
  return findings
    .map((finding) =>
      JSON.stringify([
        finding.detector,
        finding.resourceArn,
        finding.shadowName ?? null,
        finding.count,
        finding.occurrences,
      ]),
    )
    .sort();
}

describe('bulwark scan over 100,000 stored shadow documents', () => {
  const dataDir = join(tempDir(files, 'bulwark-scan-'), 'data');
  const smallDataDir = join(tempDir(files, 'bulwark-scan-small-'), 'data');
  const planted = plants(DOCUMENTS);
  const smallPlanted = plants(SMALL_DOCUMENTS);
  let firstScan: ScanOutput | undefined;

  before(async () => {
    for (const dir of [dataDir, smallDataDir]) {
      const init = runCli(['init', '--data-dir', dir]);
      assert.equal(init.status, 0, init.stderr);
    }
    await writeShadowCorpus(dataDir, DOCUMENTS, planted);
    await writeShadowCorpus(smallDataDir, SMALL_DOCUMENTS, smallPlanted);
  });

  test('reports every planted value with its ARN and JSON path, nothing else, never a value, in bounded memory', async () => {
    const run = await bulwark(['scan', '--data-dir', dataDir, '--json']);
    const output = scanOutput(run);
    firstScan = output;
    assert.equal(output.scan.status, 'COMPLETED');
    assert.equal(output.scan.trigger, 'cli');
    assert.deepEqual(output.scan.sourcesDone, ['shadows', 'retained', 'attributes', 'queued']);
    assert.equal(output.scan.statistics.itemsScanned, DOCUMENTS);
    assert.equal(output.scan.statistics.findings, planted.length);
    assertFindsEveryPlant(output.findings, planted, dataDir);
    // Progress on stderr: items, MB, findings, rate.
    assert.match(
      run.stderr,
      /scan scan-\S+: \d+ items, [\d.]+ MB, \d+ findings, \d+ items\/s/,
      run.stderr,
    );
    assertNoPlantedValue(run.stdout, planted, 'scan --json stdout');
    assertNoPlantedValue(run.stderr, planted, 'scan --json stderr');

    // The summary without --json, and the findings command, as an operator reads them.
    const findings = await bulwark(['scan', 'findings', '--data-dir', dataDir]);
    assert.equal(findings.status, 0, findings.stderr);
    for (const plant of planted) assert.ok(findings.stdout.includes(plant.jsonPath));
    assertNoPlantedValue(findings.stdout + findings.stderr, planted, 'scan findings');

    // Memory: the same scan over 2,000 documents, under the same heap cap.
    const small = scanOutput(await bulwark(['scan', '--data-dir', smallDataDir, '--json']));
    assertFindsEveryPlant(small.findings, smallPlanted, smallDataDir);
    const growth = output.process.maxRssBytes - small.process.maxRssBytes;
    process.stderr.write(
      `# peak RSS: ${(output.process.maxRssBytes / 2 ** 20).toFixed(0)} MiB for ${DOCUMENTS} documents (${(output.scan.statistics.bytesScanned / 1e6).toFixed(1)} MB, ${output.process.elapsedMs} ms), ${(small.process.maxRssBytes / 2 ** 20).toFixed(0)} MiB for ${SMALL_DOCUMENTS}\n`,
    );
    assert.ok(
      growth < RSS_GROWTH_BOUND_BYTES,
      `peak RSS grew by ${(growth / 2 ** 20).toFixed(0)} MiB from ${SMALL_DOCUMENTS} to ${DOCUMENTS} documents`,
    );
  });

  test('kill -9 in the middle of a scan, then a resumed scan: the same findings, none twice', async () => {
    assert.ok(firstScan, 'the first scan ran');
    // Killed well into the data: after some planted values were found and checkpointed.
    const child = spawn(
      process.execPath,
      [CLI, 'scan', '--data-dir', dataDir, '--json', '--new', '--page-size', '50'],
      { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let scanId: string | undefined;
    let killedAt = 0;
    const lines = createInterface({ input: child.stderr });
    await new Promise<void>((resolve, reject) => {
      child.on('exit', () => reject(new Error('the scan ended before it could be killed')));
      lines.on('line', (line) => {
        scanId ??= /^starting scan (\S+)/.exec(line)?.[1];
        const items = Number(/: (\d+) items,/.exec(line)?.[1] ?? 0);
        if (items >= 0.3 * DOCUMENTS && killedAt === 0) {
          killedAt = items;
          child.kill('SIGKILL');
          resolve();
        }
      });
    });
    await new Promise((resolve) => child.once('close', resolve));
    assert.ok(scanId, 'the scan said its id');
    assert.ok(killedAt < DOCUMENTS);

    // The next `bulwark scan` resumes it at once: its runner's process is gone.
    const run = await bulwark(['scan', '--data-dir', dataDir, '--json']);
    assert.match(run.stderr, new RegExp(`^resuming scan ${scanId}`, 'm'));
    const resumed = scanOutput(run);
    assert.equal(resumed.scan.scanId, scanId);
    assert.equal(resumed.scan.status, 'COMPLETED');
    // No gap and no page counted twice: every document once.
    assert.equal(resumed.scan.statistics.itemsScanned, DOCUMENTS);
    assertFindsEveryPlant(resumed.findings, planted, dataDir);
    assert.deepEqual(findingFacts(resumed.findings), findingFacts(firstScan.findings));
    assert.equal(
      new Set(resumed.findings.map((finding) => finding.findingId)).size,
      planted.length,
    );
    assertNoPlantedValue(run.stdout + run.stderr, planted, 'resumed scan output');
  });
});

/** A restJson1 call to the scan API, signed with SigV4. */
async function api(
  target: ApiTarget,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  credentials?: AwsCredentials,
): Promise<{ status: number; json: Json; text: string }> {
  const response = await signedRequest(
    target,
    {
      method,
      path,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    },
    credentials ?? adminCredentials(target.dataDir),
  );
  return {
    status: response.status,
    json: response.body ? (JSON.parse(response.body) as Json) : {},
    text: response.body,
  };
}

async function completedScan(target: ApiTarget, scanId: string): Promise<Json> {
  let scan: Json = {};
  await eventually(
    async () => {
      const described = await api(target, 'GET', `/guard/scans/${scanId}`);
      assert.equal(described.status, 200, described.text);
      scan = described.json;
      return scan.status !== 'RUNNING';
    },
    `scan ${scanId} ends`,
    60_000,
    200,
  );
  return scan;
}

test('the scan API over retained messages, thing attributes and queued messages: start, list, get, archive; IAM decides', async (t) => {
  if (!needAwsCli(t)) return;
  const dataDir = join(tempDir(t, 'bulwark-scan-api-'), 'data');
  const home = tempDir(t, 'bulwark-scan-home-');
  const server: RunningServer = await startServer(t, [
    '--data-dir',
    dataDir,
    ...EPHEMERAL_PORTS_WITH_DEV,
  ]);
  const target: ApiTarget = { port: server.ready.api, dataDir };
  const devPort = server.ready.dev as number;
  const tag = randomBytes(3).toString('hex');
  const retainedEmail = `ops.${tag}@northwind-mail.com`;
  const rawCard = cardNumber([5, 1 + randomInt(5)]);
  const attributeEmail = `owner.${tag}@contoso-mail.com`;
  const queuedCard = cardNumber([5, 1 + randomInt(5)]);
  const values = [retainedEmail, rawCard, attributeEmail, queuedCard];

  // Retained messages: a JSON one, and one that is not JSON (found by byte offset).
  const publisher = await connectClient(t, devPort, { clientId: `pub-${tag}` });
  await publisher.publishAsync(
    'factory/line-1/config',
    JSON.stringify({ line: 1, contact: { name: 'Line lead', email: retainedEmail } }),
    { qos: 1, retain: true },
  );
  const rawPayload = `shift note (é): charge card ${rawCard} for the spare parts`;
  await publisher.publishAsync('factory/line-1/note', rawPayload, { qos: 1, retain: true });
  // A thing's attributes, through the AWS CLI.
  const created = awsCliJson(
    target,
    [
      'iot',
      'create-thing',
      '--thing-name',
      'pump-7',
      '--attribute-payload',
      JSON.stringify({ attributes: { model: 'p7', owner: attributeEmail } }),
    ],
    { home },
  );
  assert.equal(created.status, 0, created.stderr);
  // A persistent session's queued messages: subscribed, gone offline, then published to.
  const collectorId = `collector-${tag}`;
  const collector = await connectClient(t, devPort, {
    protocolVersion: 5,
    clientId: collectorId,
    clean: false,
    properties: { sessionExpiryInterval: 3600 },
  });
  await collector.subscribeAsync('alerts/#', { qos: 1 });
  await collector.endAsync();
  await publisher.publishAsync('alerts/pump-7', JSON.stringify({ level: 'info', text: 'ok' }), {
    qos: 1,
  });
  await publisher.publishAsync(
    'alerts/pump-7',
    JSON.stringify({ level: 'warn', payment: { cardNumber: queuedCard } }),
    { qos: 1 },
  );

  const started = await api(target, 'POST', '/guard/scans', {});
  assert.equal(started.status, 200, started.text);
  const scanId = started.json.scanId as string;
  const scan = await completedScan(target, scanId);
  assert.equal(scan.status, 'COMPLETED');
  assert.equal(scan.trigger, 'manual');
  assert.equal(scan.statistics.findings, 4);
  const listedScans = await api(target, 'GET', '/guard/scans');
  assert.ok(listedScans.json.scans.some((listed: Json) => listed.scanId === scanId));
  const cancelDone = await api(target, 'POST', `/guard/scans/${scanId}/cancel`);
  assert.equal(cancelDone.status, 400, cancelDone.text);
  assert.equal(
    cancelDone.json.message,
    `Scan ${scanId} is COMPLETED: only a RUNNING scan can be cancelled`,
  );
  const badSources = await api(target, 'POST', '/guard/scans', { sources: ['mailboxes'] });
  assert.equal(badSources.status, 400, badSources.text);
  assert.equal(
    (await api(target, 'GET', '/guard/scans/scan-20200101T000000Z-00000000')).status,
    404,
  );

  const listed = await api(target, 'GET', `/guard/findings?scanId=${scanId}`);
  assert.equal(listed.status, 200, listed.text);
  const findings = listed.json.findings as Json[];
  const config = loadConfig({ env: {}, flags: { dataDir } });
  const arn = (resource: string) => `arn:aws:iot:${config.region}:${config.accountId}:${resource}`;
  const expected = [
    {
      detector: 'EMAIL_ADDRESS',
      resourceType: 'retainedMessage',
      resourceArn: arn('topic/factory/line-1/config'),
      occurrences: [{ jsonPath: '$.contact.email' }],
    },
    {
      detector: 'CREDIT_CARD_NUMBER',
      resourceType: 'retainedMessage',
      resourceArn: arn('topic/factory/line-1/note'),
      occurrences: [
        { byteOffset: Buffer.byteLength(rawPayload.slice(0, rawPayload.indexOf(rawCard))) },
      ],
    },
    {
      detector: 'EMAIL_ADDRESS',
      resourceType: 'thingAttributes',
      resourceArn: arn('thing/pump-7'),
      occurrences: [{ jsonPath: '$.attributes.owner' }],
    },
  ];
  for (const want of expected) {
    const found = findings.find(
      (finding) => finding.detector === want.detector && finding.resourceArn === want.resourceArn,
    );
    assert.ok(found, `a ${want.detector} finding for ${want.resourceArn}: ${listed.text}`);
    assert.equal(found.resourceType, want.resourceType);
    assert.deepEqual(found.occurrences, want.occurrences);
    assert.equal(found.count, 1);
  }
  const queued = findings.find((finding) => finding.resourceType === 'queuedMessage');
  assert.ok(queued, listed.text);
  assert.equal(queued.detector, 'CREDIT_CARD_NUMBER');
  assert.equal(queued.resourceArn, arn(`client/${collectorId}`));
  assert.equal(queued.occurrences.length, 1);
  assert.equal(queued.occurrences[0].jsonPath, '$.payment.cardNumber');
  assert.equal(typeof queued.occurrences[0].recordIndex, 'number');
  assert.equal(findings.length, 4, listed.text);

  // GetFinding, then ArchiveFinding: archived findings can be filtered out, and unarchived.
  const one = await api(target, 'GET', `/guard/findings/${queued.findingId}`);
  assert.equal(one.status, 200, one.text);
  assert.deepEqual(one.json.finding, queued);
  assert.equal(
    (await api(target, 'POST', `/guard/findings/${queued.findingId}/archive`)).status,
    200,
  );
  assert.equal(
    (await api(target, 'GET', `/guard/findings/${queued.findingId}`)).json.finding.archived,
    true,
  );
  const unarchived = await api(target, 'GET', `/guard/findings?scanId=${scanId}&archived=false`);
  assert.deepEqual(
    unarchived.json.findings.map((finding: Json) => finding.findingId).sort(),
    findings
      .filter((finding) => finding.findingId !== queued.findingId)
      .map((finding) => finding.findingId)
      .sort(),
  );
  const archived = await api(target, 'GET', '/guard/findings?archived=true');
  assert.deepEqual(
    archived.json.findings.map((finding: Json) => finding.findingId),
    [queued.findingId],
  );
  assert.equal(
    (await api(target, 'POST', `/guard/findings/${queued.findingId}/unarchive`)).status,
    200,
  );
  const paged = await api(target, 'GET', `/guard/findings?scanId=${scanId}&maxResults=3`);
  assert.equal(paged.json.findings.length, 3);
  const rest = await api(
    target,
    'GET',
    `/guard/findings?scanId=${scanId}&maxResults=3&nextToken=${encodeURIComponent(paged.json.nextToken)}`,
  );
  assert.equal(rest.json.findings.length, 1);
  assert.equal(rest.json.nextToken, undefined);
  const missing = await api(target, 'GET', `/guard/findings/${'0'.repeat(32)}`);
  assert.equal(missing.status, 404);
  assert.equal(missing.json.message, `Finding ${'0'.repeat(32)} does not exist`);
  const badFilter = await api(target, 'GET', '/guard/findings?severity=URGENT');
  assert.equal(badFilter.status, 400);

  // A user allowed GetFinding but not ListFindings (Bulwark's own actions, in IAM policies).
  const ok = (args: string[]): CliJson => {
    const result = awsCliJson(target, args, { home });
    assert.equal(result.status, 0, result.stderr);
    return result.json;
  };
  const reader = createUserWithPolicy(ok, 'finding-reader', {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Action: ['bulwark:GetFinding'], Resource: '*' }],
  });
  await eventually(
    async () =>
      (await api(target, 'GET', `/guard/findings/${queued.findingId}`, undefined, reader))
        .status === 200,
    'the new access key is accepted',
    10_000,
  );
  const refused = await api(target, 'GET', '/guard/findings', undefined, reader);
  assert.equal(refused.status, 403, refused.text);
  assert.match(refused.text, /not authorized to perform: bulwark:ListFindings/);
  const refusedStart = await api(target, 'POST', '/guard/scans', {}, reader);
  assert.equal(refusedStart.status, 403, refusedStart.text);

  // Nothing the API answered, and nothing the server logged, holds a planted value.
  for (const text of [listed.text, one.text, unarchived.text, archived.text, server.stderr()])
    for (const value of values) assert.ok(!text.includes(value), 'a planted value leaked');
});

test('a scheduled scan runs on its own, then again one interval later', async (t) => {
  const dataDir = join(tempDir(t, 'bulwark-scan-scheduled-'), 'data');
  // 0.01 h: one every 36 s; the first at start.
  const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV], {
    env: { BULWARK_GUARD_SCAN_INTERVAL_HOURS: '0.01' },
  });
  const target: ApiTarget = { port: server.ready.api, dataDir };
  const scheduled = async () =>
    ((await api(target, 'GET', '/guard/scans')).json.scans as Json[]).filter(
      (scan) => scan.trigger === 'scheduled',
    );
  await eventually(
    async () => (await scheduled()).length === 1,
    'the first scheduled scan',
    20_000,
    200,
  );
  const [first] = (await scheduled()) as [Json];
  assert.equal((await completedScan(target, first.scanId)).status, 'COMPLETED');
  assert.equal(first.statistics.findings, 0);

  // Data arrives; the next scheduled scan finds it without being asked.
  const email = `night.shift.${randomBytes(3).toString('hex')}@fabrikam-mail.com`;
  const device = await connectClient(t, server.ready.dev as number, { clientId: 'boiler-1' });
  await device.publishAsync(
    '$aws/things/boiler-1/shadow/update',
    JSON.stringify({ state: { reported: { contact: email } } }),
    { qos: 1 },
  );
  await eventually(
    async () => (await scheduled()).length === 2,
    'the second scheduled scan',
    60_000,
    500,
  );
  const second = (await scheduled()).find((scan) => scan.scanId !== first.scanId) as Json;
  assert.ok(
    second.startedAt - first.startedAt >= 36 - 1,
    `${first.startedAt} → ${second.startedAt}`,
  );
  const done = await completedScan(target, second.scanId);
  assert.equal(done.statistics.findings, 1);
  const findings = await api(target, 'GET', `/guard/findings?scanId=${second.scanId}`);
  assert.deepEqual(
    findings.json.findings.map((finding: Json) => [
      finding.detector,
      finding.resourceType,
      finding.occurrences,
    ]),
    [['EMAIL_ADDRESS', 'shadow', [{ jsonPath: '$.state.reported.contact' }]]],
  );
  assert.ok(!findings.text.includes(email));
});

for (const engine of ['sqlite', 'postgres'] as const)
  test(`bulwark scan while serve runs on the same data, devices writing (${engine})`, async (t) => {
    const env: Record<string, string> = {};
    if (engine === 'postgres') {
      if (!(await needPostgres(t))) return;
      const schema = uniqueSchema('bulwark_scan');
      t.after(() => dropSchema(schema));
      Object.assign(env, {
        BULWARK_STORE_ENGINE: 'postgres',
        BULWARK_STORE_POSTGRES_URL: POSTGRES_URL,
        BULWARK_STORE_POSTGRES_SCHEMA: schema,
      });
    }
    const dataDir = join(tempDir(t, 'bulwark-scan-live-'), 'data');
    const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV], {
      env,
    });
    const devPort = server.ready.dev as number;
    const email = `site.${randomBytes(3).toString('hex')}@woodgrove-mail.com`;
    const device = await connectClient(t, devPort, { clientId: 'meter-1' });
    await device.publishAsync('sites/berlin/contact', JSON.stringify({ email }), {
      qos: 1,
      retain: true,
    });
    // Devices keep writing their shadows while the command scans.
    let writing = true;
    const writes = (async () => {
      for (let n = 0; writing; n++)
        await device.publishAsync(
          `$aws/things/meter-${n % 20}/shadow/update`,
          JSON.stringify({ state: { reported: { kwh: n, status: 'ok' } } }),
          { qos: 1 },
        );
    })();
    await new Promise((resolve) => setTimeout(resolve, 300));
    const run = await bulwark(['scan', '--data-dir', dataDir, '--json'], env);
    writing = false;
    await writes;
    const output = scanOutput(run);
    assert.equal(output.scan.status, 'COMPLETED');
    assert.deepEqual(
      output.findings.map((finding) => [
        finding.detector,
        finding.resourceType,
        finding.occurrences,
      ]),
      [['EMAIL_ADDRESS', 'retainedMessage', [{ jsonPath: '$.email' }]]],
    );
    assert.ok(output.scan.statistics.itemsScanned > 1);
    assert.ok(!(run.stdout + run.stderr).includes(email));
    // The server still answers, and sees the command's scan.
    const scans = await api({ port: server.ready.api, dataDir }, 'GET', '/guard/scans');
    assert.equal(scans.status, 200, scans.text);
    assert.ok(scans.json.scans.some((scan: Json) => scan.scanId === output.scan.scanId));
  });
