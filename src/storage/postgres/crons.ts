import { WhereClause } from "./where-clause.js";
import type { Cron, CronFilter, CronPatch, CronRepository, CronSearch, CronThreadAction, NewCron } from "../crons.js";
import type { MigrationSet } from "../migrations.js";
import type { PostgresDatabase } from "./database.js";

/** The crons table as version 1 made it; also the baseline of a new install until a step follows. */
const cronTable = (schema: string) => `CREATE TABLE ${schema}.agent_crons (
     cron_id TEXT COLLATE "C" PRIMARY KEY,
     assistant_id TEXT NOT NULL,
     thread_id TEXT COLLATE "C" REFERENCES ${schema}.agent_threads (thread_id) ON DELETE CASCADE,
     owner TEXT,
     schedule TEXT NOT NULL,
     timezone TEXT,
     end_time TIMESTAMPTZ,
     enabled BOOLEAN NOT NULL DEFAULT true,
     on_run_completed TEXT,
     payload JSONB NOT NULL DEFAULT '{}',
     metadata JSONB NOT NULL DEFAULT '{}',
     next_run_date TIMESTAMPTZ,
     created_at TIMESTAMPTZ NOT NULL,
     updated_at TIMESTAMPTZ NOT NULL
   );
   CREATE INDEX agent_crons_owner_created ON ${schema}.agent_crons (owner, created_at);
   CREATE INDEX agent_crons_thread ON ${schema}.agent_crons (thread_id);
   CREATE INDEX agent_crons_due ON ${schema}.agent_crons (next_run_date) WHERE enabled;`;

/**
 * The crons table, numbered in `agent_cron_migrations`; it refers to the thread tables, so it is
 * set up after them. A thread's crons go with the thread.
 */
export const cronMigrations = (schema: string): MigrationSet => ({
  table: "agent_cron_migrations",
  baseline: cronTable(schema),
  steps: [cronTable(schema)],
});

interface CronRow {
  cron_id: string;
  assistant_id: string;
  thread_id: string | null;
  owner: string | null;
  schedule: string;
  timezone: string | null;
  end_time: Date | null;
  enabled: boolean;
  on_run_completed: string | null;
  payload: Record<string, unknown>;
  metadata: Record<string, unknown>;
  next_run_date: Date | null;
  created_at: Date;
  updated_at: Date;
}

