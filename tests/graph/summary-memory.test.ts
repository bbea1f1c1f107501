/**
 * Summary memory (MEMORY_MODE=summary) with the stub model over HTTP: the stub summarises
 * deterministically (it keeps the user's name, the one fact these tests need), so whether a fact
 * told long ago survives depends only on what the service sends it.
 */
import { HumanMessage } from "@langchain/core/messages";
import { pino } from "pino";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createAgentFromConfig, type ConfiguredAgent } from "../../src/composition/agent-from-config.js";
import type { AgentStateValue } from "../../src/graph/state.js";
import { SUMMARY_HEADING, SUMMARY_INSTRUCTIONS } from "../../src/graph/summary.js";
import { countRequestTokens } from "../support/count-tokens.js";
import { makeConfig, makeTempDir, removeDir, threadConfig } from "../support/fixtures.js";
import { type ChatRequest, type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";
import { startServer } from "../support/server.js";

const CONTEXT_TOKENS = 400;
const MAX_OUTPUT_TOKENS = 50;
const SUMMARY_TOKENS = 60;
const BUDGET = { CONTEXT_TOKENS: String(CONTEXT_TOKENS), MAX_OUTPUT_TOKENS: String(MAX_OUTPUT_TOKENS), SUMMARY_TOKENS: String(SUMMARY_TOKENS) };

const isSummaryRequest = (request: ChatRequest) => wireText(request.messages[0]!).startsWith(SUMMARY_INSTRUCTIONS);
const NAME = /(?:my name is|the user's name is) (\w+)/gi;
const lastName = (text: string) => [...text.matchAll(NAME)].at(-1)?.[1];

/** Summaries keep the newest name seen; answers use whatever name the prompt holds. */
function respond(request: ChatRequest): string {
  const everything = request.messages.map(wireText).join("\n");
  const name = lastName(everything);
  if (isSummaryRequest(request)) return name ? `The user's name is ${name}.` : "Nothing about the user yet.";
  const question = wireText(request.messages.at(-1)!);
  if (/what is my name/i.test(question)) return name ? `Your name is ${name}.` : "I don't know your name.";
  if (/my name is/i.test(question)) return `Nice to meet you, ${lastName(question)}!`;
  return `Noted, ${question.slice(0, 40)}`;
}

describe("summary memory", () => {
  let stub: OpenAiStub;
  const dirs: string[] = [];
  const agents: ConfiguredAgent[] = [];
  beforeAll(async () => {
    stub = await startOpenAiStub();
  });
  afterEach(async () => {
    for (const { checkpointer } of agents.splice(0)) await checkpointer.close();
    for (const dir of dirs.splice(0)) removeDir(dir);
    stub.reset();
  });
  afterAll(() => stub.close());

  function agentWith(env: Record<string, string>, logs: string[] = []) {
    const dir = makeTempDir();
    dirs.push(dir);
    const logger = pino({ level: "warn" }, { write: (line: string) => void logs.push(line) });
    const configured = createAgentFromConfig(makeConfig(stub, dir, env), { logger });
    agents.push(configured);
    return configured.agent;
  }

  const turn = async (agent: ConfiguredAgent["agent"], threadId: string, text: string) => {
    const result = await agent.invoke({ messages: [new HumanMessage(text)] }, threadConfig(threadId));
    return { reply: result.messages.at(-1)!.text, state: result as AgentStateValue };
  };
  const filler = (index: number) => `Tell me something about topic number ${index}, please, with a few words of detail.`;

  it("still knows a name told in turn 1 at turn 200 with a small budget; window mode does not", async () => {
    stub.respondWith(respond);
    const answers: Record<string, string> = {};
    for (const mode of ["summary", "window"]) {
      const agent = agentWith({ ...BUDGET, MEMORY_MODE: mode });
      await turn(agent, "t", "Hello, my name is Ada.");
      for (let index = 2; index < 200; index += 1) await turn(agent, "t", filler(index));
      const { reply, state } = await turn(agent, "t", "What is my name?");
      answers[mode] = reply;
      // The first message is long out of the window in both modes.
      expect(state.windowStart).toBeGreaterThan(300);
      if (mode === "summary") {
        expect(state.summary?.upTo).toBe(state.windowStart);
        const system = wireText(stub.requests.at(-1)!.body.messages[0]!);
        expect(system).toContain(SUMMARY_HEADING);
        expect(system).toContain("The user's name is Ada.");
      }
    }
    expect(answers).toEqual({ summary: "Your name is Ada.", window: "I don't know your name." });

    // Everything sent stays within the budget: chat calls leave MAX_OUTPUT_TOKENS, summary calls SUMMARY_TOKENS.
    const chat = stub.requests.filter((request) => !isSummaryRequest(request.body));
    const summaries = stub.requests.filter((request) => isSummaryRequest(request.body));
    expect(summaries.length).toBeGreaterThan(0);
    for (const request of chat) expect(countRequestTokens(request.body.messages)).toBeLessThanOrEqual(CONTEXT_TOKENS - MAX_OUTPUT_TOKENS);
    for (const request of summaries) {
      expect(countRequestTokens(request.body.messages)).toBeLessThanOrEqual(CONTEXT_TOKENS - SUMMARY_TOKENS);
      expect(request.body.max_tokens ?? request.body.max_completion_tokens).toBe(SUMMARY_TOKENS);
      // Summary calls are never streamed to clients as if they were the reply.
    }
  });

  it("updates the summary only when the window moves, a few turns at a time", async () => {
    stub.respondWith(respond);
    const agent = agentWith({ ...BUDGET, MEMORY_MODE: "summary" });
    let previous: AgentStateValue | undefined;
    let moves = 0;
    const turns = 80;
    for (let index = 0; index < turns; index += 1) {
      const before = stub.requests.length;
      const { state } = await turn(agent, "t", index === 0 ? "My name is Ada." : filler(index));
      const summaryCalls = stub.requests.slice(before).filter((request) => isSummaryRequest(request.body)).length;
      const moved = state.windowStart !== (previous?.windowStart ?? 0);
      if (moved) moves += 1;
      // A call exactly when the window moved, and then the summary covers everything before it.
      expect(summaryCalls, `turn ${index}`).toBe(moved ? 1 : 0);
      if (state.summary) expect(state.summary.upTo).toBe(state.windowStart);
      previous = state;
    }
    expect(moves).toBeGreaterThan(3);
    // The window moves back to three quarters of its room, so most turns make no summary call.
    expect(moves).toBeLessThan(turns / 3);
  });

  it("goes on with the old summary when a summary call fails, and catches up on the next turn", async () => {
    stub.respondWith(respond);
    const logs: string[] = [];
    const agent = agentWith({ ...BUDGET, MEMORY_MODE: "summary" }, logs);
    await turn(agent, "t", "My name is Ada.");
    let state: AgentStateValue | undefined;
    let index = 1;
    // Until the window has moved once and a summary exists.
    for (; !state?.summary; index += 1) state = (await turn(agent, "t", filler(index))).state;
    const good = state.summary!;

    stub.failMatching(isSummaryRequest, 500);
    let failedTurn: { reply: string; state: AgentStateValue } | undefined;
    for (; !failedTurn; index += 1) {
      const result = await turn(agent, "t", filler(index));
      if (result.state.windowStart !== state.windowStart) failedTurn = result;
      state = result.state;
    }
    // The turn answered; the summary is the old one, lagging behind the window, and still sent.
    expect(failedTurn.reply).toMatch(/^Noted/);
    expect(failedTurn.state.summary).toEqual(good);
    expect(failedTurn.state.windowStart).toBeGreaterThan(good.upTo);
    expect(wireText(stub.requests.at(-1)!.body.messages[0]!)).toContain("The user's name is Ada.");
    expect(logs.some((line) => line.includes("summary call failed"))).toBe(true);

    stub.failMatching(undefined);
    const before = stub.requests.length;
    const next = await turn(agent, "t", "What is my name?");
    expect(stub.requests.slice(before).filter((request) => isSummaryRequest(request.body))).toHaveLength(1);
    expect(next.state.summary?.upTo).toBe(next.state.windowStart);
    expect(next.reply).toBe("Your name is Ada.");
  });

  it("keeps summary tokens out of the client's token stream", async () => {
    stub.respondWith(respond);
    const server = await startServer(stub, { env: { ...BUDGET, MEMORY_MODE: "summary" } });
    try {
      const thread = await server.client.threads.create();
      const input = (text: string) => ({ input: { messages: [{ role: "user", content: text }] } });
      await server.client.runs.wait(thread.thread_id, "agent", input("My name is Ada."));
      let summarised = false;
      for (let index = 1; !summarised; index += 1) {
        const before = stub.requests.length;
        const tokens: string[] = [];
        for await (const chunk of server.client.runs.stream(thread.thread_id, "agent", { ...input(filler(index)), streamMode: "messages-tuple" })) {
          if (chunk.event === "messages") tokens.push(String((chunk.data as unknown as [{ content: string }])[0].content));
        }
        summarised = stub.requests.slice(before).some((request) => isSummaryRequest(request.body));
        expect(tokens.join(""), JSON.stringify(tokens)).toBe(`Noted, ${filler(index).slice(0, 40)}`.trimEnd());
      }
    } finally {
      await server.close();
    }
  });

  it("makes no summary call while the whole conversation fits", async () => {
    stub.respondWith(respond);
    const agent = agentWith({ MEMORY_MODE: "summary" });
    for (let index = 0; index < 5; index += 1) await turn(agent, "t", filler(index));
    expect(stub.requests.filter((request) => isSummaryRequest(request.body))).toHaveLength(0);
    const state = (await agent.getState(threadConfig("t"))).values as AgentStateValue;
    expect(state.summary).toBeNull();
    expect(state.windowStart).toBe(0);
  });

  it("refuses a SUMMARY_TOKENS that leaves no room for recent messages", () => {
    expect(() => makeConfig(stub, "/tmp/unused", { ...BUDGET, MEMORY_MODE: "summary", SUMMARY_TOKENS: "200" })).toThrow(/SUMMARY_TOKENS: must be at most half/);
  });
});
