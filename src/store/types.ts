/** A plaintext column: only what lookups need (ids, names, status, timestamps). */
export interface ColumnDef {
  type: 'text' | 'integer' | 'real' | 'boolean';
  nullable?: boolean;
}

/**
 * A table as a capability declares it. Plaintext columns are indexable; sealed columns hold any
 * JSON value or bytes and are sealed on write and opened on read by the store itself.
 */
export interface TableDef {
  name: string;
  columns: Record<string, ColumnDef>;
  primaryKey: string[];
  sealed: string[];
  /**
   * Seal a row's values under a key of the subject's own, `<prefix>/<value of column>`, so that
   * erasing that subject's key erases them (crypto-shredding). Rows whose column is null use
   * the default key.
   */
  scope?: { column: string; prefix: string };
  indexes?: string[][];
}

export type MigrationStep =
  | { createTable: TableDef }
  | { addColumn: { table: string; name: string; column: ColumnDef | 'sealed' } };

/** A versioned schema change; applied once, in order, recorded by id. */
export interface Migration {
  id: string;
  steps: MigrationStep[];
}

export type Row = Record<string, unknown>;
export type PlainValue = string | number | boolean | null;

/** Rows whose plaintext column lies between two bounds, both inclusive, either optional. */
export interface Range {
  column: string;
  from?: PlainValue;
  to?: PlainValue;
}

export interface ListQuery {
  /** Equality on plaintext columns. */
  where?: Row;
  range?: Range;
  /** Keyset pagination: rows whose primary key comes after this one in the listing's order. */
  after?: Row;
  limit?: number;
  /** Descending primary-key order: with `limit: 1`, the newest row. */
  newestFirst?: boolean;
  /** Read the plaintext columns only; sealed columns are left out (and not opened). */
  plaintextOnly?: boolean;
  /**
   * What to do with a row whose sealed value cannot be opened (key disabled, erased, …):
   * throw (default), or return the row with those columns undefined and the reasons under
   * the UNREADABLE symbol.
   */
  onUnreadable?: 'throw' | 'mark';
}

export const UNREADABLE: unique symbol = Symbol('bulwark.unreadable');

export interface UnreadableColumn {
  code: string;
  message: string;
}

/** What capability code sees: rows in, rows out; sealing is not its concern. */
export interface StoreReader {
  get(table: string, key: Row): Promise<Row | undefined>;
  list(table: string, query?: ListQuery): Promise<Row[]>;
  count(table: string, where?: Row): Promise<number>;
}

export interface StoreWriter extends StoreReader {
  /** Fails with StoreConstraint when a row with the same primary key exists. */
  insert(table: string, row: Row): Promise<void>;
  /** Inserts or replaces the whole row. */
  put(table: string, row: Row): Promise<void>;
  delete(table: string, key: Row): Promise<boolean>;
  /**
   * Deletes every row whose plaintext columns equal `where` (which must not be empty) and lie in
   * `range`; returns how many.
   */
  deleteWhere(table: string, where: Row, range?: Range): Promise<number>;
}

export interface Store extends StoreWriter {
  readonly engine: 'sqlite' | 'postgres';
  /**
   * Runs `work` in one transaction: all its writes commit together or not at all. Inside it, use
   * only `tx`: on SQLite the store itself waits for the transaction to end, so calling it from
   * `work` never resolves; on PostgreSQL it would run outside the transaction.
   */
  transaction<T>(work: (tx: StoreWriter) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
