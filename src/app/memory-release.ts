import { createRequire } from 'node:module';
import type { Logger } from '../logs/logger.js';

/**
 * Hands memory the process has freed back to the operating system after bursts of connections.
 *
 * A TLS handshake allocates and frees tens of kilobytes of native memory (OpenSSL's record and
 * handshake buffers, Node's stream wrappers). glibc's allocator keeps what is freed between
 * live allocations for reuse and never returns it on its own: `malloc_trim(0)` gives those pages
 * back (measured: 2.4–2.5 MiB after 1,000 TLS clients connected, 2.6–4.8 MiB after start-up,
 * about 0.5 ms each; see bench/RESULTS.md). Node has no binding for it, so it is called through
 * koffi's FFI; where there is no glibc (musl, macOS, Windows) there is nothing to call and
 * nothing is done.
 */

/** Below this many new connections since the last release there is too little to give back. */
const MINIMUM_CHURN = 64;
const CHECK_EVERY_MS = 500;
/** Under continuous churn there is no quiet moment; release at least this often then. */
const LONGEST_WAIT_MS = 30_000;

/** glibc's `malloc_trim(0)`, or undefined where the platform has none. */
export function loadMallocTrim(): (() => void) | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // koffi's native part is a per-platform package: loaded only here, so a platform without
    // one still runs Bulwark.
    const koffi = createRequire(import.meta.url)('koffi') as typeof import('koffi');
    const mallocTrim = koffi.load('libc.so.6').func('int malloc_trim(size_t pad)');
    return () => {
      mallocTrim(0);
    };
  } catch {
    return undefined;
  }
}

export interface MemoryReleaseOptions {
  /** A count that only grows, by one for each connection accepted on any listener. */
  connectionsAccepted: () => number;
  /** What gives freed memory back: `loadMallocTrim()`'s result. */
  release: () => void;
  logger: Logger;
  minimumChurn?: number;
  checkEveryMs?: number;
  longestWaitMs?: number;
}

/**
 * Releases freed memory once connections stop arriving (one check interval without a new one),
 * or every `longestWaitMs` while they keep arriving, whenever at least `minimumChurn` connections
 * came since the last release.
 */
export class MemoryRelease {
  private readonly options: Required<Omit<MemoryReleaseOptions, 'logger'>>;
  private readonly logger: Logger;
  private readonly timer: NodeJS.Timeout;
  private seen: number;
  private churn = 0;
  private lastReleaseAt = Date.now();

  constructor(options: MemoryReleaseOptions) {
    this.options = {
      connectionsAccepted: options.connectionsAccepted,
      release: options.release,
      minimumChurn: options.minimumChurn ?? MINIMUM_CHURN,
      checkEveryMs: options.checkEveryMs ?? CHECK_EVERY_MS,
      longestWaitMs: options.longestWaitMs ?? LONGEST_WAIT_MS,
    };
    this.logger = options.logger.child({ component: 'memory' });
    this.seen = options.connectionsAccepted();
    this.timer = setInterval(() => this.check(), this.options.checkEveryMs);
    this.timer.unref();
  }

  /** Gives freed memory back now: after start-up, whose own garbage is released with it. */
  releaseNow(reason: string): void {
    const rssBefore = process.memoryUsage.rss();
    const started = performance.now();
    this.options.release();
    this.churn = 0;
    this.lastReleaseAt = Date.now();
    this.logger.debug(
      {
        reason,
        releasedBytes: Math.max(0, rssBefore - process.memoryUsage.rss()),
        ms: Number((performance.now() - started).toFixed(3)),
      },
      'freed memory given back to the operating system',
    );
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private check(): void {
    const accepted = this.options.connectionsAccepted();
    const arriving = accepted !== this.seen;
    this.churn += accepted - this.seen;
    this.seen = accepted;
    if (this.churn < this.options.minimumChurn) return;
    if (!arriving) this.releaseNow('connections stopped arriving');
    else if (Date.now() - this.lastReleaseAt >= this.options.longestWaitMs)
      this.releaseNow('connections keep arriving');
  }
}
