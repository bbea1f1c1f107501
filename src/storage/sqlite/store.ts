import type { MigrationSet } from "../migrations.js";
import { DatabaseStore, type PreparedOperation, type StoreOptions, type StoreRow, toItem } from "../store.js";
import { type FilterCondition, selectNamespaces } from "../store-values.js";
import { StoreVectorCache, type VectorCandidate } from "../store-vectors.js";
import { canonicalJson } from "./canonical-json.js";
import type { SqliteDatabase } from "./database.js";

/**
 * The store's tables. `text` is what full-text search reads of a value (its strings and numbers),
 * indexed by FTS5 (Porter stemming) through triggers, so an item leaves the index in the
 * statement that deletes it. Embeddings are float32 BLOBs, one per embedded field, compared in
 * memory (store-vectors.ts); `version`, random on every put, tells a cached copy is stale.
 * `expires_at` is milliseconds since the epoch; `ttl_minutes` is kept to extend it on reads.
 */
export const STORE_MIGRATIONS: MigrationSet = {
  table: "agent_store_migrations",
  steps: [
    `CREATE TABLE agent_store_items (
       id INTEGER PRIMARY KEY,
       namespace TEXT NOT NULL,
       key TEXT NOT NULL,
       value TEXT NOT NULL,
       text TEXT NOT NULL DEFAULT '',
       created_at TEXT NOT NULL,
       updated_at TEXT NOT NULL,
       expires_at INTEGER,
       ttl_minutes REAL,
       version INTEGER NOT NULL DEFAULT 0,
       UNIQUE (namespace, key)
     );
     CREATE INDEX agent_store_items_namespace_updated ON agent_store_items (namespace, updated_at);
     CREATE INDEX agent_store_items_expires ON agent_store_items (expires_at) WHERE expires_at IS NOT NULL;
     CREATE VIRTUAL TABLE agent_store_items_fts USING fts5 (text, content = 'agent_store_items', content_rowid = 'id', tokenize = 'porter unicode61');
     CREATE TRIGGER agent_store_items_indexed AFTER INSERT ON agent_store_items BEGIN
       INSERT INTO agent_store_items_fts (rowid, text) VALUES (new.id, new.text);
     END;
     CREATE TRIGGER agent_store_items_unindexed AFTER DELETE ON agent_store_items BEGIN
       INSERT INTO agent_store_items_fts (agent_store_items_fts, rowid, text) VALUES ('delete', old.id, old.text);
     END;
     CREATE TRIGGER agent_store_items_reindexed AFTER UPDATE OF text ON agent_store_items BEGIN
       INSERT INTO agent_store_items_fts (agent_store_items_fts, rowid, text) VALUES ('delete', old.id, old.text);
       INSERT INTO agent_store_items_fts (rowid, text) VALUES (new.id, new.text);
     END;
     CREATE TABLE agent_store_vectors (
       item_id INTEGER NOT NULL REFERENCES agent_store_items (id) ON DELETE CASCADE,
       field TEXT NOT NULL,
       embedding BLOB NOT NULL,
       dimensions INTEGER NOT NULL
     );
     CREATE INDEX agent_store_vectors_item ON agent_store_vectors (item_id);`,
  ],
};

const COLUMNS = "i.id, i.namespace, i.key, i.value, i.created_at, i.updated_at, i.ttl_minutes";
const LIVE = "(i.expires_at IS NULL OR i.expires_at > ?)";

interface Row {
  id: number;
  namespace: string;
  key: string;
  value: string;
  created_at: string;
  updated_at: string;
  ttl_minutes: number | null;
  score?: number | null;
}

const toRow = (row: Row): StoreRow => ({
  namespace: row.namespace,
  key: row.key,
  value: JSON.parse(row.value) as Record<string, unknown>,
  createdAt: new Date(row.created_at),
  updatedAt: new Date(row.updated_at),
  ...(row.score === undefined || row.score === null ? {} : { score: row.score }),
});

const asBlob = (vector: Float32Array) => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);

/** One filter condition as SQL over `i.value`, its parameters pushed on `params`. */
function filterSql(condition: FilterCondition, params: unknown[]): string {
  const { field, operator, operand } = condition;
  switch (operator) {
    case "$eq":
      params.push(field, canonicalJson(operand));
      return "json_canonical(i.value -> ?) = ?";
    case "$ne":
      params.push(field, canonicalJson(operand));
      return "json_canonical(i.value -> ?) IS NOT ?";
    case "$in":
    case "$nin":
      params.push(field, JSON.stringify((operand as unknown[]).map(canonicalJson)));
      return operator === "$in"
        ? "json_canonical(i.value -> ?) IN (SELECT value FROM json_each(?))"
        : "coalesce(json_canonical(i.value -> ?) NOT IN (SELECT value FROM json_each(?)), 1)";
    default: {
      const comparison = { $gt: ">", $gte: ">=", $lt: "<", $lte: "<=" }[operator];
      // Numbers with numbers, strings with strings: SQLite would otherwise rank any text above any number.
      const types = typeof operand === "number" ? "('integer', 'real')" : "('text')";
      params.push(field, field, operand);
      return `(json_type(i.value -> ?) IN ${types} AND (i.value ->> ?) ${comparison} ?)`;
    }
  }
}

