import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Config, loadConfig } from "../../src/config.js";
import { type ConfiguredAgent, createAgentFromConfig } from "../../src/composition/agent-from-config.js";
import type { OpenAiStub } from "./openai-stub.js";

/** A fresh temporary folder; remove it with `removeDir`. */
export const makeTempDir = (): string => mkdtempSync(join(tmpdir(), "stateful-agent-test-"));
export const removeDir = (dir: string): void => rmSync(dir, { recursive: true, force: true });

/** The environment a test service runs with: the stub as provider, no retries, a temp DATA_DIR. */
export function makeEnv(stub: OpenAiStub | undefined, dataDir: string, overrides: Record<string, string> = {}) {
  return {
    ...(stub ? { OPENAI_BASE_URL: stub.baseUrl, OPENAI_API_KEY: "test-key" } : {}),
    MODEL: "gpt-4o-mini",
    DATA_DIR: dataDir,
    MODEL_MAX_RETRIES: "0",
    MODEL_RETRY_BASE_MS: "20",
    LOG_LEVEL: "silent",
    // Long-term memory (on by default for users) adds tools, recalled memories and extraction
    // calls to what reaches the model: the suites about everything else assert exact prompts and
    // request counts, so they run without it; the memory suites turn it on.
    LONG_TERM_MEMORY: "off",
    // Titles add a model call after a thread's first run; the title suites turn them on.
    TITLE_GENERATION: "off",
    ...overrides,
  };
}

/** Config built the way the service builds it, from environment variables. */
export const makeConfig = (stub: OpenAiStub | undefined, dataDir: string, overrides: Record<string, string> = {}): Config =>
  loadConfig(makeEnv(stub, dataDir, overrides));

/** The agent the service would build for that environment, on SQLite in `dataDir`. */
export const makeAgent = (stub: OpenAiStub | undefined, dataDir: string, overrides: Record<string, string> = {}): ConfiguredAgent =>
  createAgentFromConfig(makeConfig(stub, dataDir, overrides));

/** `configurable` for a thread, plus any extra keys. */
export const threadConfig = (threadId: string, extra: Record<string, unknown> = {}) => ({
  configurable: { thread_id: threadId, ...extra },
});

/** A run's `input` of one user message. */
export const userInput = (content: string) => ({ messages: [{ role: "user", content }] });

/** The `content` of each message of a thread's or a run's `values`, oldest first. */
export const messageContents = (values: unknown): string[] => ((values as { messages?: Array<{ content: string }> }).messages ?? []).map((message) => message.content);

/**
 * `length` letters without a space, in an order few merge rules like: one piece of the
 * tokenizer's split pattern, the costliest text to tokenise (js-tiktoken merges a piece in time
 * quadratic in its length), at about 0.58 tokens a letter with o200k_base.
 */
export const oneLongWord = (length: number): string => Array.from({ length }, (_, index) => String.fromCharCode(97 + ((index * 7919) % 26))).join("");
