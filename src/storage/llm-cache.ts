/**
 * The model response cache: what every backend (memory, SQLite, PostgreSQL) shares. It is a
 * LangChain `BaseCache`, so it plugs into `ChatOpenAI({ cache })`: LangChain looks a call up with
 * `lookup(prompt, llmString)` before calling the provider and stores the answer with `update`.
 *
 * This base decides what may be cached (temperature 0 unless told otherwise), hashes the key,
 * serialises the generations, applies the time to live, counts hits and misses, and makes sure a
 * failing backend never fails a turn: an error is logged and the call is treated as a miss.
 * Backends only store, read and prune serialised entries.
 */
import { BaseCache, deserializeStoredGeneration, serializeGeneration } from "@langchain/core/caches";
import type { BaseMessage, StoredGeneration } from "@langchain/core/messages";
import type { Generation } from "@langchain/core/outputs";
import { createHash } from "node:crypto";
import type { Logger } from "../logger.js";

/** Where the entries live, as `/info` reports it. */
export type LlmCacheBackend = "memory" | "sqlite" | "postgres";

/** Settings shared by every backend. */
export interface LlmCacheOptions {
  /** Seconds an entry is served after it was written; 0 keeps entries until they are evicted. */
  ttlSeconds: number;
  /** Most entries kept; the least recently used go first. */
  maxEntries: number;
  /** Cache replies sampled at any temperature, not only at 0 (where replies are repeatable). */
  anyTemperature?: boolean;
  /** Milliseconds since the epoch; injected by tests so that expiry needs no sleeping. */
  now?: () => number;
  /** Receives hits and misses (debug) and backend failures (warn). */
  logger?: Pick<Logger, "debug" | "warn">;
}

/** Counters and size of a cache, as `GET /info` shows them. */
export interface LlmCacheStats {
  mode: LlmCacheBackend;
  /** Calls answered from the cache. */
  hits: number;
  /** Cacheable calls that went to the provider. */
  misses: number;
  /** Calls that were never looked up because their temperature is not 0. */
  skipped: number;
  /** Entries currently stored and not expired (`null` when the backend cannot tell). */
  entries: number | null;
}

/** One entry as a backend stores it: the serialised generations and when they stop being served. */
export interface LlmCacheEntry {
  /** JSON of `StoredGeneration[]`. */
  value: string;
  /** Milliseconds since the epoch; `null` never expires. */
  expiresAt: number | null;
}

/** Messages that came out of a cache lookup; see `isCachedReply`. */
const cachedMessages = new WeakSet<object>();

/**
 * True when `message` was answered from a response cache rather than by the provider. The model
 * node uses it to give the reply the id under which LangChain streamed it.
 */
export const isCachedReply = (message: object): boolean => cachedMessages.has(message);

/**
 * The temperature a call was made with, read from LangChain's `llmString` (sorted `key:json`
 * pairs of the model's parameters); `undefined` when the call sent none.
 */
export function temperatureOf(llmString: string): number | undefined {
  const match = /(?:^|,)temperature:(-?[0-9.eE+-]+)(?=,|$)/.exec(llmString);
  if (!match) return undefined;
  const value = Number(match[1]);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * A digest of exactly what a prompt sends: each message's role, name, content (all parts, images
 * included), tool calls and tool call id, but not its id, which differs between threads that
 * send the same words. The model node passes it as a call option when the model has a cache,
 * which puts it into `llmString`: LangChain's own `prompt` string renders images as `[image]` and
 * cannot tell a message boundary from a newline, so it alone would let different prompts share
 * an answer.
 */
export function promptFingerprint(messages: readonly BaseMessage[]): string {
  const canonical = messages.map((message) => {
    const toolCalls = "tool_calls" in message ? (message.tool_calls as Array<{ name: string; args: unknown; id?: string }> | undefined) : undefined;
    return [
      message.getType(),
      message.name ?? null,
      message.content,
      toolCalls?.map((call) => [call.name, call.args, call.id ?? null]) ?? null,
      "tool_call_id" in message ? (message.tool_call_id ?? null) : null,
    ];
  });
  return createHash("sha256").update(JSON.stringify(canonical)).digest("hex");
}

/**
 * The stored key of a call: a hash, so neither the prompt nor `llmString` (which holds the
 * provider's API key) is ever written anywhere. JSON keeps the two parts from running together.
 */
