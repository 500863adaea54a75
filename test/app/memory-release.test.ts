import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import mqtt from 'mqtt';
import { loadMallocTrim, MemoryRelease } from '../../src/app/memory-release.js';
import { createLogger } from '../../src/logs/logger.js';
import { EPHEMERAL_PORTS_WITH_DEV, startServer, stopServer } from '../helpers/cli.js';
import { collectGarbage } from '../helpers/gc.js';
import { tempDir } from '../helpers/temp.js';
import { eventually } from '../helpers/wait.js';

const logger = createLogger('DISABLED');
// Bulwark runs on Linux with glibc; elsewhere there is no malloc_trim and nothing to test.
const noTrim = loadMallocTrim() ? false : 'no glibc malloc_trim on this platform';

test('malloc_trim gives back freed native memory that glibc kept', { skip: noTrim }, () => {
  const trim = loadMallocTrim() as () => void;
  // 64 MiB in 16 KiB buffers (below glibc's mmap threshold, so from its heap), one in 16 kept:
  // the freed ones lie between live ones, where free() cannot hand them back.
  let buffers: Buffer[] | undefined = Array.from({ length: 4096 }, () =>
    Buffer.allocUnsafeSlow(16 * 1024).fill(1),
  );
  const kept = buffers.filter((_, i) => i % 16 === 0);
  buffers = undefined;
  collectGarbage();
  collectGarbage();
  const beforeTrim = process.memoryUsage.rss();
  trim();
  const released = beforeTrim - process.memoryUsage.rss();
  assert.ok(released > 32 * 1024 * 1024, `released only ${released} bytes`);
  // What was still in use is untouched by the trim.
  assert.ok(kept.every((buffer) => buffer.every((byte) => byte === 1)));
});

function releaseCounter(options: {
  connectionsAccepted: () => number;
  minimumChurn?: number;
  longestWaitMs?: number;
}): { release: MemoryRelease; calls: () => number } {
  let calls = 0;
  const release = new MemoryRelease({
    ...options,
    release: () => calls++,
    logger,
    checkEveryMs: 20,
  });
  return { release, calls: () => calls };
}

test('freed memory is given back once connections stop arriving, and only after enough of them', async (t) => {
  let accepted = 0;
  const { release, calls } = releaseCounter({
    connectionsAccepted: () => accepted,
    minimumChurn: 10,
  });
  t.after(() => release.stop());
  accepted += 9;
  await sleep(150);
  assert.equal(calls(), 0, 'fewer connections than the minimum: nothing to give back');
  accepted += 1;
  await eventually(() => calls() === 1, 'a release after the tenth connection');
  await sleep(150);
  assert.equal(calls(), 1, 'no new connections since: no second release');
});

test('freed memory is given back during continuous churn, at the longest wait', async (t) => {
  let accepted = 0;
  // Every check sees a new connection: there is never a quiet moment.
  const { release, calls } = releaseCounter({
    connectionsAccepted: () => (accepted += 5),
    minimumChurn: 10,
    longestWaitMs: 300,
  });
  t.after(() => release.stop());
  await sleep(150);
  assert.equal(calls(), 0, 'connections still arriving, the longest wait not reached');
  await eventually(() => calls() >= 1, 'a release at the longest wait', 3000);
});

test(
  'bulwark serve gives freed memory back after start-up and after a burst of connections',
  { skip: noTrim },
  async (t) => {
    const dataDir = tempDir(t);
    const server = await startServer(t, ['--data-dir', dataDir, ...EPHEMERAL_PORTS_WITH_DEV], {
      env: { BULWARK_LOG_LEVEL: 'DEBUG' },
    });
    const released = (reason: string) =>
      server
        .stderr()
        .split('\n')
        .filter((line) => line.includes('freed memory given back') && line.includes(reason));
    await eventually(() => released('"reason":"start-up"').length === 1, 'the start-up release');
    // 64 clients is the broker's minimum churn for a release.
    for (let i = 0; i < 64; i++) {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${server.ready.dev}`, {
        clientId: `burst-${i}`,
        reconnectPeriod: 0,
      });
      await client.endAsync();
    }
    await eventually(
      () => released('connections stopped arriving').length === 1,
      'a release after the burst',
    );
    // What an operator reads in the line: how much went back, and what it cost.
    const line = JSON.parse(released('connections stopped arriving')[0] as string) as Record<
      string,
      unknown
    >;
    assert.equal(typeof line.releasedBytes, 'number', JSON.stringify(line));
    assert.equal(typeof line.ms, 'number', JSON.stringify(line));
    assert.equal(await stopServer(server), 0, server.stderr());
  },
);
