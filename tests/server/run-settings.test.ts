/**
 * Run settings through the API, as a client sets them (`config.configurable` or `context`): what
 * reaches the model at the stub, what is refused before anything is created, and the schema
 * Studio draws its form from.
 */
import type { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SUMMARY_HEADING, SUMMARY_INSTRUCTIONS } from "../../src/graph/summary.js";
import { ASSISTANT_ID } from "../../src/server/assistants.js";
import { countRequestTokens } from "../support/count-tokens.js";
import { type ChatRequest, type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";

/** The service's configured defaults. */
const ENV = { MODEL: "gpt-4o-mini", TEMPERATURE: "0.2", MAX_OUTPUT_TOKENS: "300", CONTEXT_TOKENS: "8000", SYSTEM_PROMPT: "You are terse.", SUMMARY_TOKENS: "400" };

const isSummaryRequest = (request: ChatRequest) => wireText(request.messages[0]!).startsWith(SUMMARY_INSTRUCTIONS);
const user = (content: string) => ({ messages: [{ role: "user", content }] });
const filler = (index: number) => `Tell me something about topic number ${index}, please, with a few words of detail.`;

describe("run settings", () => {
  let stub: OpenAiStub;
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { env: ENV });
    client = server.client;
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });
  beforeEach(() => stub.reset());

  const chatRequests = () => stub.requests.map((request) => request.body).filter((body) => !isSummaryRequest(body));

  it("sends a run's model, temperature and max_tokens to the provider, and the defaults otherwise", async () => {
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "agent", { input: user("My name is Ada"), config: { configurable: { model: "gpt-4.1", temperature: 0.7, max_tokens: 77 } } });
    // `context` is read as configurable is; it wins over config where both name a key.
    await client.runs.wait(thread.thread_id, "agent", { input: user("Hello again"), config: { configurable: { temperature: 1.5 } }, context: { temperature: 1.1, model: "my-local-model" } });
    await client.runs.wait(thread.thread_id, "agent", { input: user("What is my name?") });
    const sent = chatRequests().map(({ model, temperature, max_tokens }) => ({ model, temperature, max_tokens }));
    expect(sent).toEqual([
      { model: "gpt-4.1", temperature: 0.7, max_tokens: 77 },
      { model: "my-local-model", temperature: 1.1, max_tokens: 300 },
      { model: "gpt-4o-mini", temperature: 0.2, max_tokens: 300 },
    ]);
    // The thread is one conversation whatever model answered each turn.
    expect(wireText(chatRequests().at(-1)!.messages.at(-1)!)).toBe("What is my name?");
    expect(chatRequests().at(-1)!.messages.map(wireText)).toContain("My name is Ada");
  });

  it("fits the history into the run's context_tokens", async () => {
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "agent", { input: user("My name is Ada") });
    for (let index = 1; index <= 6; index += 1) await client.runs.wait(thread.thread_id, "agent", { input: user(filler(index)) });

    const small = { context_tokens: 200, max_tokens: 40 };
    await client.runs.wait(thread.thread_id, "agent", { input: user("What is my name?"), config: { configurable: small } });
    const trimmed = chatRequests().at(-1)!;
    expect(countRequestTokens(trimmed.messages)).toBeLessThanOrEqual(small.context_tokens - small.max_tokens);
    expect(trimmed.messages.map(wireText)).not.toContain("My name is Ada");
    expect(trimmed.messages[0]).toMatchObject({ role: "system", content: "You are terse." });

    // The next run with the default budget sends the whole conversation again.
    await client.runs.wait(thread.thread_id, "agent", { input: user("And now?") });
    const whole = chatRequests().at(-1)!;
    expect(whole.messages.map(wireText)).toContain("My name is Ada");
    expect(whole.messages.length).toBeGreaterThan(trimmed.messages.length);
    // The thread keeps everything: trimming only chooses what is sent.
    const state = await client.threads.getState<{ messages: unknown[] }>(thread.thread_id);
    expect(state.values.messages).toHaveLength(2 * 9);
  });

  it("refuses at once new messages that cannot fit the run's own budget", async () => {
    const thread = await client.threads.create();
    const long = filler(1).repeat(4);
    const refused = await server.request(`/threads/${thread.thread_id}/runs/wait`, { body: { assistant_id: "agent", input: user(long), config: { configurable: { context_tokens: 100, max_tokens: 20 } } } });
    expect(refused.status).toBe(400);
    expect((refused.body as { detail: string }).detail).toMatch(/only 80 are available .*raise context_tokens/);
    expect(await client.runs.list(thread.thread_id)).toEqual([]);
    expect(stub.requests).toHaveLength(0);
    // The service's budget takes it.
    await client.runs.wait(thread.thread_id, "agent", { input: user(long) });
    expect(stub.requests).toHaveLength(1);
  });

  it("keeps a summary in runs that ask for summary memory, and sends none in window mode runs", async () => {
    const thread = await client.threads.create();
    const summaryMode = { memory_mode: "summary", context_tokens: 400, max_tokens: 50, summary_tokens: 60 };
    await client.runs.wait(thread.thread_id, "agent", { input: user("My name is Ada"), config: { configurable: summaryMode } });
    for (let index = 1; index <= 12 && !stub.requests.some((request) => isSummaryRequest(request.body)); index += 1) {
      await client.runs.wait(thread.thread_id, "agent", { input: user(filler(index)), config: { configurable: summaryMode } });
    }
    const summaries = stub.requests.map((request) => request.body).filter(isSummaryRequest);
    expect(summaries.length).toBeGreaterThan(0);
    // A summary is at most summary_tokens long; the summary model is the run's model.
    expect(summaries[0]).toMatchObject({ model: "gpt-4o-mini", max_tokens: 60 });
    expect(summaries[0]!.messages.map(wireText).join("\n")).toContain("My name is Ada");
    const withSummary = chatRequests().at(-1)!;
    expect(wireText(withSummary.messages[0]!)).toContain(SUMMARY_HEADING);
    expect(countRequestTokens(withSummary.messages)).toBeLessThanOrEqual(summaryMode.context_tokens - summaryMode.max_tokens);

    // The same thread in a window mode run (the service's default): no summary, and no summary call.
    stub.reset();
    await client.runs.wait(thread.thread_id, "agent", { input: user("What is my name?"), config: { configurable: { context_tokens: 400, max_tokens: 50 } } });
    expect(stub.requests).toHaveLength(1);
    expect(wireText(stub.requests[0]!.body.messages[0]!)).toBe("You are terse.");
    await client.runs.wait(thread.thread_id, "agent", { input: user("Thanks") });
    expect(stub.requests.map((request) => request.body).filter(isSummaryRequest)).toHaveLength(0);
  });

  it("refuses a bad setting with 422 naming it, creating no thread and no run", async () => {
    const threadsBefore = await client.threads.count();
    const existing = await client.threads.create();
    const fresh = crypto.randomUUID();
    const refusals: Array<[string, unknown, string]> = [
      [`/threads/${existing.thread_id}/runs`, { assistant_id: "agent", input: user("hi"), config: { configurable: { temperature: 3 } } }, "configurable.temperature must be a number from 0 to 2"],
      [`/threads/${existing.thread_id}/runs/wait`, { assistant_id: "agent", input: user("hi"), context: { memory_mode: "sometimes" } }, "configurable.memory_mode must be one of"],
      // A run without new messages (it continues the thread) is checked too.
      [`/threads/${existing.thread_id}/runs/wait`, { assistant_id: "agent", config: { configurable: { temperature: -1 } } }, "configurable.temperature must be a number from 0 to 2"],
      [`/threads/${fresh}/runs/stream`, { assistant_id: "agent", input: user("hi"), if_not_exists: "create", config: { configurable: { max_tokens: -1 } } }, "configurable.max_tokens must be an integer"],
      ["/runs/wait", { assistant_id: "agent", input: user("hi"), on_completion: "keep", config: { configurable: { model: "" } } }, "configurable.model must be a non-empty string"],
      ["/runs/stream", { assistant_id: "agent", input: user("hi"), on_completion: "keep", context: { context_tokens: "lots" } }, "configurable.context_tokens must be an integer"],
      ["/runs/batch", [{ assistant_id: "agent", input: user("fine"), on_completion: "keep" }, { assistant_id: "agent", input: user("hi"), config: { configurable: { summary_tokens: 0 } } }], "configurable.summary_tokens must be an integer"],
      // Valid alone, impossible together with the service's CONTEXT_TOKENS.
      ["/runs/wait", { assistant_id: "agent", input: user("hi"), on_completion: "keep", config: { configurable: { max_tokens: 9000 } } }, "configurable.max_tokens (9000) must be smaller than context_tokens (the default, 8000)"],
    ];
    for (const [path, body, detail] of refusals) {
      const response = await server.request(path, { body });
      expect({ path, status: response.status }).toEqual({ path, status: 422 });
      expect((response.body as { detail: string }).detail).toContain(detail);
    }
    // The SDK sees the same refusal.
    await expect(client.runs.wait(existing.thread_id, "agent", { input: user("hi"), config: { configurable: { temperature: "hot" } } })).rejects.toMatchObject({ status: 422 });

    expect(await client.threads.count()).toBe(threadsBefore + 1);
    await expect(client.threads.get(fresh)).rejects.toMatchObject({ status: 404 });
    expect(await client.runs.list(existing.thread_id)).toEqual([]);
    expect(stub.requests).toHaveLength(0);
  });

  it("publishes the settings as config_schema and context_schema, with the service's defaults", async () => {
    const schemas = await client.assistants.getSchemas(ASSISTANT_ID);
    type Property = { type: string; default?: unknown; description: string; title: string; minimum?: number; maximum?: number; enum?: string[] };
    const config = schemas.config_schema as { type: string; properties: Record<string, Property> };
    expect(config.type).toBe("object");
    expect(config.properties).toEqual({
      system_prompt: expect.objectContaining({ type: "string", default: "You are terse." }),
      model: expect.objectContaining({ type: "string", default: "gpt-4o-mini" }),
      temperature: expect.objectContaining({ type: "number", minimum: 0, maximum: 2, default: 0.2 }),
      max_tokens: expect.objectContaining({ type: "integer", minimum: 1, default: 300 }),
      context_tokens: expect.objectContaining({ type: "integer", minimum: 1, default: 8000 }),
      memory_mode: expect.objectContaining({ type: "string", enum: ["window", "summary"], default: "window" }),
      summary_tokens: expect.objectContaining({ type: "integer", minimum: 1, default: 400 }),
      collection_id: expect.objectContaining({ type: "string" }),
      long_term_memory: expect.objectContaining({ type: "boolean", default: false }), // the test services run with LONG_TERM_MEMORY=off
    });
    for (const property of Object.values(config.properties)) {
      expect(property.title).toEqual(expect.any(String));
      expect(property.description.length).toBeGreaterThan(10);
    }
    expect(schemas.context_schema).toEqual(schemas.config_schema);
  });
});
