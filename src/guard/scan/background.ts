import type { Logger } from '../../logs/logger.js';
import type { ScanService } from './scanner.js';
import type { Scan, SourceKind } from './types.js';

/** Long timers are re-armed in steps: Node fires a timer over 2^31 − 1 ms at once. */
const MAX_TIMER_MS = 24 * 60 * 60 * 1000;

/**
 * Scans a server runs in the background: those StartScan asks for, the scheduled ones
 * (`guard.scan.intervalHours`), and RUNNING scans whose runner is gone, resumed at start and at
 * each scheduled round. Closing stops them after the page in hand, their leases given up, so
 * the next runner resumes them at once.
 */
export class BackgroundScans {
  /** The scans themselves: read, list, cancel, findings. */
  readonly service: ScanService;
  private readonly logger: Logger;
  private readonly intervalMs: number | undefined;
  private readonly stopping = new AbortController();
  private readonly running = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(options: { scans: ScanService; logger: Logger; intervalHours: number | null }) {
    this.service = options.scans;
    this.logger = options.logger.child({ component: 'guard-scan' });
    this.intervalMs =
      options.intervalHours === null ? undefined : options.intervalHours * 60 * 60 * 1000;
  }

  /** Resumes orphaned scans, and arms the schedule if there is one. */
  async start(): Promise<void> {
    await this.resumeOrphans();
    if (this.intervalMs !== undefined) await this.armSchedule();
  }

  /** Starts a scan now (StartScan); it runs in the background. */
  async startScan(sources: readonly SourceKind[] | undefined): Promise<Scan> {
    const scan = (await this.service.create('manual', sources)) as Scan;
    this.runInBackground(scan.scanId);
    return scan;
  }

  private runInBackground(scanId: string): void {
    if (this.running.has(scanId) || this.stopping.signal.aborted) return;
    const run = this.service
      .run(scanId, { signal: this.stopping.signal })
      .catch((error: unknown) => this.logger.error({ err: error, scanId }, 'scan could not be run'))
      .finally(() => this.running.delete(scanId));
    this.running.set(scanId, run);
  }

  private async resumeOrphans(): Promise<void> {
    for (const scan of await this.service.orphaned()) {
      this.logger.info({ scanId: scan.scanId }, 'resuming an unfinished scan');
      this.runInBackground(scan.scanId);
    }
  }

  /** Sets the timer for the next scheduled scan: one interval after the last one started. */
  private async armSchedule(): Promise<void> {
    const intervalMs = this.intervalMs as number;
    const last = await this.service.latest('scheduled');
    // The first one is due at once, on the interval's grid (the same on every node).
    const due = last
      ? last.startedAt + intervalMs
      : Math.floor(Date.now() / intervalMs) * intervalMs;
    this.rearm(due);
  }

  private async scheduledRound(due: number): Promise<void> {
    try {
      if (Date.now() < due) return this.rearm(due);
      await this.resumeOrphans();
      const previous = await this.service.latest('scheduled');
      if (previous?.status === 'RUNNING') {
        this.logger.warn(
          { scanId: previous.scanId },
          'a scheduled scan is due but the previous one is still running: this round is skipped',
        );
        return this.rearm(due + (this.intervalMs as number));
      }
      // Every node computes the same id for a due time: only one of them creates the scan.
      const scan = await this.service.create(
        'scheduled',
        undefined,
        this.service.scheduledScanId(due),
      );
      if (scan) this.runInBackground(scan.scanId);
      await this.armSchedule();
    } catch (error) {
      this.logger.error({ err: error }, 'scheduled scan round failed; retrying in a minute');
      this.rearm(Date.now() + 60_000);
    }
  }

  private rearm(due: number): void {
    if (this.stopping.signal.aborted) return;
    this.timer = setTimeout(
      () => void this.scheduledRound(due),
      Math.min(Math.max(0, due - Date.now()), MAX_TIMER_MS),
    );
    this.timer.unref();
  }

  /** Stops the schedule and the running scans (each after its page in hand). */
  async close(): Promise<void> {
    this.stopping.abort();
    clearTimeout(this.timer);
    await Promise.all(this.running.values());
  }
}
