import type Database from "better-sqlite3";
import type { MigrationSet } from "../migrations.js";
import type { SqliteDatabase } from "./database.js";
import { type LlmCacheEntry, LlmCache, type LlmCacheOptions } from "../llm-cache.js";

/**
 * The cache's table, beside the checkpoints in the service's SQLite file. Releases before the
 * version table created it with `IF NOT EXISTS` on every start; version 1 is that same script.
 */
export const LLM_CACHE_MIGRATIONS: MigrationSet = {
  table: "agent_llm_cache_migrations",
  steps: [
    `
  CREATE TABLE IF NOT EXISTS agent_llm_cache (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    used_at INTEGER NOT NULL,
    expires_at INTEGER
  );
  CREATE INDEX IF NOT EXISTS agent_llm_cache_used_at ON agent_llm_cache (used_at);
`,
  ],
};

/**
 * The response cache in the service's SQLite database (shared with the rest of storage, whose
 * owner closes it). Entries survive restarts; writes prune expired entries and the least recently
 * used beyond `maxEntries`, so the table never grows past the bound.
 */
export class SqliteLlmCache extends LlmCache {
  readonly mode = "sqlite" as const;
  readonly #read: Database.Statement<[number, string, number], { value: string }>;
  readonly #write: Database.Statement<[string, string, number, number | null]>;
  readonly #dropExpired: Database.Statement<[number]>;
  readonly #dropLeastUsed: Database.Statement<[string, number]>;
  readonly #count: Database.Statement<[number], { entries: number }>;
  readonly #writeAndPrune: (key: string, entry: LlmCacheEntry, now: number) => void;

  constructor(database: SqliteDatabase, options: LlmCacheOptions) {
    super(options);
    // At once: the statements below are prepared against the table.
    database.migrate(LLM_CACHE_MIGRATIONS);
    const db = database.connection;
    // Reading marks the entry as used in the same statement, so LRU order needs no second query.
    this.#read = db.prepare(
      "UPDATE agent_llm_cache SET used_at = ? WHERE key = ? AND (expires_at IS NULL OR expires_at > ?) RETURNING value",
    );
    this.#write = db.prepare(
      `INSERT INTO agent_llm_cache (key, value, used_at, expires_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, used_at = excluded.used_at, expires_at = excluded.expires_at`,
    );
    this.#dropExpired = db.prepare("DELETE FROM agent_llm_cache WHERE expires_at IS NOT NULL AND expires_at <= ?");
    // Ties within one millisecond keep the entry just written, then the newer rows.
    this.#dropLeastUsed = db.prepare(
      "DELETE FROM agent_llm_cache WHERE key IN (SELECT key FROM agent_llm_cache ORDER BY used_at DESC, (key = ?) DESC, rowid DESC LIMIT -1 OFFSET ?)",
    );
    this.#count = db.prepare("SELECT count(*) AS entries FROM agent_llm_cache WHERE expires_at IS NULL OR expires_at > ?");
    this.#writeAndPrune = db.transaction((key: string, entry: LlmCacheEntry, now: number) => {
      this.#write.run(key, entry.value, now, entry.expiresAt);
      this.#dropExpired.run(now);
      this.#dropLeastUsed.run(key, this.maxEntries);
    });
  }

  protected async readEntry(key: string, now: number): Promise<string | null> {
    return this.#read.get(now, key, now)?.value ?? null;
  }

  protected async writeEntry(key: string, entry: LlmCacheEntry, now: number): Promise<void> {
    this.#writeAndPrune(key, entry, now);
  }

  protected async countEntries(now: number): Promise<number> {
    return this.#count.get(now)?.entries ?? 0;
  }
}
