import type { Statement } from "better-sqlite3";
import type { Cron, CronFilter, CronPatch, CronRepository, CronSearch, CronThreadAction, NewCron } from "../crons.js";
import type { MigrationSet } from "../migrations.js";
import { canonicalJson } from "./canonical-json.js";
import type { SqliteDatabase } from "./database.js";
import { jsonPath } from "./thread-tables.js";

/** The crons table, numbered in its own version table; a thread's crons go with the thread. */
export const CRON_MIGRATIONS: MigrationSet = {
  table: "agent_cron_migrations",
  steps: [
    `CREATE TABLE agent_crons (
       cron_id TEXT PRIMARY KEY,
       assistant_id TEXT NOT NULL,
       thread_id TEXT REFERENCES threads (thread_id) ON DELETE CASCADE,
       owner TEXT,
       schedule TEXT NOT NULL,
       timezone TEXT,
       end_time TEXT,
       enabled INTEGER NOT NULL DEFAULT 1,
       on_run_completed TEXT,
       payload TEXT NOT NULL DEFAULT '{}',
       metadata TEXT NOT NULL DEFAULT '{}',
       next_run_date TEXT,
       created_at TEXT NOT NULL,
       updated_at TEXT NOT NULL
     );
     CREATE INDEX agent_crons_owner_created ON agent_crons (owner, created_at);
     CREATE INDEX agent_crons_thread ON agent_crons (thread_id);
     CREATE INDEX agent_crons_due ON agent_crons (next_run_date) WHERE enabled = 1;`,
  ],
};

interface CronRow {
  cron_id: string;
  assistant_id: string;
  thread_id: string | null;
  owner: string | null;
  schedule: string;
  timezone: string | null;
  end_time: string | null;
  enabled: number;
  on_run_completed: string | null;
  payload: string;
  metadata: string;
  next_run_date: string | null;
  created_at: string;
  updated_at: string;
}

const toCron = (row: CronRow): Cron => ({
  cronId: row.cron_id,
  assistantId: row.assistant_id,
  threadId: row.thread_id,
  owner: row.owner,
  schedule: row.schedule,
  timezone: row.timezone,
  endTime: row.end_time === null ? null : new Date(row.end_time),
  enabled: row.enabled === 1,
  onRunCompleted: row.on_run_completed as CronThreadAction | null,
  payload: JSON.parse(row.payload) as Record<string, unknown>,
  metadata: JSON.parse(row.metadata) as Record<string, unknown>,
  nextRunDate: row.next_run_date === null ? null : new Date(row.next_run_date),
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
});

const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);

/** Patch fields and their columns, as SQLite stores them. */
const COLUMNS: { [Key in keyof Required<CronPatch>]: [column: string, toSql: (value: Required<CronPatch>[Key]) => unknown] } = {
  schedule: ["schedule", (value) => value],
  timezone: ["timezone", (value) => value],
  endTime: ["end_time", iso],
  enabled: ["enabled", (value) => (value ? 1 : 0)],
  onRunCompleted: ["on_run_completed", (value) => value],
  payload: ["payload", (value) => JSON.stringify(value)],
  metadata: ["metadata", (value) => JSON.stringify(value)],
  nextRunDate: ["next_run_date", iso],
};

/** Crons in the service's SQLite file (one process owns it, so claims never race). */
export class SqliteCrons implements CronRepository {
  constructor(private readonly database: SqliteDatabase) {}

