import { BulwarkError, isBulwarkError } from '../errors.js';
import type { SealContext, Sealer } from '../kms/index.js';
import type { Engine, SqlExecutor, SqlRow, SqlValue } from './engine.js';
import { addColumnSql, createTableSql, TableSql, type RangeShape } from './sql.js';
import {
  UNREADABLE,
  type ListQuery,
  type Migration,
  type Range,
  type Row,
  type Store,
  type StoreWriter,
  type TableDef,
  type UnreadableColumn,
} from './types.js';

const JSON_VALUE = 0x00;
const BYTES_VALUE = 0x01;

function encodeValue(value: unknown): Buffer {
  if (value instanceof Uint8Array) return Buffer.concat([Buffer.of(BYTES_VALUE), value]);
  return Buffer.concat([Buffer.of(JSON_VALUE), Buffer.from(JSON.stringify(value), 'utf8')]);
}

function decodeValue(bytes: Buffer): unknown {
  const body = bytes.subarray(1);
  return bytes[0] === BYTES_VALUE ? Buffer.from(body) : JSON.parse(body.toString('utf8'));
}

/** The primary key as bound into each sealed value's context. */
function encodePrimaryKey(def: TableDef, row: Row): string {
  return JSON.stringify(def.primaryKey.map((name) => row[name]));
}

/** Applies the schema changes after the ones the database already records, and returns the tables. */
async function migrate(engine: Engine, migrations: Migration[]): Promise<Map<string, TableDef>> {
  const tables = new Map<string, TableDef>();
  const ddl = new Map<string, string[]>();
  for (const migration of migrations) {
    const statements: string[] = [];
    for (const step of migration.steps) {
      if ('createTable' in step) {
        const def = {
          ...step.createTable,
          columns: { ...step.createTable.columns },
          sealed: [...step.createTable.sealed],
        };
        if (tables.has(def.name))
          throw new Error(`migration ${migration.id}: table ${def.name} already defined`);
        tables.set(def.name, def);
        statements.push(...createTableSql(engine, def));
      } else {
        const { table, name, column } = step.addColumn;
        const def = tables.get(table);
        if (!def) throw new Error(`migration ${migration.id}: table ${table} is not defined`);
        if (column === 'sealed') def.sealed.push(name);
        else def.columns[name] = { ...column, nullable: true };
        statements.push(addColumnSql(engine, table, name, column));
      }
    }
    ddl.set(migration.id, statements);
  }
  await engine.transaction(async (tx) => {
    await engine.lockForMigration(tx);
    await tx.run(
      `CREATE TABLE IF NOT EXISTS bulwark_migrations (id TEXT PRIMARY KEY, applied_at ${engine.columnType({ type: 'integer' })} NOT NULL)`,
    );
    const applied = new Set(
      (await tx.all('SELECT id FROM bulwark_migrations')).map((row) => row.id as string),
    );
    const known = new Set(migrations.map((migration) => migration.id));
    const unknown = [...applied].filter((id) => !known.has(id));
    if (unknown.length) {
      throw new BulwarkError(
        'StoreSchemaInvalid',
        `the database was migrated by a newer Bulwark (unknown migrations: ${unknown.join(', ')}); upgrade Bulwark`,
        { unknown },
      );
    }
    for (const migration of migrations) {
      if (applied.has(migration.id)) continue;
      for (const statement of ddl.get(migration.id) as string[]) await tx.run(statement);
      await tx.run('INSERT INTO bulwark_migrations (id, applied_at) VALUES (?, ?)', [
        migration.id,
        Date.now(),
      ]);
    }
  });
  return tables;
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: string }).code;
  return (
    code === '23505' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === 'SQLITE_CONSTRAINT_UNIQUE'
  );
}

/**
 * The store every capability writes through. Sealing on write and opening on read happen here,
 * so capability code cannot forget them: a row's sealed columns are sealed under the table's
 * scope key (or the default key), bound to table, primary key and column.
 */
export class SealedStore implements Store {
  readonly engine: Engine['kind'];
  private readonly sqlEngine: Engine;
  private readonly sealer: Sealer;
  private readonly tables: Map<string, TableSql>;
  private readonly session: StoreWriter;

  private constructor(engine: Engine, sealer: Sealer, tables: Map<string, TableDef>) {
    this.engine = engine.kind;
    this.sqlEngine = engine;
    this.sealer = sealer;
    this.tables = new Map([...tables].map(([name, def]) => [name, new TableSql(def)]));
    this.session = this.sessionOn(engine);
  }

