import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { registerAudit } from './audit.js';
import { registerIam } from './iam.js';
import { registerIamAccessReport } from './iam-report.js';
import { registerInit } from './init.js';
import { registerKms } from './kms.js';
import { registerScan } from './scan.js';
import { registerServe } from './serve.js';

const { version } = JSON.parse(
  readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'),
) as { version: string };

export function buildProgram(): Command {
  const program = new Command('bulwark')
    .description(
      'Bulwark: a self-hosted IoT core, compatible with AWS IoT Core, that protects device data by default',
    )
    .version(version)
    .showHelpAfterError()
    // Usage errors exit 2, like every other bad input.
    .exitOverride((error: CommanderError) => {
      process.exit(error.exitCode === 0 ? 0 : 2);
    });
  registerInit(program);
  registerServe(program);
  registerKms(program);
  registerIam(program);
  registerIamAccessReport(program);
  registerAudit(program);
  registerScan(program);
  for (const command of program.commands) {
    command.exitOverride((error: CommanderError) => process.exit(error.exitCode === 0 ? 0 : 2));
    for (const sub of command.commands)
      sub.exitOverride((error: CommanderError) => process.exit(error.exitCode === 0 ? 0 : 2));
  }
  return program;
}