  #sql(source: string): Statement {
    return this.database.statement(source);
  }

  async setup(): Promise<void> {
    this.database.migrate(CRON_MIGRATIONS);
  }

  async createCron(cron: NewCron): Promise<Cron> {
    const now = this.database.clock.now().toISOString();
    this.#sql(
      `INSERT INTO agent_crons (cron_id, assistant_id, thread_id, owner, schedule, timezone, end_time, enabled, on_run_completed, payload, metadata, next_run_date, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      cron.cronId,
      cron.assistantId,
      cron.threadId,
      cron.owner,
      cron.schedule,
      cron.timezone,
      iso(cron.endTime),
      cron.enabled ? 1 : 0,
      cron.onRunCompleted,
      JSON.stringify(cron.payload),
      JSON.stringify(cron.metadata),
      iso(cron.nextRunDate),
      now,
      now,
    );
    return (await this.getCron(cron.cronId)) as Cron;
  }

  async getCron(cronId: string, owner?: string): Promise<Cron | null> {
    const row = (
      owner === undefined
        ? this.#sql("SELECT * FROM agent_crons WHERE cron_id = ?").get(cronId)
        : this.#sql("SELECT * FROM agent_crons WHERE cron_id = ? AND owner = ?").get(cronId, owner)
    ) as CronRow | undefined;
    return row ? toCron(row) : null;
  }

  async updateCron(cronId: string, patch: CronPatch): Promise<Cron | null> {
    const sets = ["updated_at = ?"];
    const values: unknown[] = [this.database.clock.now().toISOString()];
    for (const [key, value] of Object.entries(patch) as Array<[keyof CronPatch, never]>) {
      if (value === undefined) continue;
      const [column, toSql] = COLUMNS[key];
      sets.push(`${column} = ?`);
      values.push((toSql as (value: unknown) => unknown)(value));
    }
    const row = this.#sql(`UPDATE agent_crons SET ${sets.join(", ")} WHERE cron_id = ? RETURNING *`).get(...values, cronId) as CronRow | undefined;
    return row ? toCron(row) : null;
  }

  async deleteCron(cronId: string, owner?: string): Promise<boolean> {
    const result =
      owner === undefined
        ? this.#sql("DELETE FROM agent_crons WHERE cron_id = ?").run(cronId)
        : this.#sql("DELETE FROM agent_crons WHERE cron_id = ? AND owner = ?").run(cronId, owner);
    return result.changes > 0;
  }

  #where(filter: CronFilter): { sql: string; parameters: unknown[] } {
    const clauses: string[] = [];
    const parameters: unknown[] = [];
    const add = (clause: string, ...values: unknown[]) => {
      clauses.push(clause);
      parameters.push(...values);
    };
    if (filter.owner !== undefined) add("owner = ?", filter.owner);
    if (filter.assistantId !== undefined) add("assistant_id = ?", filter.assistantId);
    if (filter.threadId !== undefined) add("thread_id = ?", filter.threadId);
    if (filter.enabled !== undefined) add("enabled = ?", filter.enabled ? 1 : 0);
    // Compared as JSON values, as the thread search does (see SqliteThreads).
    for (const [key, value] of Object.entries(filter.metadata ?? {})) add("json_canonical(coalesce(metadata -> ?, 'null')) = ?", jsonPath(key), canonicalJson(value));
    return { sql: clauses.length > 0 ? `WHERE ${clauses.join(" AND ")}` : "", parameters };
  }

  async searchCrons(search: CronSearch): Promise<Cron[]> {
    const { sql, parameters } = this.#where(search);
    const direction = search.sortOrder === "asc" ? "ASC" : "DESC";
    const rows = this.#sql(`SELECT * FROM agent_crons ${sql} ORDER BY ${search.sortBy} ${direction}, cron_id ${direction} LIMIT ? OFFSET ?`).all(
      ...parameters,
      search.limit,
      search.offset,
    ) as CronRow[];
    return rows.map(toCron);
  }

  async countCrons(filter: CronFilter): Promise<number> {
    const { sql, parameters } = this.#where(filter);
    return (this.#sql(`SELECT count(*) AS count FROM agent_crons ${sql}`).get(...parameters) as { count: number }).count;
  }

  async dueCrons(now: Date, limit: number): Promise<Cron[]> {
    const rows = this.#sql("SELECT * FROM agent_crons WHERE enabled = 1 AND next_run_date <= ? ORDER BY next_run_date LIMIT ?").all(now.toISOString(), limit) as CronRow[];
    return rows.map(toCron);
  }

  async claimOccurrence(cronId: string, seen: Date, next: Date | null): Promise<Cron | null> {
    const row = this.#sql("UPDATE agent_crons SET next_run_date = ? WHERE cron_id = ? AND next_run_date = ? AND enabled = 1 RETURNING *").get(
      iso(next),
      cronId,
      seen.toISOString(),
    ) as CronRow | undefined;
    return row ? toCron(row) : null;
  }
}
