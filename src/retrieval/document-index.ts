import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { randomUUID } from "node:crypto";
import { ModelProviderError, NotFoundError, ValidationError } from "../errors.js";
import { type ChunkingOptions, DEFAULT_CHUNKING, splitText } from "./chunking.js";
import type { DocumentStore } from "./document-store.js";
import type { Collection, DocumentContentType, SearchHit, StoredDocument } from "./documents.js";
import { reciprocalRankFusion } from "./fusion.js";
import { onceUntilFailure } from "../once.js";

/** What `DocumentIndex` is built from. */
export interface DocumentIndexOptions {
  store: DocumentStore;
  /** Vector search as well as full-text when given (`EMBEDDING_MODEL`). */
  embeddings?: EmbeddingsInterface;
  chunking?: ChunkingOptions;
  /** Chunks sent to the embeddings endpoint per request. */
  embeddingBatchSize?: number;
  /** Told when an embedding call fails during a search (which then uses full-text alone). */
  onSearchFallback?: (error: unknown) => void;
}

/** What a search found, and which methods found it. */
export interface SearchResult {
  hits: SearchHit[];
  /** `text` always; `vector` too when embeddings are configured and the query's embedding worked. */
  methods: Array<"text" | "vector">;
}

/** Candidates each method contributes to the fusion, per result asked for. */
const CANDIDATES_PER_RESULT = 4;
const MINIMUM_CANDIDATES = 20;

/**
 * Documents in, ranked chunks out: splits documents with LangChain's splitters, embeds the chunks
 * when an embeddings model is configured, stores them, and answers searches by fusing full-text
 * and vector rankings (reciprocal rank fusion). The API routes and the `search_documents` tool
 * both use it.
 */
export class DocumentIndex {
  readonly store: DocumentStore;
  readonly embeddings: EmbeddingsInterface | undefined;
  readonly #chunking: ChunkingOptions;
  readonly #batchSize: number;
  readonly #onSearchFallback: ((error: unknown) => void) | undefined;
  readonly #setupOnce: () => Promise<void>;

  constructor(options: DocumentIndexOptions) {
    this.store = options.store;
    this.embeddings = options.embeddings;
    this.#chunking = options.chunking ?? DEFAULT_CHUNKING;
    this.#batchSize = options.embeddingBatchSize ?? 64;
    this.#onSearchFallback = options.onSearchFallback;
    this.#setupOnce = onceUntilFailure(() => this.store.setup());
  }

  /**
   * Creates the store's tables once; every method waits for it, so an index built in code (the
   * exported graph) works without a setup call. The server awaits it at start to fail early.
   */
  setup(): Promise<void> {
    return this.#setupOnce();
  }

  /** Creates a collection. */
  async createCollection(input: { name: string; metadata?: Record<string, unknown>; owner?: string; collectionId?: string }): Promise<Collection> {
    await this.setup();
    return this.store.createCollection({ collectionId: input.collectionId ?? randomUUID(), name: input.name, metadata: input.metadata ?? {}, owner: input.owner });
  }

  /** The collection, or `NotFoundError` (also when another owner's). */
  async requireCollection(collectionId: string, owner?: string): Promise<Collection> {
    await this.setup();
    const collection = await this.store.getCollection(collectionId, owner);
    if (!collection) throw new NotFoundError(`Collection ${collectionId} not found`);
    return collection;
  }

  /**
   * Splits, embeds and stores a document. An empty document is a `ValidationError`; a failing
   * embeddings endpoint a `ModelProviderError`, and then nothing is stored.
   */
  async addDocument(input: { collectionId: string; source: string; contentType: DocumentContentType; text: string; metadata?: Record<string, unknown> }): Promise<StoredDocument> {
    await this.setup();
    if (input.text.trim() === "") throw new ValidationError(`The document ${JSON.stringify(input.source)} has no text`);
    const pieces = await splitText(input.text, input.contentType, this.#chunking);
    const documentId = randomUUID();
    const chunks = pieces.map((text, position) => ({ chunkId: randomUUID(), documentId, position, text }));
    const embeddings = this.embeddings ? await this.#embedAll(pieces) : undefined;
    return this.store.addDocument({
      documentId,
      collectionId: input.collectionId,
      source: input.source,
      contentType: input.contentType,
      metadata: input.metadata ?? {},
      characters: input.text.length,
      chunks,
      embeddings,
    });
  }

  async #embedAll(texts: string[]): Promise<Float32Array[]> {
    const vectors: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += this.#batchSize) {
      let batch: number[][];
      try {
        batch = await (this.embeddings as EmbeddingsInterface).embedDocuments(texts.slice(start, start + this.#batchSize));
      } catch (error) {
        throw new ModelProviderError(`The embeddings model failed, so the document was not stored: ${(error as Error).message}`, { cause: error });
      }
      vectors.push(...batch.map((vector) => Float32Array.from(vector)));
    }
    return vectors;
  }

  /**
   * The `k` chunks of the collection that best match `query`: full-text always, vectors when
   * configured, fused by reciprocal rank. If embedding the query fails, full-text alone answers.
   */
  async search(collectionId: string, query: string, k: number): Promise<SearchResult> {
    await this.setup();
    const candidates = Math.max(MINIMUM_CANDIDATES, k * CANDIDATES_PER_RESULT);
    const rankings = [await this.store.searchText(collectionId, query, candidates)];
    const methods: SearchResult["methods"] = ["text"];
    if (this.embeddings) {
      try {
        const embedding = Float32Array.from(await this.embeddings.embedQuery(query));
        rankings.push(await this.store.searchVector(collectionId, embedding, candidates));
        methods.push("vector");
      } catch (error) {
        this.#onSearchFallback?.(error);
      }
    }
    const fused = reciprocalRankFusion(rankings).slice(0, k);
    const chunks = new Map((await this.store.getChunks(fused.map((entry) => entry.id))).map((chunk) => [chunk.chunkId, chunk]));
    const hits: SearchHit[] = [];
    for (const entry of fused) {
      const chunk = chunks.get(entry.id);
      // A chunk deleted between the ranking and this read is simply not returned.
      if (!chunk) continue;
      const [text, vector] = entry.ranks;
      hits.push({
        ...chunk,
        score: Number(entry.score.toFixed(6)),
        ranks: { ...(text ? { text } : {}), ...(vector ? { vector } : {}) },
      });
    }
    return { hits, methods };
  }
}
