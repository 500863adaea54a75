import { createWriteStream, readFileSync } from 'node:fs';
import { once } from 'node:events';
import type { Command } from 'commander';
import { exportTrail } from '../audit/export.js';
import { publicSigningKeys, SigningKeys } from '../audit/signing-keys.js';
import {
  verifyExportFile,
  verifyStoredTrail,
  type TrailVerification,
} from '../audit/verify-trail.js';
import { registerAuditLookup } from './audit-lookup.js';
import { withCliAudit } from './cli-audit.js';
import {
  action,
  collect,
  withDataDir,
  invalidArgument,
  printJson,
  timeFlag,
  withDataDirOptions,
} from './common.js';

function readPublicKeys(files: string[]): string[] {
  return files.map((file) => {
    try {
      return readFileSync(file, 'utf8');
    } catch (error) {
      throw invalidArgument(`--public-key ${file}: cannot read it (${(error as Error).message})`);
    }
  });
}

function progress(what: string): (count: number) => void {
  return (count) => process.stderr.write(`${what}: ${count} events\n`);
}

function printVerification(report: TrailVerification, verbose: boolean): void {
  const out: string[] = [];
  if (report.keysFrom === 'trail')
    out.push(
      'Note: no --public-key given: digests were checked against the public keys kept beside the trail, which shows the trail is consistent, not who signed it.',
    );
  for (const finding of report.findings)
    if (finding.severity === 'invalid' || verbose) out.push(finding.message);
  for (const stream of report.streams) {
    const invalidDigests = stream.digests - stream.digestsValid;
    const invalidEvents = stream.events - stream.eventsValid;
    out.push(
      `Stream ${stream.stream}: ${stream.digestsValid}/${stream.digests} digests valid${invalidDigests ? `, ${invalidDigests}/${stream.digests} digests INVALID` : ''}; ${stream.eventsValid}/${stream.events} events valid${invalidEvents ? `, ${invalidEvents}/${stream.events} events INVALID` : ''}${stream.eventsUncovered ? ` (${stream.eventsUncovered} not yet signed)` : ''}`,
    );
    if (stream.newestDigest)
      out.push(
        `Stream ${stream.stream}: newest digest ${stream.newestDigest.digestSeq} ended ${stream.newestDigest.digestEndTime}, hash ${stream.newestDigest.digestHashValue} (keep it elsewhere; verify later with --expect-digest)`,
      );
  }
  out.push(report.intact ? 'Audit trail intact.' : 'Audit trail INVALID.');
  process.stdout.write(out.join('\n') + '\n');
}

export function registerAudit(program: Command): Command {
  const audit = program
    .command('audit')
    .description('the audit trail: verify its chain and signed digests, export it, its keys');

  withDataDirOptions(audit.command('verify'))
    .description(
      'check the trail offline: every event against the chain and the signed digests; exit 0 intact, 1 broken',
    )
    .option('--export <file>', 'verify an export file instead of the data dir')
    .option('--public-key <pem>', 'a trusted digest-signing public key (repeatable)', collect, [])
    .option('--from <time>', 'check digests ending at or after this time (ISO 8601 or epoch s)')
    .option('--to <time>', 'check digests starting at or before this time')
    .option(
      '--expect-digest <hash>',
      'a digest hash kept elsewhere that must be in the trail (repeatable)',
      collect,
      [],
    )
    .option('--json', 'print the report as JSON')
    .option('--verbose', 'print notes as well as breaks')
    .action(
      action(async (flags) => {
        const from = timeFlag('--from', flags.from);
        const to = timeFlag('--to', flags.to);
        const request = {
          publicKeyPems: readPublicKeys(flags.publicKey),
          expectDigests: flags.expectDigest as string[],
          now: Date.now(),
          onProgress: progress('verified'),
          ...(from !== undefined ? { from } : {}),
          ...(to !== undefined ? { to } : {}),
        };
        const report = flags.export
          ? await verifyExportFile(flags.export, request)
          : await withDataDir(flags, ({ store }) => verifyStoredTrail(store, request));
        if (flags.json) printJson(report);
        else printVerification(report, flags.verbose === true);
        process.exitCode = report.intact ? 0 : 1;
      }),
    );

  withDataDirOptions(audit.command('export'))
    .description(
      'write the trail as JSON lines: CloudTrail records with their chain hashes, and the digests',
    )
    .option('--format <format>', 'jsonl (the only format)', 'jsonl')
    .option('--output <file>', 'write here (mode 0600) instead of stdout')
    .option('--from <time>', 'digests ending at or after this time, and their events')
    .option('--to <time>', 'digests starting at or before this time, and their events')
    .action(
      action(async (flags) => {
        if (flags.format !== 'jsonl')
          throw invalidArgument(
            `--format ${JSON.stringify(flags.format)}: only jsonl is supported`,
          );
        const from = timeFlag('--from', flags.from);
        const to = timeFlag('--to', flags.to);
        const out = flags.output
          ? createWriteStream(flags.output, { mode: 0o600 })
          : process.stdout;
        const write = async (line: string) => {
          if (!out.write(line + '\n')) await once(out, 'drain');
        };
        // Reading the whole trail in plaintext is itself recorded (before the export's start,
        // so the export holds it).
        const count = await withDataDir(flags, (dataDir, config) =>
          withCliAudit(dataDir, config, (audit) =>
            audit.run(
              {
                eventSource: 'cloudtrail.amazonaws.com',
                eventName: 'ExportAuditTrail',
                readOnly: true,
                requestParameters: {
                  format: 'jsonl',
                  ...(flags.from ? { from: flags.from } : {}),
                  ...(flags.to ? { to: flags.to } : {}),
                },
              },
              async () => 0,
            ),
          ).then(() =>
            exportTrail(dataDir.store, write, {
              now: Date.now(),
              onProgress: progress('exported'),
              ...(from !== undefined ? { from } : {}),
              ...(to !== undefined ? { to } : {}),
            }),
          ),
        );
        if (out !== process.stdout) {
          out.end();
          await once(out, 'finish');
        }
        process.stderr.write(`exported ${count} events\n`);
      }),
    );

  withDataDirOptions(audit.command('public-key'))
    .description('print the digest-signing public keys (PEM), to verify digests elsewhere')
    .option('--json', 'print fingerprints and dates too, as JSON')
    .action(
      action(async (flags) => {
        const keys = await withDataDir(flags, ({ store }) => publicSigningKeys(store));
        if (flags.json) printJson({ PublicKeyList: keys });
        else process.stdout.write(keys.map((key) => key.publicKeyPem).join(''));
      }),
    );

  withDataDirOptions(audit.command('rotate-signing-key'))
    .description('retire the digest-signing key and make a new one; the old one still verifies')
    .action(
      action(async (flags) =>
        printJson(
          await withDataDir(flags, (dataDir, config) =>
            withCliAudit(dataDir, config, (audit) =>
              audit.run(
                {
                  eventSource: 'cloudtrail.amazonaws.com',
                  eventName: 'RotateDigestSigningKey',
                  readOnly: false,
                  requestParameters: null,
                },
                () => new SigningKeys(dataDir.store).rotate(),
                { response: (key) => ({ fingerprint: key.fingerprint }) },
              ),
            ),
          ),
        ),
      ),
    );
  registerAuditLookup(audit);
  return audit;
}
