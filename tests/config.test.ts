import { describe, expect, it } from "vitest";
import { hasModelProvider, loadConfig } from "../src/config.js";
import { ConfigError } from "../src/errors.js";

describe("loadConfig", () => {
  it("has documented defaults", () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      MODEL: "gpt-4o-mini",
      TEMPERATURE: 0,
      MAX_OUTPUT_TOKENS: 1024,
      CONTEXT_TOKENS: 16384,
      DATA_DIR: "./data",
      HOST: "127.0.0.1",
      PORT: 8123,
      LOG_LEVEL: "info",
    });
    expect(config.OPENAI_API_KEY).toBeUndefined();
    expect(hasModelProvider(config)).toBe(false);
  });

  it("parses numbers and treats empty values as unset", () => {
    const config = loadConfig({ PORT: "9000", TEMPERATURE: "0.7", OPENAI_API_KEY: "", OPENAI_BASE_URL: "http://localhost:11434/v1" });
    expect(config.PORT).toBe(9000);
    expect(config.TEMPERATURE).toBe(0.7);
    expect(config.OPENAI_API_KEY).toBeUndefined();
    expect(hasModelProvider(config)).toBe(true);
  });

  it.each([
    [{ PORT: "eighty" }, "PORT"],
    [{ TEMPERATURE: "3" }, "TEMPERATURE"],
    [{ CONTEXT_TOKENS: "-5" }, "CONTEXT_TOKENS"],
    [{ OPENAI_BASE_URL: "not a url" }, "OPENAI_BASE_URL"],
    [{ LOG_LEVEL: "loud" }, "LOG_LEVEL"],
    [{ CONTEXT_TOKENS: "1000", MAX_OUTPUT_TOKENS: "1000" }, "MAX_OUTPUT_TOKENS"],
  ])("rejects %o naming %s", (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`Invalid configuration: .*${name}`));
  });

  it("allows LangGraph Studio's US and EU origins by default, and reads CORS_ORIGINS as origins", () => {
    expect(loadConfig({}).CORS_ORIGINS).toEqual(["https://smith.langchain.com", "https://eu.smith.langchain.com"]);
    expect(loadConfig({ CORS_ORIGINS: " https://smith.langchain.com/ , http://localhost:5173" }).CORS_ORIGINS).toEqual([
      "https://smith.langchain.com",
      "http://localhost:5173",
    ]);
    expect(loadConfig({ CORS_ORIGINS: "*" }).CORS_ORIGINS).toEqual(["*"]);
    expect(() => loadConfig({ CORS_ORIGINS: "https://smith.langchain.com,smith.langchain.com" })).toThrow(
      /CORS_ORIGINS: "smith.langchain.com" is not an origin/,
    );
    expect(() => loadConfig({ CORS_ORIGINS: "https://example.com/studio" })).toThrow(/CORS_ORIGINS/);
  });
});

describe("provider presets (PROVIDER)", () => {
  it.each([
    [{ PROVIDER: "openai", OPENAI_API_KEY: "sk-test" }, { OPENAI_BASE_URL: undefined, OPENAI_API_KEY: "sk-test", MODEL: "gpt-4o-mini" }],
    [{ PROVIDER: "groq", GROQ_API_KEY: "gsk-test" }, { OPENAI_BASE_URL: "https://api.groq.com/openai/v1", OPENAI_API_KEY: "gsk-test", MODEL: "llama-3.1-8b-instant" }],
    [{ PROVIDER: "ollama" }, { OPENAI_BASE_URL: "http://localhost:11434/v1", OPENAI_API_KEY: undefined, MODEL: "llama3.2" }],
    [{ PROVIDER: "vllm", MODEL: "Qwen/Qwen2.5-7B-Instruct" }, { OPENAI_BASE_URL: "http://localhost:8000/v1", MODEL: "Qwen/Qwen2.5-7B-Instruct" }],
    [{ PROVIDER: "lmstudio", MODEL: "qwen2.5-7b-instruct" }, { OPENAI_BASE_URL: "http://localhost:1234/v1", MODEL: "qwen2.5-7b-instruct" }],
    [{ PROVIDER: "openai-compatible", OPENAI_BASE_URL: "http://10.0.0.5:9000/v1", MODEL: "mine", OPENAI_API_KEY: "k" }, { OPENAI_BASE_URL: "http://10.0.0.5:9000/v1", OPENAI_API_KEY: "k", MODEL: "mine" }],
    // The preset's base URL gives way to an explicit one, e.g. Ollama on another machine.
    [{ PROVIDER: "ollama", OPENAI_BASE_URL: "http://gpu-box:11434/v1", MODEL: "mistral" }, { OPENAI_BASE_URL: "http://gpu-box:11434/v1", MODEL: "mistral" }],
  ])("%o sets the base URL, key and model", (env, expected) => {
    const config = loadConfig(env);
    expect(config).toMatchObject(expected);
    expect(hasModelProvider(config)).toBe(true);
  });

  it.each([
    [{ PROVIDER: "groq" }, "GROQ_API_KEY: required with PROVIDER=groq"],
    [{ PROVIDER: "openai" }, "OPENAI_API_KEY: required with PROVIDER=openai"],
    [{ PROVIDER: "vllm" }, "MODEL: required with PROVIDER=vllm"],
    [{ PROVIDER: "openai-compatible", MODEL: "x" }, "OPENAI_BASE_URL: required with PROVIDER=openai-compatible"],
    [{ PROVIDER: "anthropic" }, "PROVIDER"],
  ])("%o is refused: %s", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });
});

