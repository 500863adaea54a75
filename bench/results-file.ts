import { execSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Shared by every benchmark: each owns one `## …` section of bench/RESULTS.md and rewrites only it. */
export const RESULTS_PATH = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Replaces (or appends) the section that starts with `heading`; other sections are kept as they are. */
export async function writeResultsSection(
  heading: string,
  section: string,
  log: (line: string) => void,
): Promise<void> {
  const existing = existsSync(RESULTS_PATH)
    ? readFileSync(RESULTS_PATH, 'utf8')
    : '# Benchmarks\n\n';
  const start = existing.indexOf(`${heading}\n`);
  let next: string;
  if (start < 0) {
    next = `${existing.trimEnd()}\n\n${section}\n`;
  } else {
    const after = existing.indexOf('\n## ', start + heading.length);
    next = existing.slice(0, start) + section + '\n' + (after < 0 ? '' : existing.slice(after));
  }
  try {
    const prettier = await import('prettier');
    const options = await prettier.resolveConfig(RESULTS_PATH);
    next = await prettier.format(next, { ...options, filepath: RESULTS_PATH });
  } catch (error) {
    log(`(RESULTS.md left unformatted: ${(error as Error).message})`);
  }
  writeFileSync(RESULTS_PATH, next);
}

/** The commit measured, and a fingerprint of any uncommitted changes under src/. */
export function codeVersion(): string {
  try {
    const git = (args: string): string =>
      execSync(`git ${args}`, {
        cwd: ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    const head = git('rev-parse --short HEAD');
    const diff = git('diff HEAD -- src');
    const untracked = git('ls-files --others --exclude-standard -- src');
    if (!diff && !untracked) return `git ${head}, src/ as committed`;
    const fingerprint = createHash('sha256')
      .update(diff)
      .update(untracked)
      .digest('hex')
      .slice(0, 12);
    return `git ${head} plus uncommitted changes under src/ (diff sha256 ${fingerprint}…)`;
  } catch {
    return 'unknown (not a git checkout)';
  }
}
