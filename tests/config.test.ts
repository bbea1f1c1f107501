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
