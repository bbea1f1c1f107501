import type { Pool } from "pg";
import { type LlmCacheEntry, LlmCache, type LlmCacheOptions } from "./llm-cache.js";
import { inTransaction } from "./postgres-transaction.js";
import { onceUntilFailure } from "../once.js";

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * The response cache in the service's PostgreSQL schema, on the checkpointer's pool (which it
 * does not end): shared by every instance on the database and kept across restarts. Writes prune
 * expired entries and the least recently used beyond `maxEntries`.
 */
export class PostgresLlmCache extends LlmCache {
  readonly mode = "postgres" as const;
  readonly #pool: Pool;
  readonly #table: string;
  readonly #schema: string;
  readonly #setupOnce = onceUntilFailure(() => this.#create());

  constructor(pool: Pool, options: LlmCacheOptions & { schema?: string }) {
    super(options);
    this.#pool = pool;
    this.#schema = options.schema ?? "public";
    if (!IDENTIFIER.test(this.#schema)) throw new Error(`Invalid schema name ${JSON.stringify(this.#schema)}`);
    this.#table = `${this.#schema}.agent_llm_cache`;
  }

  /** Creates the table if needed; idempotent, and safe when several instances start at once. */
  override setup(): Promise<void> {
    return this.#setupOnce();
  }

  async #create(): Promise<void> {
    await inTransaction(this.#pool, async (client) => {
      // The checkpointer's migration lock: concurrent CREATE ... IF NOT EXISTS can still collide.
      await client.query("SELECT pg_advisory_xact_lock(hashtext('stateful-agent:migrations'))");
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.#schema}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.#table} (
           key TEXT PRIMARY KEY,
           value TEXT NOT NULL,
           used_at BIGINT NOT NULL,
           expires_at BIGINT
         )`,
      );
      await client.query(`CREATE INDEX IF NOT EXISTS agent_llm_cache_used_at ON ${this.#table} (used_at)`);
    });
  }

  protected async readEntry(key: string, now: number): Promise<string | null> {
    await this.setup();
    // Reading marks the entry as used in the same statement, so LRU order needs no second query.
    const { rows } = await this.#pool.query<{ value: string }>(
      `UPDATE ${this.#table} SET used_at = $2 WHERE key = $1 AND (expires_at IS NULL OR expires_at > $2) RETURNING value`,
      [key, now],
    );
    return rows[0]?.value ?? null;
  }

  protected async writeEntry(key: string, entry: LlmCacheEntry, now: number): Promise<void> {
    await this.setup();
    await inTransaction(this.#pool, async (client) => {
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
    const { rows } = await this.#pool.query<{ entries: string }>(
      `SELECT count(*) AS entries FROM ${this.#table} WHERE expires_at IS NULL OR expires_at > $1`,
      [now],
    );
    return Number(rows[0]?.entries ?? 0);
  }
}
