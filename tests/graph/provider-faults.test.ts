/**
 * What the agent does when the model provider misbehaves: retries what is worth retrying (after
 * the provider's Retry-After), gives up with a clear error, and never leaves a thread half-written.
 */
import { type BaseMessage, HumanMessage } from "@langchain/core/messages";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ModelProviderError } from "../../src/errors.js";
import type { ConfiguredAgent } from "../../src/composition/agent-from-config.js";
import { toModelError } from "../../src/graph/model-node.js";
import { retryAfterMs, retryDelayMs } from "../../src/graph/model-retry.js";
import { makeAgent, makeTempDir, removeDir, threadConfig } from "../support/fixtures.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";

let stub: OpenAiStub;
let dataDir: string;
let opened: ConfiguredAgent[] = [];
beforeAll(async () => {
  stub = await startOpenAiStub();
});
afterAll(() => stub.close());
beforeEach(() => {
  stub.reset();
  dataDir = makeTempDir();
});
afterEach(async () => {
  for (const { checkpointer } of opened) await checkpointer.close();
  opened = [];
  removeDir(dataDir);
});

const open = (env: Record<string, string>) => {
  const configured = makeAgent(stub, dataDir, env);
  opened.push(configured);
  return configured.agent;
};
const contents = (messages: BaseMessage[] | undefined) => (messages ?? []).map((message) => message.content);

describe("retries", () => {
  it("retries 5xx with backoff and succeeds", async () => {
    const agent = open({ MODEL_MAX_RETRIES: "2" });
    stub.inject({ kind: "status", status: 500 }, { kind: "status", status: 503 });
    const result = await agent.invoke({ messages: [new HumanMessage("hello")] }, threadConfig("t"));
    expect(contents(result.messages)).toEqual(["hello", "You said: hello"]);
    expect(stub.requests).toHaveLength(3);
  });

  it("waits as long as a 429's Retry-After says before trying again", async () => {
    const agent = open({ MODEL_MAX_RETRIES: "1" });
    stub.inject({ kind: "status", status: 429, headers: { "retry-after-ms": "300" } });
    await agent.invoke({ messages: [new HumanMessage("hello")] }, threadConfig("t"));
    expect(stub.requests).toHaveLength(2);
    expect(stub.requests[1]!.receivedAt - stub.requests[0]!.receivedAt).toBeGreaterThanOrEqual(290);
  });

  it("does not retry a 400, and gives up after the last retry with a clear error", async () => {
    const agent = open({ MODEL_MAX_RETRIES: "2" });
    await agent.invoke({ messages: [new HumanMessage("My name is Ada")] }, threadConfig("t"));
    stub.reset();
    stub.inject({ kind: "status", status: 400, message: "bad request" });
    await expect(agent.invoke({ messages: [new HumanMessage("x")] }, threadConfig("t"))).rejects.toThrow(/HTTP 400: .*bad request/);
    expect(stub.requests).toHaveLength(1);

    stub.reset();
    stub.inject({ kind: "status", status: 502 }, { kind: "status", status: 502 }, { kind: "status", status: 502 });
    const failure = agent.invoke({ messages: [new HumanMessage("y")] }, threadConfig("t"));
    await expect(failure).rejects.toBeInstanceOf(ModelProviderError);
    await expect(failure).rejects.toThrow(/HTTP 502.*after 3 attempts/);
    expect(stub.requests).toHaveLength(3);
    // The thread stayed at its last good checkpoint, and works.
    expect(contents((await agent.getState(threadConfig("t"))).values.messages)).toEqual(["My name is Ada", "Nice to meet you, Ada!"]);
    const next = await agent.invoke({ messages: [new HumanMessage("What is my name?")] }, threadConfig("t"));
    expect(contents(next.messages).at(-1)).toBe("Your name is Ada.");
  });

  it("bounds a model that does not answer with MODEL_TIMEOUT_MS, then fails clearly", async () => {
    const agent = open({ MODEL_MAX_RETRIES: "1", MODEL_TIMEOUT_MS: "1000" });
    // Neither answer comes before the stub is reset, after this test.
    stub.holdNextReply();
    stub.holdNextReply();
    const failure = agent.invoke({ messages: [new HumanMessage("hello?")] }, threadConfig("slow"));
    await expect(failure).rejects.toThrow(/did not finish answering within 1000 ms \(MODEL_TIMEOUT_MS\).*after 2 attempts/);
    expect(stub.requests).toHaveLength(2);
    expect((await agent.getState(threadConfig("slow"))).values.messages).toBeUndefined();
  });

  it("times out a provider that stalls after its headers, and retries it", async () => {
    // Long enough that the healthy second answer cannot run out of it, even on a busy machine.
    const agent = open({ MODEL_MAX_RETRIES: "1", MODEL_TIMEOUT_MS: "1000" });
    stub.inject({ kind: "stall", afterChunks: 1 });
    const result = await agent.invoke({ messages: [new HumanMessage("hello?")] }, threadConfig("stalled"));
    expect(contents(result.messages)).toEqual(["hello?", "You said: hello?"]);
    expect(stub.requests).toHaveLength(2);
  });

  it("retries a stream cut after a role-only first chunk: no text was shown yet", async () => {
    const agent = open({ MODEL_MAX_RETRIES: "1" });
    stub.inject({ kind: "cut", afterChunks: 1 });
    const stream = await agent.stream({ messages: [new HumanMessage("go")] }, { ...threadConfig("role-only"), streamMode: "messages" });
    const tokens: string[] = [];
    for await (const [chunk] of stream) tokens.push(String(chunk.content));
    expect(tokens.join("")).toBe("You said: go");
    expect(stub.requests).toHaveLength(2);
  });

  it("retries a stream cut before its first token, not one cut after it", async () => {
    const agent = open({ MODEL_MAX_RETRIES: "2" });
    stub.respondWith(() => "A reply long enough to be cut in the middle");
    const stream = async (threadId: string) => {
      const tokens: string[] = [];
      const run = await agent.stream({ messages: [new HumanMessage("go")] }, { ...threadConfig(threadId), streamMode: "messages" });
      for await (const [chunk] of run) tokens.push(String(chunk.content));
      return tokens.join("");
    };
    stub.inject({ kind: "cut", afterChunks: 0 });
    expect(await stream("early")).toBe("A reply long enough to be cut in the middle");
    expect(stub.requests).toHaveLength(2);

    stub.reset();
    stub.respondWith(() => "A reply long enough to be cut in the middle");
    stub.inject({ kind: "cut", afterChunks: 4 });
    await expect(stream("late")).rejects.toThrow();
    expect(stub.requests).toHaveLength(1);
    expect((await agent.getState(threadConfig("late"))).values.messages).toBeUndefined();
  });
});

