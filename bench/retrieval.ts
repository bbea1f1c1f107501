/**
 * Retrieval at the scale (10k chunks): indexing throughput, search latency and whether
 * search finds the right chunk, on SQLite (FTS5 + sqlite-vec) and PostgreSQL (tsvector + the
 * in-Node cosine scan), full-text alone and hybrid. Embeddings come from a hashing model in
 * process, so the figures are our storage and search rather than a provider's; one smaller run
 * through `OpenAIEmbeddings` and the stub server shows what the HTTP round trips add.
 */
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import { OpenAIEmbeddings } from "@langchain/openai";
import Database from "better-sqlite3";
import { statSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { DocumentIndex } from "../src/retrieval/document-index.js";
import type { DocumentStore } from "../src/storage/document-store.js";
import { PostgresDocumentStore } from "../src/storage/postgres/document-store.js";
import { SqliteDocumentStore } from "../src/storage/sqlite/document-store.js";
import { STUB_EMBEDDING_DIMENSIONS, startOpenAiStub, stubEmbedding } from "../tests/support/openai-stub.js";
import { mean, ms } from "./workloads.js";

/** Paragraphs per document: each is one chunk at the default chunking (1000 characters). */
const PARAGRAPHS = 20;
/** Queries timed per store and mode, and results asked for. */
const QUERIES = 200;
const K = 5;
/** Chunks of the run through OpenAIEmbeddings and the stub server. */
const HTTP_CHUNKS = 1000;
const HTTP_QUERIES = 100;
/**
 * Dimensions of the in-process model: text-embedding-3-small's, so the vector scan costs what it
 * would in production. (At 256, 100-word chunks fill most buckets and the hashing is too noisy for
 * the vector ranking to single out the fact, which then drags hybrid hit_at_1 to about 0.5.)
 */
const FAKE_DIMENSIONS = 1536;

/** FNV-1a of a word. */
function hashWord(word: string): number {
  let hash = 2166136261;
  for (let index = 0; index < word.length; index += 1) hash = Math.imul(hash ^ word.charCodeAt(index), 16777619);
  return hash >>> 0;
}

/** Words the hashing model leaves out, as a real model gives them little weight. */
const STOPWORDS = new Set(["the", "of", "and", "a", "to", "in", "is", "that", "for", "with", "was", "on", "what", "which", "it", "as", "be", "by"]);

/**
 * Words (but stopwords) hashed into signed buckets, normalised: deterministic, cheap, and texts
 * sharing words are close.
 */
export class HashingEmbeddings implements EmbeddingsInterface {
  constructor(readonly dimensions = FAKE_DIMENSIONS) {}
  embed(text: string): number[] {
    const vector = new Array<number>(this.dimensions).fill(0);
    for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
      if (STOPWORDS.has(word)) continue;
      const hash = hashWord(word);
      vector[hash % this.dimensions] = (vector[hash % this.dimensions] as number) + (hash & 0x80000000 ? -1 : 1);
    }
    const norm = Math.hypot(...vector) || 1;
    return vector.map((value) => value / norm);
  }
  async embedDocuments(documents: string[]): Promise<number[][]> {
    return documents.map((document) => this.embed(document));
  }
  async embedQuery(document: string): Promise<number[]> {
    return this.embed(document);
  }
}

/** The stub server's own vectors (64 dimensions), computed in process: the HTTP run without the HTTP. */
const stubVectorsInProcess: EmbeddingsInterface = {
  embedDocuments: async (documents) => documents.map(stubEmbedding),
  embedQuery: async (document) => stubEmbedding(document),
};

/** A small deterministic generator (mulberry32), so every run indexes the same text. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

const SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "si", "de", "pa", "gu", "fe", "zo", "bi", "ha", "ju"];
const COMMON = ["the", "of", "and", "a", "to", "in", "is", "that", "for", "with", "was", "on"];
/** A word no other document uses: the syllables spell the number (and letters no syllable ends in close it). */
const uniqueWord = (prefix: string, number: number) => prefix + number.toString(16).split("").map((digit) => SYLLABLES[parseInt(digit, 16)]).join("") + "x";

interface Corpus {
  documents: Array<{ source: string; text: string; query: string }>;
  bytes: number;
}

/**
 * Documents of 20 paragraphs (~900 characters each) of sentences from a 3,000-word vocabulary
 * with common English words between, so a query's "the" and "of" match nearly every chunk as in
 * real text. One paragraph of each holds its fact, "The project KEY was given the codename VALUE.",
 * which the document's query asks about.
 */
