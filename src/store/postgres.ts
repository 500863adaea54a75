import pg from 'pg';
import type { Engine, SqlExecutor, SqlRow, SqlValue } from './engine.js';
import type { ColumnDef } from './types.js';

export interface PostgresOptions {
  url: string;
  schema: string;
  poolSize: number;
}

/** BIGINT comes back from pg as a string by default; Bulwark's integers are timestamps and counts. */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === pg.types.builtins.INT8
      ? (value: string) => Number(value)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** `?` placeholders (the shared SQL) to PostgreSQL's `$n`. */
function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

function executor(client: pg.Pool | pg.PoolClient): SqlExecutor {
  return {
    run: async (sql, params) => (await client.query(numbered(sql), params)).rowCount ?? 0,
    all: async (sql, params) => (await client.query(numbered(sql), params)).rows as SqlRow[],
  };
}

/** PostgreSQL (pg): the shared state of a cluster. Each store lives in a schema of its own. */
export class PostgresEngine implements Engine {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool;
  private readonly direct: SqlExecutor;

  private constructor(pool: pg.Pool) {
    this.pool = pool;
    this.direct = executor(pool);
  }

  static async connect(options: PostgresOptions): Promise<PostgresEngine> {
    // The schema name is spliced into SQL and search_path: only a plain identifier will do.
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema))
      throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(options.schema)}`);
    const bootstrap = new pg.Client({ connectionString: options.url });
    await bootstrap.connect();
    try {
      await bootstrap.query(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`);
    } finally {
      await bootstrap.end();
    }
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      options: `-c search_path="${options.schema}"`,
      types,
    });
    // An idle client losing its connection must not crash the process: the pool drops it and
    // the next query reports the outage to its caller.
    pool.on('error', () => undefined);
    return new PostgresEngine(pool);
  }

  columnType(column: ColumnDef | 'sealed'): string {
    if (column === 'sealed') return 'BYTEA';
    return { text: 'TEXT', integer: 'BIGINT', real: 'DOUBLE PRECISION', boolean: 'BOOLEAN' }[
      column.type
    ];
  }

  fromSql(_column: ColumnDef, value: SqlValue): unknown {
    return value;
  }

  run(sql: string, params?: SqlValue[]): Promise<number> {
    return this.direct.run(sql, params);
  }

  all(sql: string, params?: SqlValue[]): Promise<SqlRow[]> {
    return this.direct.all(sql, params);
  }

  async transaction<T>(work: (tx: SqlExecutor) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const result = await work(executor(client));
      await client.query('COMMIT');
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async lockForMigration(tx: SqlExecutor): Promise<void> {
    await tx.all(
      "SELECT pg_advisory_xact_lock(hashtext('bulwark-migrations:' || current_schema()))",
    );
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