describe("retry timing", () => {
  it("reads Retry-After in milliseconds, seconds or as a date, and ignores malformed values", () => {
    expect(retryAfterMs(new Headers({ "retry-after-ms": "250" }))).toBe(250);
    expect(retryAfterMs(new Headers({ "retry-after": "3" }))).toBe(3000);
    expect(retryAfterMs(new Headers({ "retry-after": new Date(10_000).toUTCString() }), 4000)).toBe(6000);
    expect(retryAfterMs(new Headers({}))).toBeUndefined();
    for (const malformed of ["", " ", "-1", "2, 3", "soon"]) expect(retryAfterMs(new Headers({ "retry-after": malformed }))).toBeUndefined();
  });

  it("retries network failures but not errors raised before the request was made", () => {
    expect(toModelError(Object.assign(new TypeError("terminated"), { cause: { code: "UND_ERR_SOCKET" } }), undefined)).toMatchObject({ isRetryable: true });
    expect(toModelError(new Error("Connection error."), undefined)).toMatchObject({ isRetryable: true });
    expect(toModelError(new TypeError("Cannot read properties of undefined (reading 'id')"), undefined)).toMatchObject({ isRetryable: false });
    expect(toModelError(Object.assign(new Error("Bad request"), { status: 400 }), undefined)).toMatchObject({ isRetryable: false, providerStatus: 400 });
    expect(toModelError(Object.assign(new Error("Overloaded"), { status: 529 }), undefined)).toMatchObject({ isRetryable: true, providerStatus: 529 });
  });

  it("backs off exponentially with jitter, capped, and prefers Retry-After", () => {
    const options = { maxRetries: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(retryDelayMs(new Error("x"), 0, options, () => 0)).toBe(50);
    expect(retryDelayMs(new Error("x"), 2, options, () => 1)).toBe(400);
    expect(retryDelayMs(new Error("x"), 10, options, () => 1)).toBe(1000);
    expect(retryDelayMs(new ModelProviderError("slow down", { providerStatus: 429, retryAfterMs: 5000 }), 0, options)).toBe(1000);
    expect(retryDelayMs(new ModelProviderError("slow down", { providerStatus: 429, retryAfterMs: 200 }), 0, options)).toBe(200);
  });
});
