import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { randomUUID } from "node:crypto";
import { DocumentTooLargeError, ModelProviderError, NotFoundError, ValidationError } from "../errors.js";
import { type ChunkingOptions, DEFAULT_CHUNKING, splitText } from "./chunking.js";
import type { DocumentStore } from "../storage/document-store.js";
import { DocumentWorkers } from "./document-workers.js";
import { extractText, workerFailure } from "./extract-text.js";
import type { Collection, DocumentContentType, SearchHit, StoredDocument } from "../storage/documents.js";
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
  /** What one document may take; `DEFAULT_DOCUMENT_LIMITS` for what is not given. */
  limits?: Partial<DocumentLimits>;
}

/** What one document may take, so that no upload can take the service down. */
export interface DocumentLimits {
  /** Most pages of a PDF (`DOCUMENT_MAX_PAGES`). */
  maxPages: number;
  /** Most characters of text of any document (`DOCUMENT_MAX_CHARACTERS`). */
  maxCharacters: number;
  /** Heap of the worker process that reads a PDF or splits a long text (`DOCUMENT_EXTRACTION_MEMORY_MB`). */
  extractionMemoryMb: number;
  /** Time that worker may take (`DOCUMENT_EXTRACTION_TIMEOUT_MS`). */
  extractionTimeoutMs: number;
}

export const DEFAULT_DOCUMENT_LIMITS: DocumentLimits = { maxPages: 2000, maxCharacters: 10_000_000, extractionMemoryMb: 512, extractionTimeoutMs: 60_000 };

/**
 * Texts longer than this are split in a worker process: the splitters are synchronous underneath
 * and take seconds over megabytes (longest on text with few line breaks), while a shorter text
 * costs less to split here than a worker costs to start.
 */
export const SPLIT_IN_WORKER_ABOVE = 50_000;

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
  readonly limits: DocumentLimits;
  readonly #workers: DocumentWorkers;

  constructor(options: DocumentIndexOptions) {
    this.store = options.store;
    this.embeddings = options.embeddings;
    this.#chunking = options.chunking ?? DEFAULT_CHUNKING;
    this.#batchSize = options.embeddingBatchSize ?? 64;
    this.#onSearchFallback = options.onSearchFallback;
    this.#setupOnce = onceUntilFailure(() => this.store.setup());
    this.limits = { ...DEFAULT_DOCUMENT_LIMITS, ...options.limits };
    this.#workers = new DocumentWorkers({ memoryMb: this.limits.extractionMemoryMb, timeoutMs: this.limits.extractionTimeoutMs });
  }

  /**
   * The text of an upload (see `extractText`): PDFs read in a worker process, held to this index's
   * limits; 413 or 422 when one is passed, the worker running out of memory or time included.
   */
  extractText(upload: { contentType: DocumentContentType; content?: string; contentBase64?: string; source: string }): Promise<string> {
    return extractText(upload, { workers: this.#workers, limits: this.limits });
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
   * Splits, embeds and stores a document. An empty document is a `ValidationError`, one over
   * `maxCharacters` a `DocumentTooLargeError`; a failing embeddings endpoint a
   * `ModelProviderError`, and then nothing is stored. A long text is split in a worker process, so
   * the event loop goes on serving meanwhile.
   */
  async addDocument(input: { collectionId: string; source: string; contentType: DocumentContentType; text: string; metadata?: Record<string, unknown> }): Promise<StoredDocument> {
    await this.setup();
    if (input.text.length > this.limits.maxCharacters) {
      throw new DocumentTooLargeError(
        `${input.source} has ${input.text.length} characters of text, more than the limit of ${this.limits.maxCharacters} (DOCUMENT_MAX_CHARACTERS)`,
      );
    }
    if (input.text.trim() === "") throw new ValidationError(`The document ${JSON.stringify(input.source)} has no text`);
    // As the HTTP edge does: PostgreSQL refuses NUL characters, and both backends must agree.
    if (input.text.includes("\u0000") || input.source.includes("\u0000")) {
      throw new ValidationError(`The document ${JSON.stringify(input.source)} contains NUL characters (\\u0000)`);
    }
    const pieces = await this.#split(input.text, input.contentType, input.source);
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

  async #split(text: string, contentType: DocumentContentType, source: string): Promise<string[]> {
    if (text.length <= SPLIT_IN_WORKER_ABOVE) return splitText(text, contentType, this.#chunking);
    let outcome;
    try {
      outcome = await this.#workers.run({ kind: "split", text, contentType, ...this.#chunking });
    } catch (error) {
      throw workerFailure(error, `Splitting ${source}`, this.#workers);
    }
    if (outcome.kind !== "pieces") throw new Error(`Unexpected answer from the document worker: ${outcome.kind}`);
    return outcome.pieces;
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