/** The LangGraph Store in the service's SQLite file (see `DatabaseStore` for what it answers). */
export class SqliteStore extends DatabaseStore {
  readonly #database: SqliteDatabase;
  readonly #clock: { now(): Date };
  readonly #vectors = new StoreVectorCache();

  constructor(database: SqliteDatabase, options: StoreOptions = {}) {
    super(options);
    this.#database = database;
    this.#clock = options.clock ?? database.clock;
  }

  async setup(): Promise<void> {
    this.#database.migrate(STORE_MIGRATIONS);
  }

  async sweepExpired(): Promise<number> {
    await this.setup();
    return this.#database.statement("DELETE FROM agent_store_items WHERE expires_at IS NOT NULL AND expires_at <= ?").run(this.#clock.now().getTime()).changes;
  }

  protected async execute(operations: PreparedOperation[]): Promise<unknown[]> {
    await this.setup();
    // A read that refreshes TTLs writes only when it found items with one: usually it finds none
    // (recall on every turn, for a user with no memories), and a deferred transaction then takes
    // no write lock and commits nothing. When it does write, the upgrade cannot meet another
    // writer: one process owns the file and better-sqlite3's transactions never span an await.
    const writes = operations.some((operation) => operation.kind === "put" || operation.kind === "delete");
    return this.#database.transaction(() => operations.map((operation) => this.#run(operation)), { write: writes });
  }

