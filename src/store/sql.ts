import type { Engine } from './engine.js';
import type { ColumnDef, TableDef } from './types.js';

/** Which bounds of a range a statement has placeholders for. */
export interface RangeShape {
  column: string;
  from: boolean;
  to: boolean;
}

const IDENTIFIER = /^[a-z][a-z0-9_]{0,62}$/;

export function quote(identifier: string): string {
  if (!IDENTIFIER.test(identifier))
    throw new Error(`invalid SQL identifier ${JSON.stringify(identifier)}`);
  return `"${identifier}"`;
}

function columnSql(
  engine: Engine,
  name: string,
  column: ColumnDef | 'sealed',
  inKey: boolean,
): string {
  const nullable = column === 'sealed' ? true : column.nullable === true && !inKey;
  return `${quote(name)} ${engine.columnType(column)}${nullable ? '' : ' NOT NULL'}`;
}

export function createTableSql(engine: Engine, def: TableDef): string[] {
  const columns = [
    ...Object.entries(def.columns).map(([name, column]) =>
      columnSql(engine, name, column, def.primaryKey.includes(name)),
    ),
    ...def.sealed.map((name) => columnSql(engine, name, 'sealed', false)),
  ];
  const statements = [
    `CREATE TABLE ${quote(def.name)} (${columns.join(', ')}, PRIMARY KEY (${def.primaryKey.map(quote).join(', ')}))`,
  ];
  for (const index of def.indexes ?? []) {
    statements.push(
      `CREATE INDEX ${quote(`${def.name}_${index.join('_')}_idx`)} ON ${quote(def.name)} (${index.map(quote).join(', ')})`,
    );
  }
  return statements;
}

export function addColumnSql(
  engine: Engine,
  table: string,
  name: string,
  column: ColumnDef | 'sealed',
): string {
  return `ALTER TABLE ${quote(table)} ADD COLUMN ${columnSql(engine, name, column === 'sealed' ? column : { ...column, nullable: true }, false)}`;
}

/** Builds each statement once per table; the engines cache the prepared forms. */
export class TableSql {
  readonly def: TableDef;
  readonly columnNames: string[];
  readonly insert: string;
  readonly upsert: string;
  readonly selectByKey: string;
  readonly deleteByKey: string;
  private readonly keyWhere: string;
  private readonly table: string;

  constructor(def: TableDef) {
    this.def = def;
    this.table = quote(def.name);
    this.columnNames = [...Object.keys(def.columns), ...def.sealed];
    const columns = this.columnNames.map(quote).join(', ');
    const placeholders = this.columnNames.map(() => '?').join(', ');
    this.insert = `INSERT INTO ${this.table} (${columns}) VALUES (${placeholders})`;
    const updates = this.columnNames
      .filter((name) => !def.primaryKey.includes(name))
      .map((name) => `${quote(name)} = excluded.${quote(name)}`);
    const conflict = def.primaryKey.map(quote).join(', ');
    this.upsert = updates.length
      ? `${this.insert} ON CONFLICT (${conflict}) DO UPDATE SET ${updates.join(', ')}`
      : `${this.insert} ON CONFLICT (${conflict}) DO NOTHING`;
    this.keyWhere = def.primaryKey.map((name) => `${quote(name)} = ?`).join(' AND ');
    this.selectByKey = `SELECT ${columns} FROM ${this.table} WHERE ${this.keyWhere}`;
    this.deleteByKey = `DELETE FROM ${this.table} WHERE ${this.keyWhere}`;
  }

  /**
   * Equality on `columns`, then the bounds of `range` (each bound present adds a placeholder,
   * lower first), then the keyset condition: after `after` in the listing's order.
   */
  private where(columns: string[], after: boolean, descending = false, range?: RangeShape): string {
    const clauses = columns.map((name) => `${quote(name)} = ?`);
    if (range?.from) clauses.push(`${quote(range.column)} >= ?`);
    if (range?.to) clauses.push(`${quote(range.column)} <= ?`);
    if (after) {
      const key = this.def.primaryKey.map(quote).join(', ');
      clauses.push(
        `(${key}) ${descending ? '<' : '>'} (${this.def.primaryKey.map(() => '?').join(', ')})`,
      );
    }
    return clauses.length ? ` WHERE ${clauses.join(' AND ')}` : '';
  }

  select(
    whereColumns: string[],
    after: boolean,
    limited: boolean,
    columns: string[] = this.columnNames,
    descending = false,
    range?: RangeShape,
  ): string {
    const order = this.def.primaryKey
      .map((name) => (descending ? `${quote(name)} DESC` : quote(name)))
      .join(', ');
    return `SELECT ${columns.map(quote).join(', ')} FROM ${this.table}${this.where(whereColumns, after, descending, range)} ORDER BY ${order}${limited ? ' LIMIT ?' : ''}`;
  }

  deleteWhere(whereColumns: string[], range?: RangeShape): string {
    return `DELETE FROM ${this.table}${this.where(whereColumns, false, false, range)}`;
  }

  count(whereColumns: string[]): string {
    return `SELECT COUNT(*) AS n FROM ${this.table}${this.where(whereColumns, false)}`;
  }

  /** Replaces one sealed value only if it is still the one read, so a concurrent write wins. */
  compareAndSet(column: string): string {
    return `UPDATE ${this.table} SET ${quote(column)} = ? WHERE ${this.keyWhere} AND ${quote(column)} = ?`;
  }
}
