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
