import assert from 'node:assert/strict';

/** Polls `check` until it holds; fails the test, naming what was awaited, if it never does. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
  stepMs = 50,
): Promise<void> {
  for (
    const started = Date.now();
    Date.now() - started < timeoutMs;
    await new Promise((resolve) => setTimeout(resolve, stepMs))
  ) {
    if (await check()) return;
  }
  assert.fail(`${what}: not within ${timeoutMs} ms`);
}
