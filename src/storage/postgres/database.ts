/**
 * The service's PostgreSQL database: one pool and one schema shared by every storage part, and
 * by every instance of the service that points at it. Its settings, its statement cache, its
 * transactions, its advisory locks and its migrations live here.
 */
import { createHash } from "node:crypto";
import pg, { type Pool, type PoolClient, type QueryResultRow } from "pg";
import { MonotonicClock } from "../../monotonic-clock.js";
import { type MigrationRequest, type MigrationSet, runMigrations } from "../migrations.js";
import { onceUntilFailure } from "../../once.js";
import type { QueryObserver } from "../query-observer.js";

/** Distinct SQL texts kept as named prepared statements on each connection. */
const STATEMENT_CACHE_LIMIT = 256;

/** Schema names the service accepts: plain lower-case identifiers, safe to write into SQL. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** PostgreSQL's error for a prepared statement whose result columns changed since it was prepared. */
const CACHED_PLAN_CHANGED = "0A000";

const statementName = (text: string, generation: number) => `sa_${createHash("sha1").update(`${generation}:${text}`).digest("hex").slice(0, 24)}`;

/** Options of `PostgresDatabase`. */
export interface PostgresDatabaseOptions {
  /** Schema of the tables (created if missing); `public` by default. */
  schema?: string;
  /** Whether `close()` ends the pool (when the database opened it). */
  ownsPool?: boolean;
}

/** One PostgreSQL schema reached through a pool. */
export class PostgresDatabase {
  readonly backend = "postgres" as const;
  readonly pool: Pool;
  /** Validated, so parts may write it into SQL as `${schema}.table`. */
  readonly schema: string;
  readonly #ownsPool: boolean;
  /** Strictly increasing timestamps for this process's rows, so "newest first" is stable within one millisecond. */
  readonly clock = new MonotonicClock();
  readonly #statementNames = new Map<string, string>();
  readonly #migrations = new Map<string, () => Promise<void>>();
  #closed = false;
  #observer: QueryObserver | undefined;

  constructor(pool: Pool, options: PostgresDatabaseOptions = {}) {
    this.pool = pool;
    this.schema = options.schema ?? "public";
    if (!IDENTIFIER.test(this.schema)) throw new Error(`Invalid schema name ${JSON.stringify(this.schema)}`);
    this.#ownsPool = options.ownsPool ?? false;
  }

  /** A database on its own pool of at most `poolSize` connections to `url`, which `close()` ends. */
  static connect(url: string, options: { poolSize?: number; schema?: string } = {}): PostgresDatabase {
    return new PostgresDatabase(new pg.Pool({ connectionString: url, max: options.poolSize }), { schema: options.schema, ownsPool: true });
  }

  /** Times every `query` and `transaction` from now on (the wait for a pooled connection included); `undefined` stops. */
  observe(observer: QueryObserver | undefined): void {
    this.#observer = observer;
  }

  /**
   * Runs one statement outside any transaction, prepared once per connection: parsing and
   * planning the same small statements on every turn costs more than running them. Texts past
   * the cache's bound (list queries built from filters) run unprepared.
   */
  async query<Row extends QueryResultRow = QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<Row>> {
    const observer = this.#observer;
    if (!observer) return this.#query<Row>(text, values);
    const started = performance.now();
    try {
      return await this.#query<Row>(text, values);
    } finally {
      observer("statement", (performance.now() - started) / 1000);
    }
  }

  async #query<Row extends QueryResultRow>(text: string, values: unknown[]): Promise<pg.QueryResult<Row>> {
    let name = this.#statementNames.get(text);
    if (name === undefined && this.#statementNames.size < STATEMENT_CACHE_LIMIT) {
      name = statementName(text, 0);
      this.#statementNames.set(text, name);
    }
    if (name === undefined) return this.pool.query<Row>(text, values);
    try {
      return await this.pool.query<Row>({ name, text, values });
    } catch (error) {
      // Another instance changed a table under a prepared `SELECT *` (a rolling upgrade): the
      // server refuses the old plan. A new name prepares it again on every connection.
      if ((error as { code?: string }).code !== CACHED_PLAN_CHANGED) throw error;
      const renamed = statementName(text, Date.now());
      this.#statementNames.set(text, renamed);
      return this.pool.query<Row>({ name: renamed, text, values });
    }
  }

  /**
   * Runs `work` in a transaction on one pooled connection: committed when it resolves, rolled
   * back when it throws, the connection released either way.
   */
  async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const observer = this.#observer;
    if (!observer) return this.#transaction(work);
    const started = performance.now();
    try {
      return await this.#transaction(work);
    } finally {
      observer("transaction", (performance.now() - started) / 1000);
    }
  }

  async #transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Takes the advisory lock named `key` until the transaction `client` is in ends: instances on
   * one database take turns at whatever it guards.
   */
  async lock(client: PoolClient, key: string): Promise<void> {
    await client.query("SELECT pg_advisory_xact_lock(hashtext($1))", [key]);
  }

  /**
   * Brings one part's tables up to date (see `runMigrations`); idempotent, shared by concurrent
   * callers, and retried after a failure. Instances starting together take turns under one lock.
   */
  migrate(set: MigrationSet): Promise<void> {
    let once = this.#migrations.get(set.table);
    if (!once) {
      once = onceUntilFailure(() => this.#migrate(set));
      this.#migrations.set(set.table, once);
    }
    return once();
  }

  async #migrate(set: MigrationSet): Promise<void> {
    await this.transaction(async (client) => {
      await this.lock(client, "stateful-agent:migrations");
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`);
      const runner = runMigrations(set);
      let answer: number | undefined;
      for (let request = runner.next(); !request.done; request = runner.next(answer)) answer = await this.#answer(client, request.value);
    });
  }

  async #answer(client: PoolClient, request: MigrationRequest): Promise<number | undefined> {
    const table = `${this.schema}.${"table" in request ? request.table : ""}`;
    switch (request.kind) {
      case "create-version-table":
        await client.query(`CREATE TABLE IF NOT EXISTS ${table} (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)`);
        return undefined;
      case "applied-version": {
        const { rows } = await client.query<{ version: number | null }>(`SELECT max(version) AS version FROM ${table}`);
        return rows[0]?.version ?? 0;
      }
      case "query-version": {
        const { rows } = await client.query<{ version: number | null }>(request.sql);
        return rows[0]?.version ?? 0;
      }
      case "run":
        await client.query(request.sql);
        return undefined;
      case "record": {
        // Version tables of earlier releases may have no `applied_at`.
        const { rows } = await client.query(
          "SELECT 1 FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 AND column_name = 'applied_at'",
          [this.schema, request.table],
        );
        const sql = rows.length > 0 ? `INSERT INTO ${table} (version, applied_at) VALUES ($1, now())` : `INSERT INTO ${table} (version) VALUES ($1)`;
        await client.query(sql, [request.version]);
        return undefined;
      }
    }
  }

  /** Ends the pool if this database opened it (a caller's pool stays open); later calls do nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ownsPool) await this.pool.end();
  }
}
