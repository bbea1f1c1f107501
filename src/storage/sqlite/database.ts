/**
 * The service's SQLite file: one connection shared by every storage part (checkpoints, threads,
 * runs, instances, documents, the response cache), so one file holds everything and one backup
 * copies it. Its settings, its statement cache, its transactions and its migrations live here.
 */
import BetterSqlite3 from "better-sqlite3";
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import * as sqliteVec from "sqlite-vec";
import { MonotonicClock } from "../../monotonic-clock.js";
import { type MigrationRequest, type MigrationSet, runMigrations } from "../migrations.js";
import type { QueryObserver } from "../query-observer.js";
import { canonicalJson } from "./canonical-json.js";
import { jsonContains } from "../json-containment.js";
import { WalCheckpoints } from "./wal-checkpoints.js";

/** The database file's name in `DATA_DIR`. */
export const DATABASE_FILE = "stateful-agent.sqlite";

/** The path of the database file in `dataDir`, creating the folder when missing. */
export function databaseFileIn(dataDir: string): string {
  mkdirSync(dataDir, { recursive: true });
  return join(dataDir, DATABASE_FILE);
}

/** Adds sqlite-vec's functions (cosine distance over embeddings, for the documents' vector search). */
export function loadVectorSearch(connection: BetterSqlite3.Database): void {
  sqliteVec.load(connection);
}

/**
 * Transactions after which a file's log is checkpointed by a worker thread (see
 * wal-checkpoints.ts): a database written this often is a server's; a short-lived one (a
 * command, a test) does not pay for a thread.
 */
const BACKGROUND_CHECKPOINTS_AFTER = 256;

/** Distinct SQL texts kept prepared. */
const STATEMENT_CACHE_LIMIT = 256;

/** One SQLite database file and its single connection. Pass `":memory:"` for a private in-memory one. */
export class SqliteDatabase {
  readonly backend = "sqlite" as const;
  /** The better-sqlite3 connection; parts use it through `statement` and `transaction`. */
  readonly connection: BetterSqlite3.Database;
  /** Strictly increasing timestamps for every part's rows, so "newest first" is stable within one millisecond. */
  readonly clock = new MonotonicClock();
  readonly #statements = new Map<string, BetterSqlite3.Statement>();
  /** Version tables already brought up to date by this connection. */
  readonly #migrated = new Set<string>();
  #observer: QueryObserver | undefined;
  readonly #transactionStatements: { deferred?: TransactionStatements; immediate?: TransactionStatements; savepoint?: TransactionStatements } = {};
  #transactions = 0;
  #walCheckpoints: WalCheckpoints | undefined;

  constructor(path: string) {
    this.connection = new BetterSqlite3(path);
    this.connection.pragma("journal_mode = WAL");
    this.connection.pragma("busy_timeout = 5000");
    // In WAL mode NORMAL loses no committed transaction when the process dies; only a power cut
    // can take back the last few, and it is much cheaper than FULL.
    this.connection.pragma("synchronous = NORMAL");
    // Runs cascade with their thread.
    this.connection.pragma("foreign_keys = ON");
    loadVectorSearch(this.connection);
    // `json_canonical(text)`: JSON values compare as JSON (thread search by metadata), not as the SQL values json_extract makes of them.
    this.connection.function("json_canonical", { deterministic: true }, (text: unknown) => (typeof text === "string" ? canonicalJson(JSON.parse(text)) : null));
    // `json_contains(container, contained)`: jsonb's `@>` (thread search by values); NULL when either is.
    this.connection.function("json_contains", { deterministic: true }, (container: unknown, contained: unknown) =>
      typeof container === "string" && typeof contained === "string" ? Number(jsonContains(JSON.parse(container), JSON.parse(contained))) : null,
    );
    // `unicode_lower(text)`: JavaScript's toLowerCase (SQLite's lower() folds ASCII only), as thread search by text lowercases its query.
    this.connection.function("unicode_lower", { deterministic: true }, (text: unknown) => (typeof text === "string" ? text.toLowerCase() : null));
  }

  /** The database of `DATA_DIR` (the folder is created when missing). */
  static inDirectory(dataDir: string): SqliteDatabase {
    return new SqliteDatabase(databaseFileIn(dataDir));
  }

  /** The file's path (`:memory:` for an in-memory database). */
  get path(): string {
    return this.connection.name;
  }

  /** The folder of the file, as an operator names it (`DATA_DIR`). */
  get directory(): string {
    return dirname(this.connection.name);
  }

  get open(): boolean {
    return this.connection.open;
  }

  /**
   * Times every statement (`run`, `get`, `all`) and transaction from now on; `undefined` stops.
   * Statements prepared before are prepared again, so that without an observer nothing is timed
   * at all.
   */
  observe(observer: QueryObserver | undefined): void {
    this.#observer = observer;
    this.#statements.clear();
  }

