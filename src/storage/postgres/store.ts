import type { QueryResult, QueryResultRow } from "pg";
import type { MigrationSet } from "../migrations.js";
import { DatabaseStore, type PreparedOperation, type StoreOptions, type StoreRow, toItem } from "../store.js";
import { type FilterCondition, selectNamespaces } from "../store-values.js";
import { StoreVectorCache, type VectorCandidate } from "../store-vectors.js";
import type { PostgresDatabase } from "./database.js";

/**
 * The store's tables, numbered in `agent_store_migrations`. `text` is what full-text search
 * reads of a value (its strings and numbers); `text_search` is generated from it (English
 * stemming) and GIN-indexed. Embeddings are float32 vectors in a `bytea`, one per embedded field,
 * as the document store keeps them (pgvector is not assumed): the cosine scan runs in Node over
 * the candidates a search's namespace and filter leave, their embeddings cached (store-vectors.ts).
 */
export const storeMigrations = (schema: string): MigrationSet => {
  const tables = `CREATE TABLE ${schema}.agent_store_items (
     id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
     namespace TEXT COLLATE "C" NOT NULL,
     key TEXT COLLATE "C" NOT NULL,
     value JSONB NOT NULL,
     text TEXT NOT NULL DEFAULT '',
     text_search TSVECTOR GENERATED ALWAYS AS (to_tsvector('english'::regconfig, text)) STORED,
     created_at TIMESTAMPTZ NOT NULL,
     updated_at TIMESTAMPTZ NOT NULL,
     expires_at TIMESTAMPTZ,
     ttl_minutes DOUBLE PRECISION,
     UNIQUE (namespace, key)
   );
   CREATE INDEX agent_store_items_namespace_updated ON ${schema}.agent_store_items (namespace, updated_at);
   CREATE INDEX agent_store_items_expires ON ${schema}.agent_store_items (expires_at) WHERE expires_at IS NOT NULL;
   CREATE INDEX agent_store_items_text_search ON ${schema}.agent_store_items USING gin (text_search);
   CREATE TABLE ${schema}.agent_store_vectors (
     item_id BIGINT NOT NULL REFERENCES ${schema}.agent_store_items (id) ON DELETE CASCADE,
     field TEXT NOT NULL,
     embedding BYTEA NOT NULL,
     dimensions INTEGER NOT NULL
   );
   CREATE INDEX agent_store_vectors_item ON ${schema}.agent_store_vectors (item_id);`;
  return { table: "agent_store_migrations", baseline: tables, steps: [tables] };
};

const COLUMNS = "i.id, i.namespace, i.key, i.value, i.created_at, i.updated_at, i.ttl_minutes";

interface Row {
  id: string;
  namespace: string;
  key: string;
  value: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  ttl_minutes: number | null;
  score?: number | null;
}

const toRow = (row: Row): StoreRow => ({
  namespace: row.namespace,
  key: row.key,
  value: row.value,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  ...(row.score === undefined || row.score === null ? {} : { score: Number(row.score) }),
});

const asBytes = (vector: Float32Array) => Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength);

/** A pooled connection in a transaction, or the database itself for a statement alone. */
interface Queryable {
  query<Row extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<Row>>;
}

/** Collects a statement's parameters: `add(value)` is the placeholder for it. */
function parameters(): { values: unknown[]; add(value: unknown): string } {
  const values: unknown[] = [];
  return { values, add: (value) => `$${values.push(value)}` };
}

/** One filter condition as SQL over `i.value`. */
function filterSql(condition: FilterCondition, add: (value: unknown) => string): string {
  const { operator, operand } = condition;
  const field = `(i.value -> ${add(condition.field)}::text)`;
  switch (operator) {
    case "$eq":
      return `${field} = ${add(JSON.stringify(operand))}::jsonb`;
    case "$ne":
      return `${field} IS DISTINCT FROM ${add(JSON.stringify(operand))}::jsonb`;
    case "$in":
      return `coalesce(${field} = ANY(${add((operand as unknown[]).map((value) => JSON.stringify(value)))}::jsonb[]), false)`;
    case "$nin":
      return `NOT coalesce(${field} = ANY(${add((operand as unknown[]).map((value) => JSON.stringify(value)))}::jsonb[]), false)`;
    default: {
      const comparison = { $gt: ">", $gte: ">=", $lt: "<", $lte: "<=" }[operator];
      // CASE, not AND: PostgreSQL may evaluate either side of AND first, and a cast of a string to numeric fails.
      return typeof operand === "number"
        ? `CASE WHEN jsonb_typeof(${field}) = 'number' THEN (${field} #>> '{}')::numeric ${comparison} ${add(operand)}::numeric ELSE false END`
        : `CASE WHEN jsonb_typeof(${field}) = 'string' THEN (${field} #>> '{}') COLLATE "C" ${comparison} ${add(operand)}::text ELSE false END`;
    }
  }
}

