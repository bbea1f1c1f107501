import type { Config } from "../config.js";
import { createAgent, type Agent } from "../graph/agent.js";
import { createChatModel, createEmbeddings } from "../graph/chat-model.js";
import { DocumentIndex } from "../retrieval/document-index.js";
import { type Logger, createLogger } from "../logger.js";
import type { SummaryMemoryOptions } from "../graph/agent.js";
import type { ChatModelFactory } from "../graph/run-models.js";
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { LlmCache, LlmCacheOptions } from "../storage/llm-cache.js";
import { MemoryLlmCache } from "../storage/memory/llm-cache.js";
import type { ServiceCheckpointer } from "../storage/checkpointer.js";
import { openStorage } from "../storage/open-storage.js";
import { scopedStore } from "../storage/scoped-store.js";
import type { Storage } from "../storage/storage.js";

/** An agent and the storage it owns, so whoever built it can close the database. */
export interface ConfiguredAgent {
  agent: Agent;
  /** Every part of storage: SQLite in `DATA_DIR`, or PostgreSQL when `DATABASE_URL` is set. Close it when done. */
  storage: Storage;
  /** The storage's checkpointer; closing it closes the database too, as in earlier releases. */
  checkpointer: ServiceCheckpointer;
  /** False when no model provider is configured; runs then fail with a clear error. */
  hasModel: boolean;
  /** The user's documents, in the checkpointer's database: the API's collections and the agent's search tool. */
  documents: DocumentIndex;
  /** The model response cache (`LLM_CACHE`), on the checkpointer's database; unset when off. */
  llmCache?: LlmCache;
}

/** The response cache `LLM_CACHE` asks for, in memory or in the service's database. */
export function createLlmCache(config: Config, storage: Storage, logger?: Logger): LlmCache | undefined {
  if (config.LLM_CACHE === "off") return undefined;
  const options: LlmCacheOptions = {
    ttlSeconds: config.LLM_CACHE_TTL,
    maxEntries: config.LLM_CACHE_MAX_ENTRIES,
    anyTemperature: config.LLM_CACHE_ANY_TEMPERATURE,
    logger,
  };
  if (config.LLM_CACHE === "memory") return new MemoryLlmCache(options);
  // "database", "sqlite" and "postgres" all mean the service's own database (config checks they match).
  return storage.createLlmCache(options);
}

/**
 * Builds the agent the environment describes: ChatOpenAI, its storage (see `openStorage`), the budgets, the
 * response cache and the memory mode. `logger` receives the cache's hits, misses and failures, and
 * failed summary calls (the service's own logger by default).
 */
export function createAgentFromConfig(config: Config, options: { logger?: Logger } = {}): ConfiguredAgent {
  const storage = openStorage(config);
  const { checkpointer } = storage;
  const logger = options.logger ?? createLogger(config);
  const llmCache = createLlmCache(config, storage, logger);
  const model = createChatModel(config, llmCache);
  // Runs with another model, temperature or max_tokens get a client of their own, on the same
  // provider and response cache (see src/graph/run-models.ts).
  const modelFactory: ChatModelFactory | undefined = model
    ? (settings) => createChatModel({ ...config, MODEL: settings.model, TEMPERATURE: settings.temperature, MAX_OUTPUT_TOKENS: settings.maxTokens }, llmCache) as BaseChatModel
    : undefined;
  // Any run may ask for summary memory, so its settings are always given; MEMORY_MODE is the default.
  // Summary models come from the factory: a summary is at most summary_tokens long, whatever max_tokens says.
  const summary: SummaryMemoryOptions = {
    summaryTokens: config.SUMMARY_TOKENS,
    modelName: config.SUMMARY_MODEL,
    onError: (error, context) => logger.warn({ err: error, ...context }, "summary call failed; the turn goes on with the previous summary, and the next turn retries"),
  };
  const documents = new DocumentIndex({
    store: storage.documents,
    embeddings: createEmbeddings(config),
    chunking: { chunkSize: config.CHUNK_SIZE, chunkOverlap: config.CHUNK_OVERLAP },
    limits: {
      maxPages: config.DOCUMENT_MAX_PAGES,
      maxCharacters: config.DOCUMENT_MAX_CHARACTERS,
      extractionMemoryMb: config.DOCUMENT_EXTRACTION_MEMORY_MB,
      extractionTimeoutMs: config.DOCUMENT_EXTRACTION_TIMEOUT_MS,
    },
    onSearchFallback: (error) => logger.warn({ err: error }, "embedding the query failed; the search used full-text only"),
  });
  const agent = createAgent({
    summary,
    memoryMode: config.MEMORY_MODE,
    documents,
    model,
    modelFactory,
    modelName: config.MODEL,
    temperature: config.TEMPERATURE,
    checkpointer,
    // Used in code and through langgraph.json, the agent's user is the local one: the same
    // namespaces as a server without API keys on this database.
    store: scopedStore(storage.store, undefined),
    systemPrompt: config.SYSTEM_PROMPT,
    contextTokens: config.CONTEXT_TOKENS,
    maxOutputTokens: config.MAX_OUTPUT_TOKENS,
    tokenizerModel: config.MODEL,
    durability: config.CHECKPOINT_DURABILITY,
    retry: {
      maxRetries: config.MODEL_MAX_RETRIES,
      baseDelayMs: config.MODEL_RETRY_BASE_MS,
      maxDelayMs: config.MODEL_RETRY_MAX_MS,
      attemptTimeoutMs: config.MODEL_TIMEOUT_MS,
    },
  });
  return { agent, storage, checkpointer, documents, hasModel: model !== undefined, ...(llmCache ? { llmCache } : {}) };
}