  static async open(options: {
    engine: Engine;
    sealer: Sealer;
    migrations: Migration[];
  }): Promise<SealedStore> {
    const tables = await migrate(options.engine, options.migrations);
    return new SealedStore(options.engine, options.sealer, tables);
  }

  tableDefs(): TableDef[] {
    return [...this.tables.values()].map((table) => table.def);
  }

  private table(name: string): TableSql {
    const table = this.tables.get(name);
    if (!table) throw new Error(`internal: no table ${name} in the store schema`);
    return table;
  }

  private context(table: TableSql, row: Row, column: string): SealContext {
    return { table: table.def.name, primaryKey: encodePrimaryKey(table.def, row), column };
  }

  private scopeOf(table: TableSql, row: Row): string | undefined {
    const scope = table.def.scope;
    const value = scope && row[scope.column];
    return scope && value !== null && value !== undefined
      ? `${scope.prefix}/${String(value)}`
      : undefined;
  }

  private async toSql(table: TableSql, row: Row): Promise<SqlValue[]> {
    for (const name of Object.keys(row)) {
      if (!table.columnNames.includes(name))
        throw new Error(`internal: ${table.def.name} has no column ${name}`);
    }
    const scope = this.scopeOf(table, row);
    const values: SqlValue[] = [];
    for (const name of Object.keys(table.def.columns)) values.push((row[name] ?? null) as SqlValue);
    for (const name of table.def.sealed) {
      const value = row[name];
      values.push(
        value === undefined || value === null
          ? null
          : await this.sealer.seal(encodeValue(value), this.context(table, row, name), scope),
      );
    }
    return values;
  }

  private plaintextOf(table: TableSql, sqlRow: SqlRow): Row {
    const row: Row = {};
    for (const [name, column] of Object.entries(table.def.columns))
      row[name] = this.sqlEngine.fromSql(column, sqlRow[name] ?? null);
    return row;
  }

  private async fromSql(
    table: TableSql,
    sqlRow: SqlRow,
    onUnreadable: 'throw' | 'mark',
  ): Promise<Row> {
    const row = this.plaintextOf(table, sqlRow);
    let unreadable: Record<string, UnreadableColumn> | undefined;
    for (const name of table.def.sealed) {
      const sealed = sqlRow[name];
      if (sealed === null || sealed === undefined) {
        row[name] = null;
        continue;
      }
      try {
        row[name] = decodeValue(
          await this.sealer.open(sealed as Buffer, this.context(table, row, name)),
        );
      } catch (error) {
        if (onUnreadable === 'throw' || !isBulwarkError(error)) throw error;
        row[name] = undefined;
        (unreadable ??= {})[name] = { code: error.code, message: error.message };
      }
    }
    if (unreadable)
      Object.defineProperty(row, UNREADABLE, { value: unreadable, enumerable: false });
    return row;
  }

  private keyValues(table: TableSql, key: Row): SqlValue[] {
    return table.def.primaryKey.map((name) => {
      const value = key[name];
      if (value === undefined) throw new Error(`internal: key of ${table.def.name} lacks ${name}`);
      return value as SqlValue;
    });
  }

  /** Equality and range conditions on plaintext columns, as statement shape and parameters. */
  private plainConditions(
    table: TableSql,
    where: Row,
    range: Range | undefined,
  ): { columns: string[]; range?: RangeShape; params: SqlValue[] } {
    const columns = Object.keys(where);
    for (const name of range ? [...columns, range.column] : columns) {
      if (!(name in table.def.columns))
        throw new Error(
          `internal: ${table.def.name}.${name} is sealed or absent and cannot be queried`,
        );
    }
    const params = columns.map((name) => where[name] as SqlValue);
    if (!range) return { columns, params };
    const from = range.from !== undefined && range.from !== null;
    const to = range.to !== undefined && range.to !== null;
    if (from) params.push(range.from as SqlValue);
    if (to) params.push(range.to as SqlValue);
    return { columns, range: { column: range.column, from, to }, params };
  }

