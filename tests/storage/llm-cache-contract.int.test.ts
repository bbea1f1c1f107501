/**
 * The response cache contract, run against the memory, SQLite and (when a server answers)
 * PostgreSQL caches: misses, hits that round-trip AI messages, keys that tell calls apart, the
 * temperature gate, expiry on an injected clock, the size bound, and reopening.
 */
import { AIMessage } from "@langchain/core/messages";
import type { ChatGeneration, Generation } from "@langchain/core/outputs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import type { LlmCache, LlmCacheOptions } from "../../src/storage/llm-cache.js";
import { MemoryLlmCache } from "../../src/storage/memory/llm-cache.js";
import { PostgresLlmCache } from "../../src/storage/postgres/llm-cache.js";
import { SqliteLlmCache } from "../../src/storage/sqlite/llm-cache.js";
import { makeTempDir, removeDir } from "../support/fixtures.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { PostgresDatabase } from "../../src/storage/postgres/database.js";
import { SqliteDatabase } from "../../src/storage/sqlite/database.js";

/** LangChain's llmString for a call at temperature 0 (sorted `key:json` pairs). */
const LLM = '_model:"base_chat_model",_type:"openai",max_tokens:100,model:"gpt-4o-mini",temperature:0';
const OTHER_MODEL = LLM.replace("gpt-4o-mini", "gpt-4.1");
const WARM = LLM.replace("temperature:0", "temperature:0.7");
const HOUR_MS = 3_600_000;

/** A reply with everything a provider sends back: text, tool calls, metadata, usage. */
function reply(text: string): Generation[] {
  const message = new AIMessage({
    id: "chatcmpl-1",
    content: text,
    tool_calls: [{ id: "call_1", name: "lookup", args: { city: "Oslo" }, type: "tool_call" }],
    response_metadata: { finish_reason: "stop", model_name: "gpt-4o-mini", usage: { prompt_tokens: 10 } },
    usage_metadata: { input_tokens: 10, output_tokens: 3, total_tokens: 13 },
  });
  return [{ text, message } as ChatGeneration];
}

/** A clock the test moves by hand. */
function manualClock(start = Date.UTC(2030, 0, 1)) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

/** One backend: opens caches on one store; a second `open` stands for a restart. */
interface Backend {
  open(options: LlmCacheOptions): Promise<LlmCache>;
  /** Whether entries outlive the cache object. */
  persistent: boolean;
  /** Makes the store fail from now on (closed connection). */
  breakStore(): Promise<void>;
  dispose(): Promise<void>;
}

function memoryBackend(): Backend {
  return {
    persistent: false,
    open: async (options) => new MemoryLlmCache(options),
    breakStore: async () => undefined,
    dispose: async () => undefined,
  };
}

function sqliteBackend(): Backend {
  const dir = makeTempDir();
  const databases: SqliteDatabase[] = [];
  return {
    persistent: true,
    async open(options) {
      const database = new SqliteDatabase(join(dir, "cache.sqlite"));
      databases.push(database);
      return new SqliteLlmCache(database, options);
    },
    async breakStore() {
      for (const database of databases) database.close();
    },
    async dispose() {
      for (const database of databases) database.close();
      removeDir(dir);
    },
  };
}

function postgresBackend(): Backend {
  const schema = schemaName();
  const pools: pg.Pool[] = [];
  return {
    persistent: true,
    async open(options) {
      const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
      pools.push(pool);
      const cache = new PostgresLlmCache(new PostgresDatabase(pool, { schema }), options);
      await cache.setup();
      return cache;
    },
    async breakStore() {
      for (const pool of pools.splice(0)) await pool.end();
    },
    async dispose() {
      const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 1 });
      await dropSchema(pool, schema);
      await pool.end();
      for (const open of pools) await open.end();
    },
  };
}

const backends: Array<[string, () => Backend]> = [
  ["memory", memoryBackend],
  ["sqlite", sqliteBackend],
];
if (await postgresReachable()) backends.push(["postgres", postgresBackend]);