/**
 * The LangGraph Store in the service's PostgreSQL schema (see `DatabaseStore` for what it
 * answers), shared by every instance on it: a batch is one transaction, and sweeping is one
 * DELETE, so instances sweeping at once delete each expired item once.
 */
export class PostgresStore extends DatabaseStore {
  readonly #database: PostgresDatabase;
  readonly #schema: string;
  readonly #clock: { now(): Date };
  readonly #vectors: StoreVectorCache;

  constructor(database: PostgresDatabase, options: StoreOptions = {}) {
    super(options);
    this.#database = database;
    this.#schema = database.schema;
    this.#clock = options.clock ?? database.clock;
    this.#vectors = new StoreVectorCache();
  }

  setup(): Promise<void> {
    return this.#database.migrate(storeMigrations(this.#schema));
  }

  async sweepExpired(): Promise<number> {
    await this.setup();
    const { rowCount } = await this.#database.query(`DELETE FROM ${this.#schema}.agent_store_items WHERE expires_at IS NOT NULL AND expires_at <= $1`, [this.#clock.now()]);
    return rowCount ?? 0;
  }

  protected async execute(operations: PreparedOperation[]): Promise<unknown[]> {
    await this.setup();
    const [only] = operations;
    // One read or delete is one statement (a refresh is another, idempotent): prepared, and no
    // BEGIN and COMMIT round trips. A put writes several, so it takes a transaction.
    if (operations.length === 1 && only && only.kind !== "put") return [await this.#run(this.#database, only)];
    return this.#database.transaction(async (client) => {
      const results: unknown[] = [];
      for (const operation of operations) results.push(await this.#run(client, operation));
      return results;
    });
  }

