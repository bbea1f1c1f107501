import { AIMessage, type BaseMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ContextOverflowError, ModelNotConfiguredError, ModelProviderError, ValidationError } from "../../src/errors.js";
import type { Agent } from "../../src/graph/agent.js";
import type { ConfiguredAgent } from "../../src/composition/agent-from-config.js";
import { countRequestTokens } from "../support/count-tokens.js";
import { makeAgent, makeTempDir, removeDir, threadConfig } from "../support/fixtures.js";
import { type OpenAiStub, startOpenAiStub, wireText } from "../support/openai-stub.js";

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

/** An agent on this test's data dir, closed after the test. */
function open(overrides: Record<string, string> = {}): Agent {
  const configured = makeAgent(stub, dataDir, overrides);
  opened.push(configured);
  return configured.agent;
}

const say = (agent: Agent, threadId: string, text: string, extra: Record<string, unknown> = {}) =>
  agent.invoke({ messages: [new HumanMessage(text)] }, threadConfig(threadId, extra));

const lastText = (messages: BaseMessage[]) => String(messages.at(-1)?.content);

/** What a thread looks like from outside: its messages, window and how many checkpoints it has. */
async function snapshot(agent: Agent, threadId: string) {
  const state = await agent.getState(threadConfig(threadId));
  let checkpoints = 0;
  for await (const _ of agent.getStateHistory(threadConfig(threadId))) checkpoints += 1;
  return {
    messages: (state.values.messages ?? []).map((message: BaseMessage) => [message.getType(), message.content, message.id]),
    windowStart: state.values.windowStart,
    next: state.next,
    checkpoints,
  };
}

describe("conversation memory", () => {
  it("remembers within a thread and not across threads", async () => {
    const agent = open();
    expect(lastText((await say(agent, "alice", "Hi, my name is Ada")).messages)).toBe("Nice to meet you, Ada!");
    expect(lastText((await say(agent, "alice", "What is my name?")).messages)).toBe("Your name is Ada.");
    expect(lastText((await say(agent, "bob", "What is my name?")).messages)).toBe("I don't know your name.");

    // The second turn on "alice" carried the first turn to the model; "bob" carried nothing of it.
    const [, second, third] = stub.requests;
    expect(second?.body.messages.map((message) => message.role)).toEqual(["system", "user", "assistant", "user"]);
    expect(third?.body.messages.map(wireText)).toEqual(["You are a helpful assistant.", "What is my name?"]);
  });

  it("continues a thread after the database is closed and opened again", async () => {
    const first = makeAgent(stub, dataDir);
    await say(first.agent, "t-restart", "My name is Grace");
    await first.checkpointer.close();

    const agent = open();
    const result = await say(agent, "t-restart", "What is my name?");
    expect(lastText(result.messages)).toBe("Your name is Grace.");
    expect(result.messages).toHaveLength(4);
  });

  it("keeps replies whose provider id repeats instead of overwriting the earlier one", async () => {
    const agent = open();
    stub.useReplyId("chatcmpl-always-the-same");
    await say(agent, "t-ids", "first");
    const result = await say(agent, "t-ids", "second");
    expect(result.messages.map((message: BaseMessage) => message.content)).toEqual([
      "first",
      "You said: first",
      "second",
      "You said: second",
    ]);
  });
});

