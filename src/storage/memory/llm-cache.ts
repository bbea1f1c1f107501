import { type LlmCacheEntry, LlmCache, type LlmCacheOptions } from "../llm-cache.js";

/**
 * The response cache in this process's memory: lost on restart and not shared between instances.
 * A `Map` keeps insertion order, so re-inserting an entry on every hit makes its first key the
 * least recently used one, which is what is evicted when the cache is full.
 */
export class MemoryLlmCache extends LlmCache {
  readonly mode = "memory" as const;
  readonly #entries = new Map<string, LlmCacheEntry>();

  constructor(options: LlmCacheOptions) {
    super(options);
  }

  protected async readEntry(key: string, now: number): Promise<string | null> {
    const entry = this.#entries.get(key);
    if (!entry) return null;
    this.#entries.delete(key);
    if (entry.expiresAt !== null && entry.expiresAt <= now) return null;
    this.#entries.set(key, entry);
    return entry.value;
  }

  protected async writeEntry(key: string, entry: LlmCacheEntry, now: number): Promise<void> {
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#dropExpired(now);
    for (const oldest of this.#entries.keys()) {
      if (this.#entries.size <= this.maxEntries) break;
      this.#entries.delete(oldest);
    }
  }

  protected async countEntries(now: number): Promise<number> {
    this.#dropExpired(now);
    return this.#entries.size;
  }

  #dropExpired(now: number): void {
    if (this.ttlMs === 0) return;
    for (const [key, entry] of this.#entries) if (entry.expiresAt !== null && entry.expiresAt <= now) this.#entries.delete(key);
  }
}