function corpus(documents: number, seed: number): Corpus {
  const next = random(seed);
  const vocabulary = Array.from({ length: 3000 }, () =>
    Array.from({ length: 2 + Math.floor(next() * 3) }, () => SYLLABLES[Math.floor(next() * SYLLABLES.length)]).join(""),
  );
  const pick = (words: readonly string[]) => words[Math.floor(next() * words.length)] as string;
  const sentence = () => {
    const words = Array.from({ length: 6 + Math.floor(next() * 10) }, (_, index) => (index % 3 === 1 ? pick(COMMON) : pick(vocabulary)));
    return `${words.join(" ").replace(/^./, (first) => first.toUpperCase())}.`;
  };
  const paragraph = (fact?: string) => {
    const sentences: string[] = fact ? [fact] : [];
    while (sentences.join(" ").length < 850) sentences.splice(Math.floor(next() * (sentences.length + 1)), 0, sentence());
    return sentences.join(" ");
  };
  const result: Corpus = { documents: [], bytes: 0 };
  for (let document = 0; document < documents; document += 1) {
    const key = uniqueWord("pro", seed * 100_000 + document);
    const fact = `The project ${key} was given the codename ${uniqueWord("cod", seed * 100_000 + document)}.`;
    const factAt = Math.floor(next() * PARAGRAPHS);
    const text = Array.from({ length: PARAGRAPHS }, (_, index) => paragraph(index === factAt ? fact : undefined)).join("\n\n");
    result.documents.push({ source: `doc-${document}.txt`, text, query: `What is the codename of the project ${key}?` });
    result.bytes += Buffer.byteLength(text);
  }
  return result;
}

/** p50, p95 and mean of `times`, in ms. */
function latency(times: number[]) {
  const sorted = [...times].sort((left, right) => left - right);
  const at = (share: number) => sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] as number;
  return { p50: ms(at(0.5)), p95: ms(at(0.95)), mean: ms(mean(times)) };
}

/** Indexes the corpus into a fresh collection, then times `queries` searches. */
async function measure(store: DocumentStore, embeddings: EmbeddingsInterface | undefined, documents: Corpus, queries: number) {
  const index = new DocumentIndex({ store, embeddings });
  const { collectionId } = await index.createCollection({ name: "bench" });
  const documentIds: string[] = [];
  let chunks = 0;
  const started = performance.now();
  for (const document of documents.documents) {
    const stored = await index.addDocument({ collectionId, source: document.source, contentType: "text/plain", text: document.text });
    documentIds.push(stored.documentId);
    chunks += stored.chunkCount;
  }
  const seconds = (performance.now() - started) / 1000;
  // Queries spread over the documents; the first search alone also warms caches (the PostgreSQL
  // store reads the collection's vectors once), so it is run before the timed ones.
  const asked = Array.from({ length: queries }, (_, query) => Math.floor((query * documents.documents.length) / queries));
  await index.search(collectionId, (documents.documents[0] as Corpus["documents"][0]).query, K);
  const times: number[] = [];
  let firstRight = 0;
  let inTopK = 0;
  let methods: string[] = [];
  for (const document of asked) {
    const before = performance.now();
    const result = await index.search(collectionId, (documents.documents[document] as Corpus["documents"][0]).query, K);
    times.push(performance.now() - before);
    if (result.hits[0]?.documentId === documentIds[document]) firstRight += 1;
    if (result.hits.some((hit) => hit.documentId === documentIds[document])) inTopK += 1;
    methods = result.methods;
  }
  return {
    chunks,
    index_chunks_per_s: Number((chunks / seconds).toFixed(1)),
    index_mb_per_s: Number((documents.bytes / 1e6 / seconds).toFixed(2)),
    search_ms: latency(times),
    search_methods: methods,
    hit_at_1: Number((firstRight / queries).toFixed(3)),
    [`hit_at_${K}`]: Number((inTopK / queries).toFixed(3)),
    queries,
  };
}

/** A SQLite file in `dir` opened as the checkpointer opens it (WAL, synchronous NORMAL). */
function openSqlite(path: string) {
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("busy_timeout = 5000");
  db.pragma("synchronous = NORMAL");
  return db;
}

async function sqliteRun(path: string, embeddings: EmbeddingsInterface | undefined, documents: Corpus, queries: number) {
  const db = openSqlite(path);
  try {
    const result = await measure(new SqliteDocumentStore(db), embeddings, documents, queries);
    db.pragma("wal_checkpoint(TRUNCATE)");
    const databaseBytes = statSync(path).size;
    return { ...result, database_bytes: databaseBytes, database_bytes_per_chunk: Math.round(databaseBytes / result.chunks) };
  } finally {
    db.close();
  }
}

