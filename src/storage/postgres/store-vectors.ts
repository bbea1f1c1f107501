import type { QueryResult, QueryResultRow } from "pg";

/** A pooled connection in a transaction, or the database itself for a statement alone. */
export interface Queryable {
  query<Row extends QueryResultRow>(text: string, values?: unknown[]): Promise<QueryResult<Row>>;
}

/** An item's embeddings of one dimension, normalised, as of one version of its row. */
interface CachedItem {
  /** The row's `xmin`: a put rewrites the row and its embeddings in one transaction, so a new version means new embeddings. */
  version: string;
  dimensions: number;
  vectors: Float32Array[];
}

/** A candidate of a semantic search, ranked: `score` is undefined for an item without embeddings. */
export interface RankedCandidate {
  id: string;
  score: number | undefined;
  updatedAt: number;
}

const normalised = (vector: Float32Array): Float32Array => {
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm);
  return norm === 0 ? vector : vector.map((value) => value / norm);
};

/**
 * The store's embeddings on PostgreSQL, kept in memory by item: pgvector is not assumed, so a
 * semantic search scans its candidates' embeddings in Node, and reading 10,000 of them from the
 * database on every search would cost more than the scan. Each search reads its candidates' ids
 * and row versions (`xmin`), fetches only the embeddings of items new or changed since, and
 * ranks by cosine similarity. Another instance's put changes the row version, so what it wrote
 * is seen at the next search.
 */
export class StoreVectorCache {
  readonly #items = new Map<string, CachedItem>();

  /** At most this many items are kept, least recently searched dropped first. */
  constructor(
    private readonly schema: string,
    private readonly limit = 50_000,
  ) {}

  /** The candidates `where` leaves (over `i`, with `values`), best first, then those without embeddings, newest first. */
  async rank(client: Queryable, where: string, values: unknown[], query: Float32Array): Promise<RankedCandidate[]> {
    const dimensions = query.length;
    const { rows } = await client.query<{ id: string; version: string; updated_at: Date }>(
      `SELECT i.id, i.xmin::text AS version, i.updated_at FROM ${this.schema}.agent_store_items i WHERE ${where}`,
      values,
    );
    const stale = rows.filter((row) => {
      const cached = this.#items.get(row.id);
      return !cached || cached.version !== row.version || cached.dimensions !== dimensions;
    });
    if (stale.length > 0) await this.#load(client, stale, dimensions);
    const unit = normalised(query);
    const ranked = rows.map((row): RankedCandidate => {
      const cached = this.#items.get(row.id);
      let score: number | undefined;
      for (const vector of cached?.vectors ?? []) {
        let dot = 0;
        for (let index = 0; index < dimensions; index += 1) dot += (vector[index] as number) * (unit[index] as number);
        if (score === undefined || dot > score) score = dot;
      }
      if (cached) {
        // Most recently searched last: the first entries are the ones dropped.
        this.#items.delete(row.id);
        this.#items.set(row.id, cached);
      }
      return { id: row.id, score, updatedAt: row.updated_at.getTime() };
    });
    this.#trim();
    return ranked.sort(
      (a, b) => (a.score === undefined ? 1 : 0) - (b.score === undefined ? 1 : 0) || (b.score ?? 0) - (a.score ?? 0) || b.updatedAt - a.updatedAt || Number(b.id) - Number(a.id),
    );
  }

  async #load(client: Queryable, stale: Array<{ id: string; version: string }>, dimensions: number): Promise<void> {
    const { rows } = await client.query<{ item_id: string; embedding: Buffer }>(
      `SELECT item_id, embedding FROM ${this.schema}.agent_store_vectors WHERE item_id = ANY($1::bigint[]) AND dimensions = $2`,
      [stale.map((row) => row.id), dimensions],
    );
    const vectors = new Map<string, Float32Array[]>(stale.map((row) => [row.id, []]));
    for (const row of rows) {
      // Copied out of the Buffer: its offset in node-postgres's pool need not be 4-byte aligned.
      vectors.get(String(row.item_id))?.push(normalised(new Float32Array(new Uint8Array(row.embedding).buffer, 0, dimensions)));
    }
    for (const row of stale) this.#items.set(row.id, { version: row.version, dimensions, vectors: vectors.get(row.id) ?? [] });
  }

  #trim(): void {
    for (const id of this.#items.keys()) {
      if (this.#items.size <= this.limit) return;
      this.#items.delete(id);
    }
  }
}