  private sessionOn(sql: SqlExecutor): StoreWriter {
    return {
      insert: async (tableName, row) => {
        const table = this.table(tableName);
        try {
          await sql.run(table.insert, await this.toSql(table, row));
        } catch (error) {
          if (!isUniqueViolation(error)) throw error;
          throw new BulwarkError(
            'StoreConstraint',
            `${tableName} already holds a row with key ${encodePrimaryKey(table.def, row)}`,
            { table: tableName },
          );
        }
      },
      put: async (tableName, row) => {
        const table = this.table(tableName);
        await sql.run(table.upsert, await this.toSql(table, row));
      },
      get: async (tableName, key) => {
        const table = this.table(tableName);
        const [found] = await sql.all(table.selectByKey, this.keyValues(table, key));
        return found && this.fromSql(table, found, 'throw');
      },
      list: async (tableName, query: ListQuery = {}) => {
        const table = this.table(tableName);
        const where = this.plainConditions(table, query.where ?? {}, query.range);
        const params = [...where.params];
        if (query.after) params.push(...this.keyValues(table, query.after));
        if (query.limit !== undefined) params.push(query.limit);
        const rows = await sql.all(
          table.select(
            where.columns,
            query.after !== undefined,
            query.limit !== undefined,
            query.plaintextOnly ? Object.keys(table.def.columns) : undefined,
            query.newestFirst,
            where.range,
          ),
          params,
        );
        if (query.plaintextOnly) return rows.map((row) => this.plaintextOf(table, row));
        const result: Row[] = [];
        for (const row of rows)
          result.push(await this.fromSql(table, row, query.onUnreadable ?? 'throw'));
        return result;
      },
      count: async (tableName, where = {}) => {
        const table = this.table(tableName);
        const entries = Object.entries(where);
        const [row] = await sql.all(
          table.count(entries.map(([name]) => name)),
          entries.map(([, value]) => value as SqlValue),
        );
        return Number(row?.n ?? 0);
      },
      delete: async (tableName, key) => {
        const table = this.table(tableName);
        return (await sql.run(table.deleteByKey, this.keyValues(table, key))) > 0;
      },
      deleteWhere: async (tableName, where, range) => {
        const table = this.table(tableName);
        if (Object.keys(where).length === 0)
          throw new Error(`internal: deleteWhere on ${tableName} without a condition`);
        const conditions = this.plainConditions(table, where, range);
        return sql.run(table.deleteWhere(conditions.columns, conditions.range), conditions.params);
      },
    };
  }

  insert(table: string, row: Row): Promise<void> {
    return this.session.insert(table, row);
  }

  put(table: string, row: Row): Promise<void> {
    return this.session.put(table, row);
  }

  get(table: string, key: Row): Promise<Row | undefined> {
    return this.session.get(table, key);
  }

  list(table: string, query?: ListQuery): Promise<Row[]> {
    return this.session.list(table, query);
  }

  count(table: string, where?: Row): Promise<number> {
    return this.session.count(table, where);
  }

  delete(table: string, key: Row): Promise<boolean> {
    return this.session.delete(table, key);
  }

  deleteWhere(table: string, where: Row, range?: Range): Promise<number> {
    return this.session.deleteWhere(table, where, range);
  }

  transaction<T>(work: (tx: StoreWriter) => Promise<T>): Promise<T> {
    return this.sqlEngine.transaction((tx) => work(this.sessionOn(tx)));
  }

  close(): Promise<void> {
    return this.sqlEngine.close();
  }

  // ---- rewrap: maintenance over raw sealed values, never exposed to capability code ----

  /** Raw sealed values of one table after `after` (primary-key order), for the rewrap job. */
  async scanSealed(
    tableName: string,
    after: Row | undefined,
    limit: number,
  ): Promise<{ key: Row; sealed: Record<string, Buffer> }[]> {
    const table = this.table(tableName);
    const columns = [...table.def.primaryKey, ...table.def.sealed];
    const params: SqlValue[] = after ? this.keyValues(table, after) : [];
    params.push(limit);
    const rows = await this.sqlEngine.all(
      table.select([], after !== undefined, true, columns),
      params,
    );
    return rows.map((row) => {
      const key: Row = {};
      for (const name of table.def.primaryKey)
        key[name] = this.sqlEngine.fromSql(table.def.columns[name] as never, row[name] ?? null);
      const sealed: Record<string, Buffer> = {};
      for (const name of table.def.sealed) if (row[name]) sealed[name] = row[name] as Buffer;
      return { key, sealed };
    });
  }

  /** Re-seals one value under the newest version of its key; false if a writer replaced it meanwhile. */
  async rewrapValue(tableName: string, key: Row, column: string, sealed: Buffer): Promise<boolean> {
    const table = this.table(tableName);
    const next = await this.sealer.rewrap(sealed, this.context(table, key, column));
    return (
      (await this.sqlEngine.run(table.compareAndSet(column), [
        next,
        ...this.keyValues(table, key),
        sealed,
      ])) > 0
    );
  }

  needsRewrap(sealed: Buffer): boolean {
    return this.sealer.needsRewrap(sealed);
  }
}
