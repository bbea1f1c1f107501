/**
 * The one migration runner of both backends. Each storage part names its own version table and
 * lists its steps; version n is `steps[n - 1]` and is never edited once released, only followed
 * by new steps. Version-table names and numbers are those earlier releases wrote, so their
 * databases open unchanged.
 */

/** The schema history of one storage part. */
export interface MigrationSet {
  /** The part's version table, e.g. `agent_checkpoint_migrations`. */
  readonly table: string;
  /** SQL of each version, oldest first. */
  readonly steps: readonly string[];
  /**
   * SQL that creates the newest schema at once, for a database that has none of it: a new
   * install then never runs steps written for names or shapes it never had. The contract
   * suites check it gives what the steps give.
   */
  readonly baseline?: string;
  /**
   * A query answering `version`: how far the tables of a release that kept no version table
   * here (or kept it under another name) already are, read from the tables themselves; 0 when
   * there are none. Asked only while this version table is empty.
   */
  readonly adopt?: string;
}

/**
 * One thing the runner asks of the database. The runner is a generator so that one algorithm
 * drives both backends: SQLite answers each step synchronously (inside BEGIN IMMEDIATE), and
 * PostgreSQL asynchronously (inside a transaction holding the migration lock).
 */
export type MigrationRequest =
  /** Create the version table when missing (`version`, `applied_at`); answer nothing. */
  | { kind: "create-version-table"; table: string }
  /** Answer the highest version recorded, 0 for none. */
  | { kind: "applied-version"; table: string }
  /** Run a query and answer the `version` of its first row, 0 for none. */
  | { kind: "query-version"; sql: string }
  /** Run one step's SQL (several statements allowed); answer nothing. */
  | { kind: "run"; sql: string }
  /** Record a version as applied (version tables of earlier releases may lack `applied_at`); answer nothing. */
  | { kind: "record"; table: string; version: number };

/** A database written by a newer release: running on it could lose what that release added. */
export class NewerSchemaError extends Error {
  constructor(table: string, applied: number, known: number) {
    super(`The database is at version ${applied} of ${table}, newer than this release knows (${known}): upgrade stateful-agent to open it.`);
    this.name = "NewerSchemaError";
  }
}

/**
 * The runner: asks for the steps of `set` newer than the recorded version to be run and
 * recorded, one by one; returns how many it applied. Drive it with each answer passed to `next`.
 */
export function* runMigrations(set: MigrationSet): Generator<MigrationRequest, number, number | undefined> {
  yield { kind: "create-version-table", table: set.table };
  let applied = (yield { kind: "applied-version", table: set.table }) ?? 0;
  if (applied > set.steps.length) throw new NewerSchemaError(set.table, applied, set.steps.length);
  if (applied === 0 && set.adopt !== undefined) {
    // Tables an earlier release made: record how far they are, and go on from there.
    const adopted = (yield { kind: "query-version", sql: set.adopt }) ?? 0;
    for (let version = 1; version <= adopted; version += 1) yield { kind: "record", table: set.table, version };
    applied = adopted;
  }
  if (applied === 0 && set.baseline !== undefined) {
    yield { kind: "run", sql: set.baseline };
    for (let version = 1; version <= set.steps.length; version += 1) yield { kind: "record", table: set.table, version };
    return set.steps.length;
  }
  for (let version = applied + 1; version <= set.steps.length; version += 1) {
    yield { kind: "run", sql: set.steps[version - 1] as string };
    yield { kind: "record", table: set.table, version };
  }
  return set.steps.length - applied;
}
