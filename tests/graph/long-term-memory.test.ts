/**
 * Long-term memory with the real ChatOpenAI against the stub model and LangGraph's InMemoryStore,
 * passed per invocation as the server passes each owner's store. What is checked is what a user
 * would notice: what reached the model (the system prompt, the tools), what the store keeps, and
 * that the replies and threads are untouched when memory work fails.
 */
import { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import { HumanMessage } from "@langchain/core/messages";
import { InMemoryStore } from "@langchain/langgraph-checkpoint";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ConfiguredAgent, createAgentFromConfig } from "../../src/composition/agent-from-config.js";
import { memoryWritesSettled } from "../../src/graph/agent.js";
import { MEMORY_HEADING, memoryNamespace } from "../../src/graph/long-term-memory.js";
import { FORGET_MEMORY_TOOL, SAVE_MEMORY_TOOL } from "../../src/graph/memory-tools.js";
import type { AgentStateValue } from "../../src/graph/state.js";
import { countRequestTokens } from "../support/count-tokens.js";
import { makeConfig, makeTempDir, removeDir } from "../support/fixtures.js";
import { type ChatRequest, type OpenAiStub, isExtractionRequest, memoryResponder, startOpenAiStub, wireText } from "../support/openai-stub.js";

type Agent = ConfiguredAgent["agent"];

