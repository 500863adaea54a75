import type { ColumnDef } from './types.js';

export type SqlValue = string | number | boolean | null | Buffer;
export type SqlRow = Record<string, SqlValue>;

/**
 * The little an engine must do; all SQL is built once, in sql.ts, in the subset both SQLite and
 * PostgreSQL accept. Placeholders are written `?` and engines translate them when they must.
 */
export interface SqlExecutor {
  run(sql: string, params?: SqlValue[]): Promise<number>;
  all(sql: string, params?: SqlValue[]): Promise<SqlRow[]>;
}

export interface Engine extends SqlExecutor {
  readonly kind: 'sqlite' | 'postgres';
  /** The column type for a plaintext column, and for sealed bytes. */
  columnType(column: ColumnDef | 'sealed'): string;
  /** Reads back a value as the column's type (SQLite keeps booleans as 0/1). */
  fromSql(column: ColumnDef, value: SqlValue): unknown;
  /** Runs `work` inside one transaction, serialised against other transactions of this store. */
  transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T>;
  /** A lock that keeps two processes from migrating at once (inside a transaction). */
  lockForMigration(tx: SqlExecutor): Promise<void>;
  close(): Promise<void>;
}