  #run(operation: PreparedOperation): unknown {
    const now = this.#clock.now();
    switch (operation.kind) {
      case "get": {
        const row = this.#database.statement(`SELECT ${COLUMNS} FROM agent_store_items i WHERE i.namespace = ? AND i.key = ? AND ${LIVE}`).get(operation.namespace, operation.key, now.getTime()) as Row | undefined;
        if (!row) return null;
        if (operation.refreshTtl) this.#refresh([row], now);
        return toItem(toRow(row));
      }
      case "put":
        return this.#put(operation, now);
      case "delete":
        this.#database.statement("DELETE FROM agent_store_items WHERE namespace = ? AND key = ?").run(operation.namespace, operation.key);
        return undefined;
      case "search": {
        const rows = this.#search(operation, now);
        if (operation.refreshTtl) this.#refresh(rows, now);
        return rows.map((row) => toItem(toRow(row)));
      }
      case "list": {
        const params: unknown[] = [now.getTime()];
        let sql = `SELECT DISTINCT i.namespace FROM agent_store_items i WHERE ${LIVE}`;
        if (operation.range) {
          sql += " AND (i.namespace = ? OR (i.namespace >= ? AND i.namespace < ?))";
          params.push(operation.range.equal, operation.range.from, operation.range.to);
        }
        const rows = this.#database.statement(sql).all(...params) as Array<{ namespace: string }>;
        return selectNamespaces(rows.map((row) => row.namespace), operation.listing);
      }
    }
  }

  #put(operation: Extract<PreparedOperation, { kind: "put" }>, now: Date): undefined {
    const at = now.getTime();
    // An expired item not swept yet is gone: the put makes a new one (its own creation time).
    this.#database.statement("DELETE FROM agent_store_items WHERE namespace = ? AND key = ? AND expires_at <= ?").run(operation.namespace, operation.key, at);
    const iso = now.toISOString();
    const expiresAt = operation.ttlMinutes === null ? null : at + operation.ttlMinutes * 60_000;
    const { id } = this.#database
      .statement(
        `INSERT INTO agent_store_items (namespace, key, value, text, created_at, updated_at, expires_at, ttl_minutes, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, random())
         ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, text = excluded.text, updated_at = excluded.updated_at,
           expires_at = excluded.expires_at, ttl_minutes = excluded.ttl_minutes, version = excluded.version
         RETURNING id`,
      )
      .get(operation.namespace, operation.key, operation.value, operation.text, iso, iso, expiresAt, operation.ttlMinutes) as { id: number };
    // The old value's embeddings describe what is no longer there.
    this.#database.statement("DELETE FROM agent_store_vectors WHERE item_id = ?").run(id);
    const insert = this.#database.statement("INSERT INTO agent_store_vectors (item_id, field, embedding, dimensions) VALUES (?, ?, ?, ?)");
    for (const vector of operation.vectors) insert.run(id, vector.field, asBlob(vector.embedding), vector.embedding.length);
    return undefined;
  }

  #search(operation: Extract<PreparedOperation, { kind: "search" }>, now: Date): Row[] {
    const params: unknown[] = [];
    const where = [LIVE];
    params.push(now.getTime());
    if (operation.range) {
      where.push("(i.namespace = ? OR (i.namespace >= ? AND i.namespace < ?))");
      params.push(operation.range.equal, operation.range.from, operation.range.to);
    }
    for (const condition of operation.conditions) where.push(filterSql(condition, params));
    const page = [operation.limit, operation.offset];
    if (operation.embedding) return this.#searchVectors(operation, operation.embedding, where.join(" AND "), params);
    if (operation.terms !== undefined) {
      if (operation.terms.length === 0) return [];
      // FTS5 looks up every term in the index of all namespaces before the namespace filter
      // applies, which costs most when there is nothing to find: a user with no memories yet,
      // searched on every turn. The namespace index answers that case first.
      if (!this.#database.statement(`SELECT 1 FROM agent_store_items i WHERE ${where.join(" AND ")} LIMIT 1`).get(...params)) return [];
      // Any of the words, each quoted so FTS5 reads none as an operator; bm25 is lower for better
      // matches. The matches are ranked by id alone, and only the page's rows read whole.
      const match = operation.terms.map((term) => `"${term}"`).join(" OR ");
      return this.#database
        .statement(
          `SELECT ${COLUMNS}, -ranked.rank AS score FROM (
             SELECT i.id AS id, bm25(agent_store_items_fts) AS rank FROM agent_store_items_fts JOIN agent_store_items i ON i.id = agent_store_items_fts.rowid
             WHERE agent_store_items_fts MATCH ? AND ${where.join(" AND ")} ORDER BY rank, i.id DESC LIMIT ? OFFSET ?
           ) ranked JOIN agent_store_items i ON i.id = ranked.id ORDER BY ranked.rank, i.id DESC`,
        )
        .all(match, ...params, ...page) as Row[];
    }
    return this.#database
      .statement(`SELECT ${COLUMNS} FROM agent_store_items i WHERE ${where.join(" AND ")} ORDER BY i.updated_at DESC, i.id DESC LIMIT ? OFFSET ?`)
      .all(...params, ...page) as Row[];
  }

  /** The page of the candidates ranked by meaning (see `StoreVectorCache`), their rows read. */
  #searchVectors(operation: Extract<PreparedOperation, { kind: "search" }>, embedding: Float32Array, where: string, params: unknown[]): Row[] {
    const candidates: VectorCandidate[] = (
      this.#database.statement(`SELECT i.id, CAST(i.version AS TEXT) AS version, i.updated_at FROM agent_store_items i WHERE ${where}`).all(...params) as Array<{ id: number; version: string; updated_at: string }>
    ).map((row) => ({ id: String(row.id), version: row.version, updatedAt: Date.parse(row.updated_at) }));
    const stale = this.#vectors.stale(candidates, embedding.length);
    if (stale.length > 0) {
      const loaded = this.#database
        .statement("SELECT item_id, embedding FROM agent_store_vectors WHERE item_id IN (SELECT value FROM json_each(?)) AND dimensions = ?")
        .all(JSON.stringify(stale.map((candidate) => Number(candidate.id))), embedding.length) as Array<{ item_id: number; embedding: Buffer }>;
      // Copied out of the Buffer, whose offset need not be 4-byte aligned.
      const vectors = loaded.map((row) => ({ id: String(row.item_id), embedding: new Float32Array(new Uint8Array(row.embedding).buffer, 0, embedding.length) }));
      this.#vectors.remember(stale, vectors, embedding.length);
    }
    const page = this.#vectors.rank(candidates, embedding).slice(operation.offset, operation.offset + operation.limit);
    if (page.length === 0) return [];
    const rows = this.#database
      .statement(`SELECT ${COLUMNS} FROM agent_store_items i WHERE i.id IN (SELECT value FROM json_each(?))`)
      .all(JSON.stringify(page.map((entry) => Number(entry.id)))) as Row[];
    const byId = new Map(rows.map((row) => [String(row.id), row]));
    return page.map((entry) => ({ ...(byId.get(entry.id) as Row), score: entry.score ?? null }));
  }

  /** Extends the TTL of the rows read that have one, counted from `now`. */
  #refresh(rows: Row[], now: Date): void {
    const ids = rows.filter((row) => row.ttl_minutes !== null).map((row) => row.id);
    if (ids.length === 0) return;
    this.#database
      .statement("UPDATE agent_store_items SET expires_at = ? + ttl_minutes * 60000 WHERE id IN (SELECT value FROM json_each(?)) AND ttl_minutes IS NOT NULL")
      .run(now.getTime(), JSON.stringify(ids));
  }
}