export const cacheKey = (prompt: string, llmString: string): string =>
  createHash("sha256").update(JSON.stringify([llmString, prompt])).digest("hex");

/** The shared behaviour of the response caches; subclasses store entries. */
export abstract class LlmCache extends BaseCache<Generation[]> {
  /** Where this cache keeps its entries. */
  abstract readonly mode: LlmCacheBackend;
  protected readonly ttlMs: number;
  protected readonly maxEntries: number;
  protected readonly now: () => number;
  readonly #anyTemperature: boolean;
  readonly #logger: LlmCacheOptions["logger"];
  #hits = 0;
  #misses = 0;
  #skipped = 0;

  constructor(options: LlmCacheOptions) {
    super();
    if (!Number.isInteger(options.maxEntries) || options.maxEntries < 1) throw new RangeError("maxEntries must be a positive integer");
    if (!(options.ttlSeconds >= 0)) throw new RangeError("ttlSeconds must be 0 or more");
    this.ttlMs = options.ttlSeconds * 1000;
    this.maxEntries = options.maxEntries;
    this.now = options.now ?? Date.now;
    this.#anyTemperature = options.anyTemperature ?? false;
    this.#logger = options.logger;
  }

  /** Creates the backend's tables if needed; idempotent. Lookups call it too. */
  setup(): Promise<void> {
    return Promise.resolve();
  }

  /** The entry under `key` if present and not expired at `now`, marked as just used. */
  protected abstract readEntry(key: string, now: number): Promise<string | null>;
  /** Stores (or replaces) an entry, then drops expired entries and the least recently used beyond `maxEntries`. */
  protected abstract writeEntry(key: string, entry: LlmCacheEntry, now: number): Promise<void>;
  /** Entries stored and not expired at `now`. */
  protected abstract countEntries(now: number): Promise<number>;

  /** Whether a call with these parameters may be answered from, and stored in, the cache. */
  cacheable(llmString: string): boolean {
    return this.#anyTemperature || temperatureOf(llmString) === 0;
  }

  /** The stored generations for this call, or `null`: a miss, a call that is not cacheable, or a failing backend. */
  async lookup(prompt: string, llmString: string): Promise<Generation[] | null> {
    if (!this.cacheable(llmString)) {
      this.#skipped += 1;
      return null;
    }
    const key = cacheKey(prompt, llmString);
    let generations: Generation[] | null = null;
    try {
      const value = await this.readEntry(key, this.now());
      if (value !== null) generations = (JSON.parse(value) as StoredGeneration[]).map((stored) => this.#revive(stored));
    } catch (error) {
      // A cache that cannot answer must not fail the turn: the provider answers instead.
      this.#logger?.warn({ err: error, mode: this.mode }, "llm cache lookup failed; treating it as a miss");
      generations = null;
    }
    if (generations === null) this.#misses += 1;
    else this.#hits += 1;
    this.#logger?.debug({ mode: this.mode, key: key.slice(0, 16), hit: generations !== null }, generations === null ? "llm cache miss" : "llm cache hit");
    return generations;
  }

  /** Stores the provider's answer to this call (when cacheable); a failing backend is logged, never thrown. */
  async update(prompt: string, llmString: string, generations: Generation[]): Promise<void> {
    if (!this.cacheable(llmString)) return;
    const key = cacheKey(prompt, llmString);
    try {
      const now = this.now();
      const value = JSON.stringify(generations.map((generation) => serializeGeneration(generation)));
      await this.writeEntry(key, { value, expiresAt: this.ttlMs === 0 ? null : now + this.ttlMs }, now);
    } catch (error) {
      this.#logger?.warn({ err: error, mode: this.mode }, "llm cache update failed; the reply is not cached");
    }
  }

  /** Hits, misses and the number of live entries (`null` when the backend cannot count right now). */
  async stats(): Promise<LlmCacheStats> {
    let entries: number | null;
    try {
      entries = await this.countEntries(this.now());
    } catch (error) {
      this.#logger?.warn({ err: error, mode: this.mode }, "llm cache could not count its entries");
      entries = null;
    }
    return { mode: this.mode, hits: this.#hits, misses: this.#misses, skipped: this.#skipped, entries };
  }

  /** A stored generation as a fresh object, its message marked as a cached reply. */
  #revive(stored: StoredGeneration): Generation {
    const generation = deserializeStoredGeneration(stored);
    if (generation.message) cachedMessages.add(generation.message);
    return generation;
  }
}
