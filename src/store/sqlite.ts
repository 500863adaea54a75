import Database from 'better-sqlite3';
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { BulwarkError } from '../errors.js';
import type { Engine, SqlExecutor, SqlRow, SqlValue } from './engine.js';
import { SerialLock } from './serial-lock.js';
import type { ColumnDef } from './types.js';

export interface SqliteOptions {
  path: string;
  /** `full` fsyncs the WAL on every commit (survives power loss); `normal` survives process kills. */
  synchronous: 'full' | 'normal';
}

/** How long a statement waits for another connection's write (another bulwark process's). */
export const BUSY_TIMEOUT_MS = 10_000;

/**
 * The error every edge reports when SQLite's busy wait ran out behind another process's write
 * (better-sqlite3 gives it the code SQLITE_BUSY); undefined for any other error.
 */
export function storeBusyError(error: unknown): BulwarkError | undefined {
  if (!(error instanceof Error) || (error as { code?: unknown }).code !== 'SQLITE_BUSY')
    return undefined;
  return new BulwarkError(
    'StoreBusy',
    `A database in the data directory stayed locked by another process for longer than the ${BUSY_TIMEOUT_MS / 1000} s ` +
      'Bulwark waits for it (SQLite: database is locked). Retry once the other bulwark command ' +
      'or server has finished its write.',
  );
}

/** SQLite (better-sqlite3, WAL): the embedded default. */
export class SqliteEngine implements Engine {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly statements = new Map<string, Database.Statement>();
  private readonly lock = new SerialLock();
  private readonly direct: SqlExecutor;

  constructor(options: SqliteOptions) {
    mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    const isNew = !existsSync(options.path);
    this.db = new Database(options.path);
    if (isNew) chmodSync(options.path, 0o600);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma(`synchronous = ${options.synchronous.toUpperCase()}`);
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.db.pragma('foreign_keys = ON');
    this.direct = {
      run: async (sql, params) => this.statement(sql).run(...toSqlite(params)).changes,
      all: async (sql, params) => this.statement(sql).all(...toSqlite(params)) as SqlRow[],
    };
  }

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  columnType(column: ColumnDef | 'sealed'): string {
    if (column === 'sealed') return 'BLOB';
    return { text: 'TEXT', integer: 'INTEGER', real: 'REAL', boolean: 'INTEGER' }[column.type];
  }

  fromSql(column: ColumnDef, value: SqlValue): unknown {
    return column.type === 'boolean' && value !== null ? value === 1 : value;
  }

  // Outside a transaction a statement runs at once, unless a transaction holds the connection.
  run(sql: string, params?: SqlValue[]): Promise<number> {
    return this.lock.busy
      ? this.lock.run(() => this.direct.run(sql, params))
      : this.direct.run(sql, params);
  }

  all(sql: string, params?: SqlValue[]): Promise<SqlRow[]> {
    return this.lock.busy
      ? this.lock.run(() => this.direct.all(sql, params))
      : this.direct.all(sql, params);
  }

  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    return this.lock.run(async () => {
      this.statement('BEGIN IMMEDIATE').run();
      try {
        const result = await work(this.direct);
        this.statement('COMMIT').run();
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.statement('ROLLBACK').run();
        throw error;
      }
    });
  }

  // BEGIN IMMEDIATE already holds SQLite's single write lock.
  async lockForMigration(): Promise<void> {}

  async close(): Promise<void> {
    await this.lock.run(async () => {
      if (this.db.open) {
        this.db.pragma('wal_checkpoint(TRUNCATE)');
        this.db.close();
      }
    });
  }
}

function toSqlite(params: SqlValue[] = []): unknown[] {
  return params.map((value) => (typeof value === 'boolean' ? (value ? 1 : 0) : value));
}