describe("long-term memory", () => {
  let stub: OpenAiStub;
  const dirs: string[] = [];
  const agents: ConfiguredAgent[] = [];
  beforeAll(async () => {
    stub = await startOpenAiStub();
  });
  afterEach(async () => {
    for (const { agent, checkpointer } of agents.splice(0)) {
      await memoryWritesSettled(agent);
      await checkpointer.close();
    }
    for (const dir of dirs.splice(0)) removeDir(dir);
    stub.reset();
  });
  afterAll(() => stub.close());

  function agentWith(env: Record<string, string> = {}, logs: string[] = []): Agent {
    const dir = makeTempDir();
    dirs.push(dir);
    const logger = pino({ level: "warn" }, { write: (line: string) => void logs.push(line) });
    const configured = createAgentFromConfig(makeConfig(stub, dir, { LONG_TERM_MEMORY: "on", ...env }), { logger });
    agents.push(configured);
    return configured.agent;
  }

  /** One turn, then the background memory work it started. */
  async function turn(agent: Agent, store: InMemoryStore, threadId: string, user: string, text: string, extra: Record<string, unknown> = {}) {
    const result = await agent.invoke({ messages: [new HumanMessage(text)] }, { configurable: { thread_id: threadId, user_id: user, ...extra }, store });
    await memoryWritesSettled(agent);
    return result.messages.at(-1)!.text;
  }

  const chatRequests = () => stub.requests.map((request) => request.body).filter((body) => !isExtractionRequest(body));
  const extractionRequests = () => stub.requests.map((request) => request.body).filter(isExtractionRequest);
  const systemOf = (request: ChatRequest) => (request.messages[0]?.role === "system" ? wireText(request.messages[0]) : "");
  const toolNames = (request: ChatRequest) => ((request.tools as Array<{ function: { name: string } }> | undefined) ?? []).map((tool) => tool.function.name);
  const memories = async (store: InMemoryStore, user: string) => (await store.search(memoryNamespace(user), { limit: 100 })).map((item) => ({ key: item.key, text: item.value.text as string }));

  it("knows a name told in thread 1 in a new thread of the same user, and not for another user", async () => {
    const agent = agentWith();
    const store = new InMemoryStore();
    expect(await turn(agent, store, "t1", "ada", "Hello, my name is Ada.")).toBe("Nice to meet you, Ada!");
    expect(await memories(store, "ada")).toEqual([{ key: "name", text: "The user's name is Ada." }]);

    expect(await turn(agent, store, "t2", "ada", "What is my name?")).toBe("Your name is Ada.");
    const system = systemOf(chatRequests().at(-1)!);
    expect(system).toContain(`${MEMORY_HEADING}- name: The user's name is Ada.`);
    // The model may save and forget memories itself.
    expect(toolNames(chatRequests().at(-1)!)).toEqual(expect.arrayContaining([SAVE_MEMORY_TOOL, FORGET_MEMORY_TOOL]));

    expect(await turn(agent, store, "t3", "bob", "What is my name?")).toBe("I don't know your name.");
    expect(systemOf(chatRequests().at(-1)!)).not.toContain("Ada");
    expect(systemOf(chatRequests().at(-1)!)).not.toContain(MEMORY_HEADING);
    expect(await memories(store, "bob")).toEqual([]);
  });

  it("keeps extraction out of the run: its callbacks and streams never see the extraction call", async () => {
    const agent = agentWith();
    const store = new InMemoryStore();
    const started: string[] = [];
    const callbacks = [BaseCallbackHandler.fromMethods({ handleChatModelStart: (_llm, _messages, _runId, _parentRunId, _extra, _tags, _metadata, runName) => void started.push(runName ?? "model") })];
    await agent.invoke({ messages: [new HumanMessage("My name is Ada.")] }, { configurable: { thread_id: "t", user_id: "ada" }, store, callbacks });
    await memoryWritesSettled(agent);
    expect(extractionRequests()).toHaveLength(1);
    expect(started).toHaveLength(1);
    expect(started).not.toContain("extract_memories");
  });

  it("forgets a name when asked, and replaces a corrected fact instead of keeping two", async () => {
    const agent = agentWith();
    const store = new InMemoryStore();
    await turn(agent, store, "t1", "ada", "My name is Ada.");
    await turn(agent, store, "t1", "ada", "Sorry, I mistyped: my name is Grace.");
    expect(await memories(store, "ada")).toEqual([{ key: "name", text: "The user's name is Grace." }]);
    expect(await turn(agent, store, "t2", "ada", "What is my name?")).toBe("Your name is Grace.");
    expect(systemOf(chatRequests().at(-1)!)).not.toContain("Ada");

    await turn(agent, store, "t2", "ada", "Please forget my name.");
    expect(await memories(store, "ada")).toEqual([]);
    expect(await turn(agent, store, "t3", "ada", "What is my name?")).toBe("I don't know your name.");
  });

  it("keeps the prompt within context_tokens, dropping the lowest-ranked memories first", async () => {
    const agent = agentWith();
    const store = new InMemoryStore();
    const facts = Array.from({ length: 5 }, (_, index) => `Fact number ${index + 1} about the user: ${"they like long descriptive sentences ".repeat(9).trim()}.`);
    for (const [index, text] of facts.entries()) await store.put(memoryNamespace("ada"), `fact_${index + 1}`, { text });
    const small = { context_tokens: 320, max_tokens: 40 };
    for (let index = 1; index <= 6; index += 1) await turn(agent, store, "t", "ada", `Question ${index}: tell me about the weather today in a few words.`, small);
    for (const request of chatRequests()) {
      expect(countRequestTokens(request.messages)).toBeLessThanOrEqual(small.context_tokens - small.max_tokens);
      const system = systemOf(request);
      const sent = facts.map((_, index) => system.includes(`fact_${index + 1}:`));
      // Some fit, not all; the ones sent are the best-ranked (the store's order).
      expect(sent[0]).toBe(true);
      expect(sent.at(-1)).toBe(false);
      expect(sent.indexOf(false)).toBe(sent.lastIndexOf(true) + 1);
    }
    // With room, every recalled memory is sent (MEMORY_RECALL_K, 5 by default).
    await turn(agent, store, "t-big", "ada", "Hello there.");
    expect(facts.every((_, index) => systemOf(chatRequests().at(-1)!).includes(`fact_${index + 1}:`))).toBe(true);
  });

  it("leaves the reply and the thread intact when extraction fails (HTTP 500, timeout)", async () => {
    const logs: string[] = [];
    const agent = agentWith({ MODEL_TIMEOUT_MS: "3000" }, logs);
    const store = new InMemoryStore();
    stub.failMatching(isExtractionRequest, 500);
    expect(await turn(agent, store, "t", "ada", "My name is Ada.")).toBe("Nice to meet you, Ada!");
    stub.failMatching(undefined);
    // The next extraction request hangs: a model that never answers.
    stub.inject({ kind: "pause", afterChunks: 0, resume: Promise.resolve() }, { kind: "stall", afterChunks: 0 });
    expect(await turn(agent, store, "t", "ada", "Call me Ada, please.")).toBe("You said: Call me Ada, please.");
    expect(extractionRequests()).toHaveLength(2);
    const state = (await agent.getState({ configurable: { thread_id: "t" } })).values as AgentStateValue;
    expect(state.messages.map((message) => message.text)).toEqual(["My name is Ada.", "Nice to meet you, Ada!", "Call me Ada, please.", "You said: Call me Ada, please."]);
    expect(await memories(store, "ada")).toEqual([]);
    expect(logs.filter((line) => line.includes("long-term memory failed"))).toHaveLength(2);
  });

  it("sends no memory, offers no memory tools and stores nothing with long_term_memory false or LONG_TERM_MEMORY=off", async () => {
    for (const [env, extra] of [[{}, { long_term_memory: false }], [{ LONG_TERM_MEMORY: "off" }, {}]] as const) {
      const agent = agentWith(env);
      const store = new InMemoryStore();
      await store.put(memoryNamespace("ada"), "name", { text: "The user's name is Ada." });
      expect(await turn(agent, store, "t", "ada", "What is my name?", extra)).toBe("I don't know your name.");
      await turn(agent, store, "t", "ada", "My name is Grace. Remember that.", extra);
      for (const request of chatRequests()) {
        expect(systemOf(request)).not.toContain(MEMORY_HEADING);
        expect(toolNames(request)).not.toContain(SAVE_MEMORY_TOOL);
      }
      expect(extractionRequests()).toEqual([]);
      expect(await memories(store, "ada")).toEqual([{ key: "name", text: "The user's name is Ada." }]);
      stub.reset();
    }
  });

  it("makes at most one extraction call per turn, and far fewer over a conversation", async () => {
    const agent = agentWith();
    const store = new InMemoryStore();
    const conversation = [
      "Hello, my name is Ada.",
      "What is the capital of France?",
      "How do rainbows form?",
      "I work as a nurse in Lyon.",
      "Explain photosynthesis briefly.",
      "I like hiking on weekends.",
      "What is two plus two?",
      "I have two cats.",
      "My favourite colour is green.",
      "Tell me a joke.",
      "I prefer short answers.",
      "What time zones does France have?",
    ];
    for (const text of conversation) {
      const before = extractionRequests().length;
      await turn(agent, store, "t", "ada", text);
      expect(extractionRequests().length - before).toBeLessThanOrEqual(1);
    }
    // Explicit statements (name, preference) at once; the other personal remarks in one batch.
    expect(extractionRequests().length).toBeLessThanOrEqual(conversation.length * 0.3);
    expect(await memories(store, "ada")).toEqual(
      expect.arrayContaining([
        { key: "name", text: "The user's name is Ada." },
        { key: "preference", text: "The user prefers short answers." },
      ]),
    );
  });

  it("saves and forgets with the memory tools, with no extraction for those turns", async () => {
    const agent = agentWith();
    const store = new InMemoryStore();
    stub.respondWith((request) => {
      if (isExtractionRequest(request)) return memoryResponder(request);
      const last = request.messages.at(-1)!;
      if (last.role === "tool") return "Done.";
      const text = wireText(last);
      if (/remember that i am vegetarian/i.test(text)) return { tool_calls: [{ name: SAVE_MEMORY_TOOL, arguments: { key: "diet", text: "The user is vegetarian." } }] };
      if (/forget my diet/i.test(text)) return { tool_calls: [{ name: FORGET_MEMORY_TOOL, arguments: { key: "diet" } }] };
      return memoryResponder(request);
    });
    expect(await turn(agent, store, "t", "ada", "Please remember that I am vegetarian.")).toBe("Done.");
    expect(await memories(store, "ada")).toEqual([{ key: "diet", text: "The user is vegetarian." }]);
    await turn(agent, store, "t2", "ada", "Suggest a dinner.");
    expect(systemOf(chatRequests().at(-1)!)).toContain("- diet: The user is vegetarian.");
    expect(await turn(agent, store, "t2", "ada", "Now forget my diet.")).toBe("Done.");
    expect(await memories(store, "ada")).toEqual([]);
    expect(extractionRequests()).toEqual([]);
  });

  it("still remembers with a model that refuses tools", async () => {
    const agent = agentWith();
    const store = new InMemoryStore();
    stub.inject({ kind: "status", status: 400, message: "This model does not support tools" });
    expect(await turn(agent, store, "t", "ada", "My name is Ada.")).toBe("Nice to meet you, Ada!");
    expect(await turn(agent, store, "t2", "ada", "What is my name?")).toBe("Your name is Ada.");
    const [refused, ...rest] = chatRequests();
    expect(toolNames(refused!)).toContain(SAVE_MEMORY_TOOL);
    for (const request of rest) expect(toolNames(request)).not.toContain(SAVE_MEMORY_TOOL);
  });
});
