import type { IamUserCaller } from '../api/operation.js';
import type { Logger } from '../logs/logger.js';
import type { Store, StoreReader, StoreWriter } from '../store/index.js';
import { IAM_LAST_ACCESSED_TABLE } from './migrations.js';
import type { IamUser } from './users.js';

/**
 * Last-accessed data (IAM's "last accessed" tab, at action level for every action): per user and
 * action, when an allowed call was last made and on what resource. The access report reads it to
 * tell permissions in use from permissions never used.
 */

/** One (user, action) pair's last allowed call. */
export interface LastAccess {
  action: string;
  /** Epoch ms. */
  at: number;
  /** The ARN the call was authorized on (`*` for calls on no particular resource). */
  resource: string;
}

/** What the access report reads last-accessed data from. */
export interface LastAccessedSource {
  /** The user's last access per action; uses by an earlier user of the same name are left out. */
  lastAccessOf(user: IamUser): Promise<LastAccess[]>;
}

/** Where the authorizer notes each allowed call. Must return at once and never throw. */
export interface UsageRecorder {
  record(
    caller: Pick<IamUserCaller, 'userName' | 'principalId'>,
    action: string,
    resource: string,
  ): void;
}

/** Each (user, action) row is written at most this often by one process. */
export const LAST_ACCESSED_WRITE_INTERVAL_MS = 60_000;
/** First uses are gathered this long, then written together in one transaction. */
const BATCH_DELAY_MS = 1_000;

interface PendingUse extends LastAccess {
  userName: string;
  userId: string;
}

const keyOf = (userName: string, action: string) => `${userName}\u0000${action}`;

/** The stored last-accessed data of one user (for a process that records none itself). */
export async function storedLastAccessOf(store: StoreReader, user: IamUser): Promise<LastAccess[]> {
  const rows = await store.list(IAM_LAST_ACCESSED_TABLE, { where: { user_name: user.userName } });
  return rows
    .filter((row) => row.user_id === user.userId)
    .map((row) => ({
      action: row.action as string,
      at: row.accessed_at as number,
      resource: row.resource as string,
    }));
}

/** Writes one use unless the stored row is newer (another process may have written it). */
async function writeUse(tx: StoreWriter, use: PendingUse): Promise<void> {
  const stored = await tx.get(IAM_LAST_ACCESSED_TABLE, {
    user_name: use.userName,
    action: use.action,
  });
  if (stored && stored.user_id === use.userId && (stored.accessed_at as number) >= use.at) return;
  await tx.put(IAM_LAST_ACCESSED_TABLE, {
    user_name: use.userName,
    action: use.action,
    user_id: use.userId,
    accessed_at: use.at,
    resource: use.resource,
  });
}

/**
 * Records allowed calls off the request path: `record` only notes the use in memory; a timer
 * writes due uses in one transaction, each (user, action) at most once per
 * LAST_ACCESSED_WRITE_INTERVAL_MS, so a busy user costs no write per request. A failed write is
 * logged and retried after the interval; it never reaches a request. `close` writes what is left.
 */
export class LastAccessedRecorder implements UsageRecorder, LastAccessedSource {
  /** Uses not yet written (or being written), by user and action: the latest one only. */
  private readonly pending = new Map<string, PendingUse>();
  /** When each (user, action) was last written by this process, while that limits the next write. */
  private readonly written = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: { store: Store; logger: Logger; now?: () => number }) {}

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  record(
    caller: Pick<IamUserCaller, 'userName' | 'principalId'>,
    action: string,
    resource: string,
  ): void {
    if (this.closed) return;
    this.pending.set(keyOf(caller.userName, action), {
      userName: caller.userName,
      userId: caller.principalId,
      action,
      resource,
      at: this.now(),
    });
    if (!this.timer) this.schedule(BATCH_DELAY_MS);
  }

  /** Stored data, overlaid with uses this process has not written yet. */
  async lastAccessOf(user: IamUser): Promise<LastAccess[]> {
    const byAction = new Map<string, LastAccess>();
    for (const access of await storedLastAccessOf(this.options.store, user))
      byAction.set(access.action, access);
    for (const use of this.pending.values()) {
      if (use.userName !== user.userName || use.userId !== user.userId) continue;
      const stored = byAction.get(use.action);
      if (!stored || stored.at < use.at)
        byAction.set(use.action, { action: use.action, at: use.at, resource: use.resource });
    }
    return [...byAction.values()];
  }

  /** Stops the timer and writes every pending use, due or not: nothing recorded is lost. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
    await this.write([...this.pending.entries()]);
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.writing = this.writing.then(() => this.writeDue());
    }, delayMs);
    // Recording never keeps the process alive; close() writes what is left.
    this.timer.unref();
  }

  private async writeDue(): Promise<void> {
    const now = this.now();
    const due: [string, PendingUse][] = [];
    let nextDue = Infinity;
    for (const [key, use] of this.pending) {
      const writtenAt = this.written.get(key);
      if (writtenAt === undefined || now - writtenAt >= LAST_ACCESSED_WRITE_INTERVAL_MS)
        due.push([key, use]);
      else nextDue = Math.min(nextDue, writtenAt + LAST_ACCESSED_WRITE_INTERVAL_MS);
    }
    for (const [key] of due) this.written.set(key, now);
    for (const [key, writtenAt] of this.written)
      if (now - writtenAt >= LAST_ACCESSED_WRITE_INTERVAL_MS) this.written.delete(key);
    await this.write(due);
    // Uses that failed to write are due again after the interval, with the ones not yet due.
    if (due.some(([key]) => this.pending.has(key)))
      nextDue = Math.min(nextDue, now + LAST_ACCESSED_WRITE_INTERVAL_MS);
    if (!this.closed && !this.timer && nextDue !== Infinity)
      this.schedule(Math.max(BATCH_DELAY_MS, nextDue - this.now()));
  }

  /** Writes `uses` in one transaction; a use recorded again meanwhile stays pending. */
  private async write(uses: [string, PendingUse][]): Promise<void> {
    if (uses.length === 0) return;
    try {
      await this.options.store.transaction(async (tx) => {
        for (const [, use] of uses) await writeUse(tx, use);
      });
    } catch (error) {
      this.options.logger.error(
        { err: error, uses: uses.length },
        'could not write last-accessed data for the access report; will retry',
      );
      return;
    }
    for (const [key, use] of uses) if (this.pending.get(key) === use) this.pending.delete(key);
  }
}
