/**
 * The Store's embeddings kept in memory by item, for semantic search on either backend. Without
 * a vector index (pgvector is not assumed; sqlite-vec scans BLOBs from disk), a search compares
 * the query with every candidate's embeddings, and reading 10,000 of them from the database on
 * every search costs far more than comparing them. Each search reads its candidates' ids and row
 * versions, loads only the embeddings of items new or changed since, and ranks by cosine
 * similarity. A put gives the row a new version in the transaction that replaces its embeddings,
 * so another instance's write is seen at the next search.
 */

/** A candidate as a search's SQL reads it: `version` changes whenever the item's embeddings do. */
export interface VectorCandidate {
  id: string;
  version: string;
  updatedAt: number;
}

/** A candidate ranked: `score` (cosine similarity, the best of its fields) is undefined for an item without embeddings. */
export interface RankedCandidate {
  id: string;
  score: number | undefined;
  updatedAt: number;
}

interface CachedItem {
  version: string;
  dimensions: number;
  /** Normalised, so the cosine is a dot product. */
  vectors: Float32Array[];
}

const normalised = (vector: Float32Array): Float32Array => {
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm);
  return norm === 0 ? vector : vector.map((value) => value / norm);
};

/** The dot product of two vectors of one length, four sums at a time (a third faster than one in V8). */
function dot(left: Float32Array, right: Float32Array): number {
  let first = 0;
  let second = 0;
  let third = 0;
  let fourth = 0;
  let index = 0;
  for (; index + 3 < left.length; index += 4) {
    first += (left[index] as number) * (right[index] as number);
    second += (left[index + 1] as number) * (right[index + 1] as number);
    third += (left[index + 2] as number) * (right[index + 2] as number);
    fourth += (left[index + 3] as number) * (right[index + 3] as number);
  }
  for (; index < left.length; index += 1) first += (left[index] as number) * (right[index] as number);
  return first + second + third + fourth;
}

/** Embeddings by item, at most `limit` items, the least recently searched dropped first. */
export class StoreVectorCache {
  readonly #items = new Map<string, CachedItem>();

  constructor(private readonly limit = 50_000) {}

  /** The `candidates` whose embeddings of `dimensions` must be loaded (then given to `remember`). */
  stale(candidates: readonly VectorCandidate[], dimensions: number): VectorCandidate[] {
    return candidates.filter((candidate) => {
      const cached = this.#items.get(candidate.id);
      return !cached || cached.version !== candidate.version || cached.dimensions !== dimensions;
    });
  }

  /** Keeps the embeddings loaded for the stale `candidates` (those without any keep none). */
  remember(candidates: readonly VectorCandidate[], loaded: ReadonlyArray<{ id: string; embedding: Float32Array }>, dimensions: number): void {
    const vectors = new Map<string, Float32Array[]>();
    for (const row of loaded) vectors.set(row.id, [...(vectors.get(row.id) ?? []), normalised(row.embedding)]);
    for (const candidate of candidates) this.#items.set(candidate.id, { version: candidate.version, dimensions, vectors: vectors.get(candidate.id) ?? [] });
  }

  /** `candidates` best first, then those without embeddings, newest first. Call after loading what `stale` named. */
  rank(candidates: readonly VectorCandidate[], query: Float32Array): RankedCandidate[] {
    const unit = normalised(query);
    const ranked = candidates.map((candidate): RankedCandidate => {
      const cached = this.#items.get(candidate.id);
      let score: number | undefined;
      for (const vector of cached?.vectors ?? []) {
        const similarity = dot(vector, unit);
        if (score === undefined || similarity > score) score = similarity;
      }
      if (cached) {
        // Most recently searched last: the first entries are the ones dropped.
        this.#items.delete(candidate.id);
        this.#items.set(candidate.id, cached);
      }
      return { id: candidate.id, score, updatedAt: candidate.updatedAt };
    });
    for (const id of this.#items.keys()) {
      if (this.#items.size <= this.limit) break;
      this.#items.delete(id);
    }
    return ranked.sort(
      (a, b) => (a.score === undefined ? 1 : 0) - (b.score === undefined ? 1 : 0) || (b.score ?? 0) - (a.score ?? 0) || b.updatedAt - a.updatedAt || Number(b.id) - Number(a.id),
    );
  }
}