  async #run(client: Queryable, operation: PreparedOperation): Promise<unknown> {
    const now = this.#clock.now();
    const items = `${this.#schema}.agent_store_items`;
    switch (operation.kind) {
      case "get": {
        const { rows } = await client.query<Row>(`SELECT ${COLUMNS} FROM ${items} i WHERE i.namespace = $1 AND i.key = $2 AND (i.expires_at IS NULL OR i.expires_at > $3)`, [
          operation.namespace,
          operation.key,
          now,
        ]);
        if (!rows[0]) return null;
        if (operation.refreshTtl) await this.#refresh(client, rows, now);
        return toItem(toRow(rows[0]));
      }
      case "put":
        return this.#put(client, operation, now);
      case "delete":
        await client.query(`DELETE FROM ${items} WHERE namespace = $1 AND key = $2`, [operation.namespace, operation.key]);
        return undefined;
      case "search": {
        const rows = await this.#search(client, operation, now);
        if (operation.refreshTtl) await this.#refresh(client, rows, now);
        return rows.map((row) => toItem(toRow(row)));
      }
      case "list": {
        const range = operation.range;
        const { rows } = await client.query<{ namespace: string }>(
          `SELECT DISTINCT i.namespace FROM ${items} i WHERE (i.expires_at IS NULL OR i.expires_at > $1)
           AND ($2::text IS NULL OR i.namespace = $2 OR (i.namespace >= $3 AND i.namespace < $4))`,
          [now, range?.equal ?? null, range?.from ?? null, range?.to ?? null],
        );
        return selectNamespaces(rows.map((row) => row.namespace), operation.listing);
      }
    }
  }

  async #put(client: Queryable, operation: Extract<PreparedOperation, { kind: "put" }>, now: Date): Promise<undefined> {
    const items = `${this.#schema}.agent_store_items`;
    // An expired item not swept yet is gone: the put makes a new one (its own creation time).
    await client.query(`DELETE FROM ${items} WHERE namespace = $1 AND key = $2 AND expires_at <= $3`, [operation.namespace, operation.key, now]);
    const expiresAt = operation.ttlMinutes === null ? null : new Date(now.getTime() + operation.ttlMinutes * 60_000);
    const { rows } = await client.query<{ id: string }>(
      `INSERT INTO ${items} (namespace, key, value, text, created_at, updated_at, expires_at, ttl_minutes) VALUES ($1, $2, $3, $4, $5, $5, $6, $7)
       ON CONFLICT (namespace, key) DO UPDATE SET value = excluded.value, text = excluded.text, updated_at = excluded.updated_at,
         expires_at = excluded.expires_at, ttl_minutes = excluded.ttl_minutes
       RETURNING id`,
      [operation.namespace, operation.key, operation.value, operation.text, now, expiresAt, operation.ttlMinutes],
    );
    const id = (rows[0] as { id: string }).id;
    // The old value's embeddings describe what is no longer there.
    await client.query(`DELETE FROM ${this.#schema}.agent_store_vectors WHERE item_id = $1`, [id]);
    if (operation.vectors.length > 0) {
      await client.query(
        `INSERT INTO ${this.#schema}.agent_store_vectors (item_id, field, embedding, dimensions)
         SELECT $1, field, embedding, dimensions FROM unnest($2::text[], $3::bytea[], $4::int[]) AS vector(field, embedding, dimensions)`,
        [id, operation.vectors.map((vector) => vector.field), operation.vectors.map((vector) => asBytes(vector.embedding)), operation.vectors.map((vector) => vector.embedding.length)],
      );
    }
    return undefined;
  }

  async #search(client: Queryable, operation: Extract<PreparedOperation, { kind: "search" }>, now: Date): Promise<Row[]> {
    const items = `${this.#schema}.agent_store_items`;
    const { values, add } = parameters();
    const where = [`(i.expires_at IS NULL OR i.expires_at > ${add(now)})`];
    if (operation.range) where.push(`(i.namespace = ${add(operation.range.equal)} OR (i.namespace >= ${add(operation.range.from)} AND i.namespace < ${add(operation.range.to)}))`);
    for (const condition of operation.conditions) where.push(filterSql(condition, add));
    if (operation.embedding) return this.#searchVectors(client, operation, operation.embedding, where.join(" AND "), values);
    if (operation.terms !== undefined) {
      if (operation.terms.length === 0) return [];
      // Any of the words; queryTerms keeps letters and digits only, and each is quoted, so to_tsquery sees no operator.
      const tsquery = add(operation.terms.map((term) => `'${term}'`).join(" | "));
      const { rows } = await client.query<Row>(
        `SELECT ${COLUMNS}, ts_rank_cd(i.text_search, query) AS score FROM ${items} i, to_tsquery('english'::regconfig, ${tsquery}) AS query
         WHERE i.text_search @@ query AND ${where.join(" AND ")} ORDER BY score DESC, i.id DESC LIMIT ${add(operation.limit)} OFFSET ${add(operation.offset)}`,
        values,
      );
      return rows;
    }
    const { rows } = await client.query<Row>(
      `SELECT ${COLUMNS} FROM ${items} i WHERE ${where.join(" AND ")} ORDER BY i.updated_at DESC, i.id DESC LIMIT ${add(operation.limit)} OFFSET ${add(operation.offset)}`,
      values,
    );
    return rows;
  }

  /** The page of the candidates ranked by meaning (see `StoreVectorCache`), their rows read. */
  async #searchVectors(client: Queryable, operation: Extract<PreparedOperation, { kind: "search" }>, embedding: Float32Array, where: string, values: unknown[]): Promise<Row[]> {
    // The row's xmin is its version: a put rewrites the row and its embeddings in one transaction.
    const { rows: candidateRows } = await client.query<{ id: string; version: string; updated_at: Date }>(
      `SELECT i.id, i.xmin::text AS version, i.updated_at FROM ${this.#schema}.agent_store_items i WHERE ${where}`,
      values,
    );
    const candidates: VectorCandidate[] = candidateRows.map((row) => ({ id: String(row.id), version: row.version, updatedAt: row.updated_at.getTime() }));
    const stale = this.#vectors.stale(candidates, embedding.length);
    if (stale.length > 0) {
      const { rows: loaded } = await client.query<{ item_id: string; embedding: Buffer }>(
        `SELECT item_id, embedding FROM ${this.#schema}.agent_store_vectors WHERE item_id = ANY($1::bigint[]) AND dimensions = $2`,
        [stale.map((candidate) => candidate.id), embedding.length],
      );
      // Copied out of the Buffer: its offset in node-postgres's pool need not be 4-byte aligned.
      const vectors = loaded.map((row) => ({ id: String(row.item_id), embedding: new Float32Array(new Uint8Array(row.embedding).buffer, 0, embedding.length) }));
      this.#vectors.remember(stale, vectors, embedding.length);
    }
    const ranked = this.#vectors.rank(candidates, embedding);
    const page = ranked.slice(operation.offset, operation.offset + operation.limit);
    if (page.length === 0) return [];
    const { rows } = await client.query<Row>(`SELECT ${COLUMNS} FROM ${this.#schema}.agent_store_items i WHERE i.id = ANY($1::bigint[])`, [page.map((entry) => entry.id)]);
    const byId = new Map(rows.map((row) => [String(row.id), row]));
    // A row deleted between the two statements is left out.
    return page.filter((entry) => byId.has(entry.id)).map((entry) => ({ ...(byId.get(entry.id) as Row), score: entry.score ?? null }));
  }

  /** Extends the TTL of the rows read that have one, counted from `now`. */
  async #refresh(client: Queryable, rows: Row[], now: Date): Promise<void> {
    const ids = rows.filter((row) => row.ttl_minutes !== null).map((row) => row.id);
    if (ids.length === 0) return;
    await client.query(
      `UPDATE ${this.#schema}.agent_store_items SET expires_at = $1::timestamptz + make_interval(secs => ttl_minutes * 60) WHERE id = ANY($2::bigint[]) AND ttl_minutes IS NOT NULL`,
      [now, ids],
    );
  }
}