describe("trimming to the context budget", () => {
  const BUDGET = { CONTEXT_TOKENS: "400", MAX_OUTPUT_TOKENS: "100" };

  it("never sends more than CONTEXT_TOKENS, keeps the system prompt, and keeps the full history", async () => {
    const agent = open(BUDGET);
    const turns = 25;
    for (let turn = 1; turn <= turns; turn += 1) {
      await say(agent, "long", `Turn ${turn}: tell me something about the number ${turn} and its neighbours.`);
    }
    expect(stub.requests).toHaveLength(turns);
    for (const [turn, { body }] of stub.requests.entries()) {
      expect(countRequestTokens(body.messages) + 100).toBeLessThanOrEqual(400);
      expect(body.messages[0]).toEqual({ role: "system", content: "You are a helpful assistant." });
      expect(body.messages[1]?.role).toBe("user");
      expect(wireText(body.messages.at(-1)!)).toContain(`Turn ${turn + 1}:`);
      expect(body.max_tokens ?? body.max_completion_tokens).toBe(100);
    }
    // The window really moved: late requests carry only part of the 49 earlier messages.
    expect(stub.requests.at(-1)!.body.messages.length).toBeLessThan(20);

    const state = await agent.getState(threadConfig("long"));
    expect(state.values.messages).toHaveLength(turns * 2);
    expect(state.values.windowStart).toBeGreaterThan(0);
    expect(state.values.messages[0].content).toContain("Turn 1:");
  });

  it("never opens the window on a tool result nor splits tool calls from their results", async () => {
    const agent = open(BUDGET);
    const config = threadConfig("tools");
    // Seed a history full of tool calls, as a tool-using front end would leave it.
    const seeded: BaseMessage[] = [];
    for (let round = 1; round <= 6; round += 1) {
      seeded.push(
        new HumanMessage(`Round ${round}: what is the weather in Paris and in Rome?`),
        new AIMessage({
          content: "",
          tool_calls: [
            { id: `call_${round}_paris`, name: "weather", args: { city: "Paris" } },
            { id: `call_${round}_rome`, name: "weather", args: { city: "Rome" } },
          ],
        }),
        new ToolMessage({ tool_call_id: `call_${round}_paris`, content: `Round ${round}: sunny, 21 degrees in Paris` }),
        new ToolMessage({ tool_call_id: `call_${round}_rome`, content: `Round ${round}: cloudy, 18 degrees in Rome` }),
        new AIMessage(`Round ${round}: Paris is sunny and Rome is cloudy.`),
      );
    }
    await agent.updateState(config, { messages: seeded });

    for (let turn = 1; turn <= 8; turn += 1) await say(agent, "tools", `Follow-up ${turn}: and tomorrow in both cities?`);

    for (const { body } of stub.requests) {
      const messages = body.messages;
      expect(countRequestTokens(messages) + 100).toBeLessThanOrEqual(400);
      expect(messages[0]?.role).toBe("system");
      expect(messages[1]?.role).toBe("user");
      for (const [index, message] of messages.entries()) {
        if (message.role === "tool") {
          // A tool result always sits after the assistant message that asked for it.
          const asked = messages.slice(0, index).findLast((earlier) => earlier.role === "assistant" && earlier.tool_calls);
          expect(asked?.tool_calls?.map((call) => call.id)).toContain(message.tool_call_id);
        }
        for (const call of message.tool_calls ?? []) {
          expect(messages.some((other) => other.role === "tool" && other.tool_call_id === call.id)).toBe(true);
        }
      }
    }
    // Some requests had to cut into the seeded tool rounds, or the test proves nothing.
    expect(stub.requests.some(({ body }) => body.messages.some((message) => message.role === "tool"))).toBe(true);
    expect(stub.requests.at(-1)!.body.messages.some((message) => wireText(message).includes("Round 1:"))).toBe(false);

    const state = await agent.getState(config);
    expect(state.values.messages).toHaveLength(30 + 16);
  });

  it("fails clearly when the newest message alone cannot fit, leaving the thread as it was", async () => {
    const agent = open(BUDGET);
    await say(agent, "big", "My name is Alan");
    const before = await snapshot(agent, "big");
    stub.reset();

    const huge = "All work and no play makes a very long message. ".repeat(60);
    const failure = say(agent, "big", huge);
    await expect(failure).rejects.toBeInstanceOf(ContextOverflowError);
    await expect(failure).rejects.toThrow(/CONTEXT_TOKENS/);
    expect(stub.requests).toHaveLength(0);
    expect(await snapshot(agent, "big")).toEqual(before);

    expect(lastText((await say(agent, "big", "What is my name?")).messages)).toBe("Your name is Alan.");
  });
});