async function postgresRun(pool: pg.Pool, embeddings: EmbeddingsInterface | undefined, documents: Corpus, queries: number) {
  const schema = `bench_rag_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
  try {
    const result = await measure(new PostgresDocumentStore(pool, { schema }), embeddings, documents, queries);
    const { rows } = await pool.query<{ bytes: string }>(
      `SELECT sum(pg_total_relation_size(format('%I.%I', schemaname, tablename))) AS bytes FROM pg_tables WHERE schemaname = $1`,
      [schema],
    );
    const databaseBytes = Number(rows[0]?.bytes ?? 0);
    return { ...result, database_bytes: databaseBytes, database_bytes_per_chunk: Math.round(databaseBytes / result.chunks) };
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  }
}

/** A run's figures without its storage ones (the same in both runs of the HTTP comparison). */
const withoutStorage = ({ database_bytes: _bytes, database_bytes_per_chunk: _perChunk, ...figures }: Awaited<ReturnType<typeof sqliteRun>>) => figures;

/**
 * What `OpenAIEmbeddings` and HTTP add on SQLite: the same vectors (the stub's) computed in
 * process, then fetched from the stub server: one request per document (its 20 chunks) and one
 * per query.
 */
async function httpOverhead(dir: string) {
  const documents = corpus(Math.ceil(HTTP_CHUNKS / PARAGRAPHS), 2);
  const stub = await startOpenAiStub();
  try {
    const openAi = new OpenAIEmbeddings({ model: "stub-embedding", apiKey: "x", maxRetries: 1, configuration: { baseURL: stub.baseUrl } });
    const inProcess = await sqliteRun(join(dir, "retrieval-http-fake.sqlite"), stubVectorsInProcess, documents, HTTP_QUERIES);
    const http = await sqliteRun(join(dir, "retrieval-http-stub.sqlite"), openAi, documents, HTTP_QUERIES);
    return {
      chunks: http.chunks,
      embedding_dimensions: STUB_EMBEDDING_DIMENSIONS,
      embedding_requests: stub.embeddingRequests.length,
      same_vectors_in_process: withoutStorage(inProcess),
      openai_embeddings_via_stub: withoutStorage(http),
      extra_index_ms_per_chunk: ms(1000 / http.index_chunks_per_s - 1000 / inProcess.index_chunks_per_s),
      extra_search_ms_mean: ms(http.search_ms.mean - inProcess.search_ms.mean),
    };
  } finally {
    await stub.close();
  }
}

/** Whether the server answers (an error during the runs, with it answering, is a real failure). */
const reachable = (pool: pg.Pool) => pool.query("SELECT 1").then(() => true, () => false);

/**
 * Indexing and search at `chunks` chunks on SQLite (a file in `dir`) and PostgreSQL (a fresh
 * schema on `databaseUrl`, dropped after; skipped, and said so, when no server answers), each
 * full-text only and hybrid with the in-process embeddings; then the HTTP embeddings path.
 */
export async function retrievalBench(dir: string, options: { chunks: number; databaseUrl?: string; queries?: number }) {
  const queries = options.queries ?? QUERIES;
  const documents = corpus(Math.ceil(options.chunks / PARAGRAPHS), 1);
  const embeddings = new HashingEmbeddings();
  const sqlite = {
    text_only: await sqliteRun(join(dir, "retrieval-text.sqlite"), undefined, documents, queries),
    hybrid: await sqliteRun(join(dir, "retrieval-hybrid.sqlite"), embeddings, documents, queries),
  };
  let postgres: Record<string, unknown> = { skipped: "no database URL given" };
  if (options.databaseUrl) {
    const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 4, connectionTimeoutMillis: 3000 });
    try {
      await pool.query("SELECT 1");
      postgres = {
        text_only: await postgresRun(pool, undefined, documents, queries),
        hybrid: await postgresRun(pool, embeddings, documents, queries),
      };
    } catch (error) {
      if (!(await reachable(pool))) postgres = { skipped: `PostgreSQL not reachable at ${new URL(options.databaseUrl).host}: ${(error as Error).message}` };
      else throw error;
    } finally {
      await pool.end();
    }
  }
  return {
    documents: documents.documents.length,
    text_mb: Number((documents.bytes / 1e6).toFixed(2)),
    k: K,
    embedding_dimensions: FAKE_DIMENSIONS,
    sqlite,
    postgres,
    http_embeddings: await httpOverhead(dir),
  };
}