const toCron = (row: CronRow): Cron => ({
  cronId: row.cron_id,
  assistantId: row.assistant_id,
  threadId: row.thread_id,
  owner: row.owner,
  schedule: row.schedule,
  timezone: row.timezone,
  endTime: row.end_time,
  enabled: row.enabled,
  onRunCompleted: row.on_run_completed as CronThreadAction | null,
  payload: row.payload,
  metadata: row.metadata,
  nextRunDate: row.next_run_date,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

/** Patch fields and their columns, as PostgreSQL takes them. */
const COLUMNS: { [Key in keyof Required<CronPatch>]: [column: string, toSql: (value: Required<CronPatch>[Key]) => unknown] } = {
  schedule: ["schedule", (value) => value],
  timezone: ["timezone", (value) => value],
  endTime: ["end_time", (value) => value],
  enabled: ["enabled", (value) => value],
  onRunCompleted: ["on_run_completed", (value) => value],
  payload: ["payload", (value) => JSON.stringify(value)],
  metadata: ["metadata", (value) => JSON.stringify(value)],
  nextRunDate: ["next_run_date", (value) => value],
};

/** Crons on PostgreSQL, shared by every instance on the schema: each occurrence is claimed by one. */
export class PostgresCrons implements CronRepository {
  /** Validated by the database, so it may be written into SQL. */
  readonly #schema: string;

  constructor(private readonly database: PostgresDatabase) {
    this.#schema = database.schema;
  }

  setup(): Promise<void> {
    return this.database.migrate(cronMigrations(this.#schema));
  }

  async createCron(cron: NewCron): Promise<Cron> {
    const { rows } = await this.database.query<CronRow>(
      `INSERT INTO ${this.#schema}.agent_crons (cron_id, assistant_id, thread_id, owner, schedule, timezone, end_time, enabled, on_run_completed, payload, metadata, next_run_date, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) RETURNING *`,
      [
        cron.cronId,
        cron.assistantId,
        cron.threadId,
        cron.owner,
        cron.schedule,
        cron.timezone,
        cron.endTime,
        cron.enabled,
        cron.onRunCompleted,
        JSON.stringify(cron.payload),
        JSON.stringify(cron.metadata),
        cron.nextRunDate,
        this.database.clock.now(),
      ],
    );
    return toCron(rows[0] as CronRow);
  }

  async getCron(cronId: string, owner?: string): Promise<Cron | null> {
    const { rows } =
      owner === undefined
        ? await this.database.query<CronRow>(`SELECT * FROM ${this.#schema}.agent_crons WHERE cron_id = $1`, [cronId])
        : await this.database.query<CronRow>(`SELECT * FROM ${this.#schema}.agent_crons WHERE cron_id = $1 AND owner = $2`, [cronId, owner]);
    return rows[0] ? toCron(rows[0]) : null;
  }

  async updateCron(cronId: string, patch: CronPatch): Promise<Cron | null> {
    const values: unknown[] = [cronId, this.database.clock.now()];
    const sets = ["updated_at = $2"];
    for (const [key, value] of Object.entries(patch) as Array<[keyof CronPatch, never]>) {
      if (value === undefined) continue;
      const [column, toSql] = COLUMNS[key];
      values.push((toSql as (value: unknown) => unknown)(value));
      sets.push(`${column} = $${values.length}`);
    }
    const { rows } = await this.database.query<CronRow>(`UPDATE ${this.#schema}.agent_crons SET ${sets.join(", ")} WHERE cron_id = $1 RETURNING *`, values);
    return rows[0] ? toCron(rows[0]) : null;
  }

  async deleteCron(cronId: string, owner?: string): Promise<boolean> {
    const result =
      owner === undefined
        ? await this.database.query(`DELETE FROM ${this.#schema}.agent_crons WHERE cron_id = $1`, [cronId])
        : await this.database.query(`DELETE FROM ${this.#schema}.agent_crons WHERE cron_id = $1 AND owner = $2`, [cronId, owner]);
    return (result.rowCount ?? 0) > 0;
  }

  #where(filter: CronFilter): WhereClause {
    const where = new WhereClause();
    if (filter.owner !== undefined) where.add((owner) => `owner = ${owner}`, filter.owner);
    if (filter.assistantId !== undefined) where.add((id) => `assistant_id = ${id}`, filter.assistantId);
    if (filter.threadId !== undefined) where.add((id) => `thread_id = ${id}`, filter.threadId);
    if (filter.enabled !== undefined) where.add((enabled) => `enabled = ${enabled}`, filter.enabled);
    return where.metadata(filter.metadata);
  }

  async searchCrons(search: CronSearch): Promise<Cron[]> {
    const { sql, parameters } = this.#where(search);
    const direction = search.sortOrder === "asc" ? "ASC" : "DESC";
    // NULLs (stateless crons' threads, finished crons' dates) sort first ascending, as SQLite sorts them.
    const nulls = direction === "ASC" ? "NULLS FIRST" : "NULLS LAST";
    const { rows } = await this.database.query<CronRow>(
      `SELECT * FROM ${this.#schema}.agent_crons ${sql} ORDER BY ${search.sortBy} ${direction} ${nulls}, cron_id ${direction}
       LIMIT $${parameters.length + 1} OFFSET $${parameters.length + 2}`,
      [...parameters, search.limit, search.offset],
    );
    return rows.map(toCron);
  }

  async countCrons(filter: CronFilter): Promise<number> {
    const { sql, parameters } = this.#where(filter);
    const { rows } = await this.database.query<{ count: string }>(`SELECT count(*) AS count FROM ${this.#schema}.agent_crons ${sql}`, parameters);
    return Number(rows[0]?.count ?? 0);
  }

  async dueCrons(now: Date, limit: number): Promise<Cron[]> {
    const { rows } = await this.database.query<CronRow>(
      `SELECT * FROM ${this.#schema}.agent_crons WHERE enabled AND next_run_date <= $1 ORDER BY next_run_date LIMIT $2`,
      [now, limit],
    );
    return rows.map(toCron);
  }

  async claimOccurrence(cronId: string, seen: Date, next: Date | null): Promise<Cron | null> {
    // One statement: of instances claiming the same occurrence, the first to update wins and the
    // others, re-checking the row after it, find the date moved and update nothing. Compared to
    // the millisecond, as JavaScript read it.
    const { rows } = await this.database.query<CronRow>(
      `UPDATE ${this.#schema}.agent_crons SET next_run_date = $3
       WHERE cron_id = $1 AND date_trunc('milliseconds', next_run_date) = $2 AND enabled RETURNING *`,
      [cronId, seen, next],
    );
    return rows[0] ? toCron(rows[0]) : null;
  }
}