describe.each(backends)("%s response cache", (_name, createBackend) => {
  let backend: Backend;
  const open = async (options: Partial<LlmCacheOptions> = {}) => {
    backend ??= createBackend();
    return backend.open({ ttlSeconds: 3600, maxEntries: 100, ...options });
  };
  afterEach(async () => {
    await backend?.dispose();
    backend = undefined as unknown as Backend;
  });
  afterAll(async () => backend?.dispose());

  it("misses an unknown call", async () => {
    const cache = await open();
    expect(await cache.lookup("Human: hi", LLM)).toBeNull();
    expect(await cache.stats()).toMatchObject({ hits: 0, misses: 1, entries: 0 });
  });

  it("returns what was stored, AI message and all, as a fresh copy each time", async () => {
    const cache = await open();
    const stored = reply("Hello!");
    await cache.update("Human: hi", LLM, stored);
    const [first] = (await cache.lookup("Human: hi", LLM)) as ChatGeneration[];
    const [second] = (await cache.lookup("Human: hi", LLM)) as ChatGeneration[];
    const original = (stored[0] as ChatGeneration).message as AIMessage;
    for (const hit of [first, second]) {
      expect(hit?.text).toBe("Hello!");
      expect(AIMessage.isInstance(hit?.message)).toBe(true);
      const message = hit!.message as AIMessage;
      expect(message.content).toBe("Hello!");
      expect(message.tool_calls).toEqual(original.tool_calls);
      expect(message.response_metadata).toEqual(original.response_metadata);
      expect(message.usage_metadata).toEqual(original.usage_metadata);
      expect(message.id).toBe("chatcmpl-1");
    }
    // LangChain mutates what a lookup returns (usage set to 0): that must not reach the store.
    expect(first!.message).not.toBe(second!.message);
    expect(await cache.stats()).toMatchObject({ hits: 2, misses: 0, entries: 1 });
  });

  it("tells calls apart by prompt and by model parameters", async () => {
    const cache = await open();
    await cache.update("Human: hi", LLM, reply("Hello!"));
    expect(await cache.lookup("Human: hi", OTHER_MODEL)).toBeNull();
    expect(await cache.lookup("Human: hello", LLM)).toBeNull();
    expect(await cache.lookup("Human: hi", `${LLM},promptFingerprint:"abc"`)).toBeNull();
    await cache.update("Human: hi", OTHER_MODEL, reply("Hi from 4.1"));
    expect(((await cache.lookup("Human: hi", OTHER_MODEL)) as Generation[])[0]?.text).toBe("Hi from 4.1");
    expect(((await cache.lookup("Human: hi", LLM)) as Generation[])[0]?.text).toBe("Hello!");
  });

  it("replaces an entry written again", async () => {
    const cache = await open();
    await cache.update("Human: hi", LLM, reply("first"));
    await cache.update("Human: hi", LLM, reply("second"));
    expect(((await cache.lookup("Human: hi", LLM)) as Generation[])[0]?.text).toBe("second");
    expect((await cache.stats()).entries).toBe(1);
  });

  it("neither stores nor serves calls above temperature 0, unless told to", async () => {
    const cache = await open();
    await cache.update("Human: hi", WARM, reply("a sample"));
    expect(await cache.lookup("Human: hi", WARM)).toBeNull();
    expect(await cache.stats()).toMatchObject({ hits: 0, misses: 0, skipped: 1, entries: 0 });
    const any = await open({ anyTemperature: true });
    await any.update("Human: hi", WARM, reply("a sample"));
    expect(((await any.lookup("Human: hi", WARM)) as Generation[])[0]?.text).toBe("a sample");
  });

  it("expires entries after the time to live", async () => {
    const clock = manualClock();
    const cache = await open({ ttlSeconds: 60, now: clock.now });
    await cache.update("Human: hi", LLM, reply("Hello!"));
    clock.advance(59_000);
    expect(await cache.lookup("Human: hi", LLM)).not.toBeNull();
    clock.advance(1_000);
    expect(await cache.lookup("Human: hi", LLM)).toBeNull();
    expect((await cache.stats()).entries).toBe(0);
  });

  it("keeps entries without a time to live (0) until evicted", async () => {
    const clock = manualClock();
    const cache = await open({ ttlSeconds: 0, now: clock.now });
    await cache.update("Human: hi", LLM, reply("Hello!"));
    clock.advance(10 * 365 * 24 * HOUR_MS);
    expect(await cache.lookup("Human: hi", LLM)).not.toBeNull();
  });

  it("evicts the least recently used entry beyond the bound, and expired ones on write", async () => {
    const clock = manualClock();
    const cache = await open({ maxEntries: 2, ttlSeconds: 3600, now: clock.now });
    await cache.update("Human: a", LLM, reply("A"));
    clock.advance(1000);
    await cache.update("Human: b", LLM, reply("B"));
    clock.advance(1000);
    // Reading a makes b the least recently used.
    expect(await cache.lookup("Human: a", LLM)).not.toBeNull();
    clock.advance(1000);
    await cache.update("Human: c", LLM, reply("C"));
    expect(await cache.lookup("Human: b", LLM)).toBeNull();
    expect(await cache.lookup("Human: a", LLM)).not.toBeNull();
    expect(await cache.lookup("Human: c", LLM)).not.toBeNull();
    expect((await cache.stats()).entries).toBe(2);
    clock.advance(2 * HOUR_MS);
    await cache.update("Human: d", LLM, reply("D"));
    expect((await cache.stats()).entries).toBe(1);
  });

  it("keeps entries across a reopening when the store is persistent", async () => {
    const cache = await open();
    await cache.update("Human: hi", LLM, reply("Hello!"));
    const reopened = await open();
    const hit = await reopened.lookup("Human: hi", LLM);
    if (backend.persistent) expect((hit as Generation[])[0]?.text).toBe("Hello!");
    else expect(hit).toBeNull();
  });

  it("treats a failing store as a miss and never throws", async () => {
    const warnings: string[] = [];
    const logger = { debug: () => undefined, warn: (_object: unknown, message: string) => void warnings.push(message) };
    const cache = await open({ logger: logger as unknown as LlmCacheOptions["logger"] });
    await cache.update("Human: hi", LLM, reply("Hello!"));
    await backend.breakStore();
    if (!backend.persistent) return;
    expect(await cache.lookup("Human: hi", LLM)).toBeNull();
    await expect(cache.update("Human: hi", LLM, reply("again"))).resolves.toBeUndefined();
    expect(await cache.stats()).toMatchObject({ misses: 1, entries: null });
    expect(warnings).toEqual(expect.arrayContaining([expect.stringMatching(/lookup failed/), expect.stringMatching(/update failed/)]));
  });
});