describe("memory mode", () => {
  it("defaults to the window, with a 512-token summary budget for summary mode", () => {
    expect(loadConfig({})).toMatchObject({ MEMORY_MODE: "window", SUMMARY_TOKENS: 512 });
    expect(loadConfig({}).SUMMARY_MODEL).toBeUndefined();
    expect(loadConfig({ MEMORY_MODE: "summary", SUMMARY_MODEL: "gpt-4.1-nano" })).toMatchObject({ MEMORY_MODE: "summary", SUMMARY_MODEL: "gpt-4.1-nano" });
  });
  it("rejects an unknown mode", () => {
    expect(() => loadConfig({ MEMORY_MODE: "forever" })).toThrow(/MEMORY_MODE/);
  });
});

describe("loadConfig: the response cache", () => {
  it("is off by default, with an hour's time to live and 1000 entries", () => {
    expect(loadConfig({})).toMatchObject({ LLM_CACHE: "off", LLM_CACHE_TTL: 3600, LLM_CACHE_MAX_ENTRIES: 1000, LLM_CACHE_ANY_TEMPERATURE: false });
  });

  it("parses every mode, the bounds and the temperature switch", () => {
    expect(loadConfig({ LLM_CACHE: "memory", LLM_CACHE_TTL: "0", LLM_CACHE_MAX_ENTRIES: "5", LLM_CACHE_ANY_TEMPERATURE: "true" })).toMatchObject({
      LLM_CACHE: "memory",
      LLM_CACHE_TTL: 0,
      LLM_CACHE_MAX_ENTRIES: 5,
      LLM_CACHE_ANY_TEMPERATURE: true,
    });
    expect(loadConfig({ LLM_CACHE_ANY_TEMPERATURE: "1" }).LLM_CACHE_ANY_TEMPERATURE).toBe(true);
    expect(loadConfig({ LLM_CACHE_ANY_TEMPERATURE: "false" }).LLM_CACHE_ANY_TEMPERATURE).toBe(false);
    expect(loadConfig({ LLM_CACHE: "database" }).LLM_CACHE).toBe("database");
    expect(loadConfig({ LLM_CACHE: "sqlite" }).LLM_CACHE).toBe("sqlite");
    expect(loadConfig({ LLM_CACHE: "database", DATABASE_URL: "postgres://db/agent" }).LLM_CACHE).toBe("database");
    expect(loadConfig({ LLM_CACHE: "postgres", DATABASE_URL: "postgres://db/agent" }).LLM_CACHE).toBe("postgres");
    expect(loadConfig({ LLM_CACHE: "" }).LLM_CACHE).toBe("off");
  });

  it.each([
    [{ LLM_CACHE: "redis" }, "LLM_CACHE"],
    [{ LLM_CACHE: "postgres" }, "LLM_CACHE: is postgres but DATABASE_URL is not set"],
    [{ LLM_CACHE: "sqlite", DATABASE_URL: "postgres://db/agent" }, "LLM_CACHE: is sqlite but DATABASE_URL is set"],
    [{ LLM_CACHE_TTL: "-1" }, "LLM_CACHE_TTL"],
    [{ LLM_CACHE_TTL: "1.5" }, "LLM_CACHE_TTL"],
    [{ LLM_CACHE_MAX_ENTRIES: "0" }, "LLM_CACHE_MAX_ENTRIES"],
    [{ LLM_CACHE_ANY_TEMPERATURE: "yes" }, "LLM_CACHE_ANY_TEMPERATURE: must be true or false"],
  ])("rejects %o naming %s", (env, name) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(new RegExp(`Invalid configuration: .*${name}`));
  });
});

describe("loadConfig: webhooks", () => {
  it("keeps webhooks to public addresses unless WEBHOOK_ALLOW_PRIVATE says otherwise", () => {
    expect(loadConfig({}).WEBHOOK_ALLOW_PRIVATE).toBe(false);
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: "" }).WEBHOOK_ALLOW_PRIVATE).toBe(false);
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: "true" }).WEBHOOK_ALLOW_PRIVATE).toBe(true);
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: "1" }).WEBHOOK_ALLOW_PRIVATE).toBe(true);
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE: "yes" })).toThrow(/WEBHOOK_ALLOW_PRIVATE: must be true or false/);
  });
});

describe("loadConfig: metrics token", () => {
  it("is unset by default, and at least 16 characters when set", () => {
    expect(loadConfig({}).METRICS_TOKEN).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: "" }).METRICS_TOKEN).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: "scraper-token-0123456789" }).METRICS_TOKEN).toBe("scraper-token-0123456789");
    expect(() => loadConfig({ METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN: must be at least 16 characters/);
  });
});

describe("loadConfig: thread TTL", () => {
  it("keeps threads by default, sweeping every minute; THREAD_TTL is minutes, fractions allowed, never 0 or less", () => {
    expect(loadConfig({}).THREAD_TTL).toBeUndefined();
    expect(loadConfig({}).THREAD_TTL_SWEEP_MS).toBe(60_000);
    expect(loadConfig({ THREAD_TTL: "" }).THREAD_TTL).toBeUndefined();
    expect(loadConfig({ THREAD_TTL: "1440", THREAD_TTL_SWEEP_MS: "5000" })).toMatchObject({ THREAD_TTL: 1440, THREAD_TTL_SWEEP_MS: 5000 });
    expect(loadConfig({ THREAD_TTL: "0.5" }).THREAD_TTL).toBe(0.5);
    for (const env of [{ THREAD_TTL: "0" }, { THREAD_TTL: "-1" }, { THREAD_TTL: "a day" }]) expect(() => loadConfig(env)).toThrow(/THREAD_TTL/);
    expect(() => loadConfig({ THREAD_TTL_SWEEP_MS: "0" })).toThrow(/THREAD_TTL_SWEEP_MS/);
  });
});
