import type { MigrationSet } from "../migrations.js";
import type { PostgresDatabase } from "./database.js";
import { type LlmCacheEntry, LlmCache, type LlmCacheOptions } from "../llm-cache.js";


/**
 * The cache's table. Releases before the version table created it with `IF NOT EXISTS` on every
 * start; version 1 is that same script, so it also adopts their table unchanged.
 */
export const llmCacheMigrations = (schema: string): MigrationSet => ({
  table: "agent_llm_cache_migrations",
  steps: [
    `CREATE TABLE IF NOT EXISTS ${schema}.agent_llm_cache (
       key TEXT PRIMARY KEY,
       value TEXT NOT NULL,
       used_at BIGINT NOT NULL,
       expires_at BIGINT
     );
     CREATE INDEX IF NOT EXISTS agent_llm_cache_used_at ON ${schema}.agent_llm_cache (used_at);`,
  ],
});

/**
 * The response cache in the service's PostgreSQL schema (shared with the rest of storage, whose
 * owner closes it): shared by every instance on the database and kept across restarts. Writes
 * prune expired entries and the least recently used beyond `maxEntries`.
 */
export class PostgresLlmCache extends LlmCache {
  readonly mode = "postgres" as const;
  readonly #database: PostgresDatabase;
  readonly #table: string;

  constructor(database: PostgresDatabase, options: LlmCacheOptions) {
    super(options);
    this.#database = database;
    this.#table = `${database.schema}.agent_llm_cache`;
  }

  /** Creates the table if needed; idempotent, and safe when several instances start at once. */
  override setup(): Promise<void> {
    return this.#database.migrate(llmCacheMigrations(this.#database.schema));
  }

  protected async readEntry(key: string, now: number): Promise<string | null> {
    await this.setup();
    // Reading marks the entry as used in the same statement, so LRU order needs no second query.
    const { rows } = await this.#database.query<{ value: string }>(
      `UPDATE ${this.#table} SET used_at = $2 WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2) RETURNING value`,
      [key, now],
    );
    return rows[0]?.value ?? null;
  }

  protected async writeEntry(key: string, entry: LlmCacheEntry, now: number): Promise<void> {
    await this.setup();
    await this.#database.transaction(async (client) => {
      await client.query(
        `INSERT INTO ${this.#table} (key, value, used_at, expires_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value, used_at = excluded.used_at, expires_at = excluded.expires_at`,
        [key, entry.value, now, entry.expiresAt],
      );
      await client.query(`DELETE FROM ${this.#table} WHERE expires_at IS NOT NULL AND expires_at <= $1`, [now]);
      // The entry just written has the newest used_at (ties go to it), so it is never the one dropped.
      await client.query(
        `DELETE FROM ${this.#table} WHERE key IN (
           SELECT key FROM ${this.#table} ORDER BY used_at DESC, (key = $2) DESC OFFSET $1
         )`,
        [this.maxEntries, key],
      );
    });
  }

  protected async countEntries(now: number): Promise<number> {
    await this.setup();
    const { rows } = await this.#database.query<{ entries: string }>(
      `SELECT count(*) AS entries FROM ${this.#table} WHERE expires_at IS NULL OR expires_at > $1`,
      [now],
    );
    return Number(rows[0]?.entries ?? 0);
  }
}