  /** Prepares each SQL text once: preparing costs more than running these small statements. */
  statement(source: string): BetterSqlite3.Statement {
    let statement = this.#statements.get(source);
    if (!statement) {
      // List queries build their SQL from the filters given; keep the cache from growing without end.
      if (this.#statements.size >= STATEMENT_CACHE_LIMIT) this.#statements.clear();
      statement = this.connection.prepare(source);
      if (this.#observer) timeStatement(statement, this.#observer);
      this.#statements.set(source, statement);
    }
    return statement;
  }

  /**
   * Runs `work` in a transaction: committed when it returns, rolled back when it throws. `write`
   * takes the write lock first (BEGIN IMMEDIATE), so a read-then-write cannot be overtaken by
   * another process on the file. Nested calls become savepoints.
   *
   * better-sqlite3's `connection.transaction(work)` does the same, but builds four wrapper
   * functions for each `work` it is given, and the hot paths pass a new closure each time:
   * their statements are prepared once here instead.
   */
  transaction<T>(work: () => T, options: { write?: boolean } = {}): T {
    const observer = this.#observer;
    if (!observer) return this.#transaction(work, options.write === true);
    const started = performance.now();
    try {
      return this.#transaction(work, options.write === true);
    } finally {
      observer("transaction", (performance.now() - started) / 1000);
    }
  }

  #transaction<T>(work: () => T, write: boolean): T {
    const nested = this.connection.inTransaction;
    const [begin, commit, rollback] = nested ? this.#savepointStatements : write ? this.#immediateStatements : this.#deferredStatements;
    begin.run();
    try {
      const result = work();
      // A promise would be committed before its work ran: refuse, as better-sqlite3 does.
      if (typeof (result as { then?: unknown } | null)?.then === "function") throw new TypeError("a transaction's work must not be async");
      commit.run();
      if (!nested && ++this.#transactions === BACKGROUND_CHECKPOINTS_AFTER) this.#checkpointInBackground();
      return result;
    } catch (error) {
      // SQLite may have rolled back already (a full disk, an interrupted statement).
      if (this.connection.inTransaction) {
        rollback.run();
        if (nested) commit.run();
      }
      throw error;
    }
  }

  get #deferredStatements(): TransactionStatements {
    return (this.#transactionStatements.deferred ??= this.#prepareTransaction("BEGIN", "COMMIT", "ROLLBACK"));
  }

  get #immediateStatements(): TransactionStatements {
    return (this.#transactionStatements.immediate ??= this.#prepareTransaction("BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"));
  }

  /** A nested transaction: RELEASE commits it into its parent; ROLLBACK TO undoes it, and RELEASE then ends it. */
  get #savepointStatements(): TransactionStatements {
    return (this.#transactionStatements.savepoint ??= this.#prepareTransaction('SAVEPOINT "nested"', 'RELEASE "nested"', 'ROLLBACK TO "nested"'));
  }

  #prepareTransaction(begin: string, commit: string, rollback: string): TransactionStatements {
    return [this.connection.prepare(begin), this.connection.prepare(commit), this.connection.prepare(rollback)];
  }

  /**
   * Brings one part's tables up to date (see `runMigrations`) before it returns; idempotent. The
   * write lock is held throughout, so two processes starting on one file cannot both migrate.
   */
  migrate(set: MigrationSet): void {
    if (this.#migrated.has(set.table)) return;
    this.transaction(() => {
      const runner = runMigrations(set);
      let answer: number | undefined;
      for (let request = runner.next(); !request.done; request = runner.next(answer)) answer = this.#answer(request.value);
    }, { write: true });
    this.#migrated.add(set.table);
  }

  #answer(request: MigrationRequest): number | undefined {
    switch (request.kind) {
      case "create-version-table":
        this.connection.exec(`CREATE TABLE IF NOT EXISTS ${request.table} (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)`);
        return undefined;
      case "applied-version":
        return (this.connection.prepare(`SELECT max(version) AS version FROM ${request.table}`).get() as { version: number | null }).version ?? 0;
      case "query-version":
        return (this.connection.prepare(request.sql).get() as { version: number | null } | undefined)?.version ?? 0;
      case "run":
        this.connection.exec(request.sql);
        return undefined;
      case "record": {
        const columns = this.connection.prepare("SELECT name FROM pragma_table_info(?)").all(request.table) as Array<{ name: string }>;
        if (columns.some((column) => column.name === "applied_at")) {
          this.connection.prepare(`INSERT INTO ${request.table} (version, applied_at) VALUES (?, ?)`).run(request.version, new Date().toISOString());
        } else this.connection.prepare(`INSERT INTO ${request.table} (version) VALUES (?)`).run(request.version);
        return undefined;
      }
    }
  }

  /** Whether a worker thread checkpoints the log (see wal-checkpoints.ts). */
  get checkpointsInBackground(): boolean {
    return this.#walCheckpoints?.running === true;
  }

  #checkpointInBackground(): void {
    if (this.connection.memory || this.#walCheckpoints || String(this.connection.pragma("journal_mode", { simple: true })) !== "wal") return;
    this.#walCheckpoints = new WalCheckpoints(this.connection);
  }

  /** Closes the connection; later calls do nothing. */
  close(): void {
    this.#walCheckpoints?.stop();
    this.#statements.clear();
    if (this.connection.open) this.connection.close();
  }
}

/** A transaction's begin, commit and rollback statements. */
type TransactionStatements = [BetterSqlite3.Statement, BetterSqlite3.Statement, BetterSqlite3.Statement];

/** Makes `statement`'s `run`, `get` and `all` tell `observer` how long each call took. */
function timeStatement(statement: BetterSqlite3.Statement, observer: QueryObserver): void {
  for (const method of ["run", "get", "all"] as const) {
    const original = statement[method] as (...parameters: unknown[]) => unknown;
    (statement as unknown as Record<string, unknown>)[method] = (...parameters: unknown[]) => {
      const started = performance.now();
      try {
        return original.apply(statement, parameters);
      } finally {
        observer("statement", (performance.now() - started) / 1000);
      }
    };
  }
}