describe("system prompt", () => {
  it("fills template variables from configurable", async () => {
    const agent = open({ SYSTEM_PROMPT: "You are an expert in {topic}. Use {{braces}} literally." });
    await say(agent, "t-topic", "Hello", { topic: "astronomy" });
    expect(stub.requests[0]?.body.messages[0]).toEqual({
      role: "system",
      content: "You are an expert in astronomy. Use {braces} literally.",
    });
  });

  it("takes a per-thread system_prompt over the default, with its own variables", async () => {
    const agent = open();
    await say(agent, "pirate", "Hello", { system_prompt: "You talk like a pirate from {port}.", port: "Tortuga" });
    await say(agent, "plain", "Hello");
    expect(wireText(stub.requests[0]!.body.messages[0]!)).toBe("You talk like a pirate from Tortuga.");
    expect(wireText(stub.requests[1]!.body.messages[0]!)).toBe("You are a helpful assistant.");
  });

  it("rejects a missing variable before calling the model, leaving the thread as it was", async () => {
    const agent = open({ SYSTEM_PROMPT: "You are an expert in {topic}." });
    await say(agent, "t-missing", "Hello", { topic: "birds" });
    const before = await snapshot(agent, "t-missing");
    stub.reset();

    const failure = say(agent, "t-missing", "Hello again");
    await expect(failure).rejects.toBeInstanceOf(ValidationError);
    await expect(failure).rejects.toThrow("configurable.topic");
    expect(stub.requests).toHaveLength(0);
    expect(await snapshot(agent, "t-missing")).toEqual(before);
  });
});

describe("model provider failures", () => {
  it.each([500, 400, 429])("raises on HTTP %i and leaves the thread unchanged", async (status) => {
    const agent = open();
    await say(agent, "t-fail", "My name is Linus");
    const before = await snapshot(agent, "t-fail");

    stub.inject({ kind: "status", status, message: "the provider is unhappy" });
    const failure = say(agent, "t-fail", "This message must not stick");
    await expect(failure).rejects.toBeInstanceOf(ModelProviderError);
    await expect(failure).rejects.toMatchObject({ providerStatus: status });
    await expect(failure).rejects.toThrow(/HTTP \d{3}.*the provider is unhappy/);
    expect(await snapshot(agent, "t-fail")).toEqual(before);

    // The next run works and the failed message never reaches the model again.
    const result = await say(agent, "t-fail", "What is my name?");
    expect(lastText(result.messages)).toBe("Your name is Linus.");
    expect(stub.requests.at(-1)!.body.messages.map(wireText)).not.toContain("This message must not stick");
    expect(result.messages).toHaveLength(4);
  });

  it("leaves no partial reply when the provider cuts a stream", async () => {
    const agent = open();
    await say(agent, "t-cut", "My name is Barbara");
    const before = await snapshot(agent, "t-cut");

    stub.respondWith(() => "This reply will be cut off somewhere in the middle of it");
    stub.inject({ kind: "cut", afterChunks: 4 });
    const streamed: string[] = [];
    const run = async () => {
      const stream = await agent.stream({ messages: [new HumanMessage("Tell me a story")] }, {
        ...threadConfig("t-cut"),
        streamMode: "messages",
      });
      for await (const [chunk] of stream) streamed.push(String(chunk.content));
    };
    await expect(run()).rejects.toThrow();
    expect(streamed.join("")).not.toBe("");
    expect(await snapshot(agent, "t-cut")).toEqual(before);
  });

  it("fails with a message naming the variables to set when no model is configured", async () => {
    const configured = makeAgent(undefined, dataDir);
    opened.push(configured);
    const failure = say(configured.agent, "t-none", "Hello");
    await expect(failure).rejects.toBeInstanceOf(ModelNotConfiguredError);
    await expect(failure).rejects.toThrow(/OPENAI_API_KEY.*OPENAI_BASE_URL/);
    expect((await configured.agent.getState(threadConfig("t-none"))).values.messages).toBeUndefined();
  });
});

describe("streaming", () => {
  it("yields the reply token by token and stores it whole", async () => {
    const agent = open();
    stub.respondWith(() => "Streaming works one word at a time");
    const stream = await agent.stream({ messages: [new HumanMessage("Stream please")] }, {
      ...threadConfig("t-stream"),
      streamMode: "messages",
    });
    const pieces: string[] = [];
    for await (const [chunk, metadata] of stream) {
      expect(metadata.langgraph_node).toBe("model");
      pieces.push(String(chunk.content));
    }
    expect(pieces.filter((piece) => piece !== "").length).toBeGreaterThan(1);
    expect(pieces.join("")).toBe("Streaming works one word at a time");
    expect(stub.requests[0]?.body.stream).toBe(true);

    const state = await agent.getState(threadConfig("t-stream"));
    expect(lastText(state.values.messages)).toBe("Streaming works one word at a time");
  });
});
