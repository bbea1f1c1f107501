/**
 * Messages in every form LangGraph coerces, sent through the official client: as Python's
 * `langchain_core` dumps them (nulls for unset fields), as `[role, content]` pairs, as plain
 * strings, as a JS message's serialised constructor. Each reaches the model as the right role
 * with its text, and the thread keeps it as a proper message (with an id of its own); garbage is
 * a 422 naming the field, and changes nothing.
 */
import type { Client } from "@langchain/langgraph-sdk";
import { beforeAll, describe, expect, it } from "vitest";
import { type OpenAiStub, wireText } from "../support/openai-stub.js";
import { type TestServer, testBackends } from "../support/server.js";
import { useStubAndServer } from "../support/use-server.js";

/** A message as Python's `HumanMessage("...").model_dump()` gives it. */
const pythonHuman = (content: string) => ({
  content,
  additional_kwargs: {},
  response_metadata: {},
  type: "human",
  name: null,
  id: null,
  example: false,
});

/** As Python's `AIMessage("...").model_dump()` gives it. */
const pythonAi = (content: string) => ({
  content,
  additional_kwargs: {},
  response_metadata: {},
  type: "ai",
  name: null,
  id: null,
  example: false,
  tool_calls: [],
  invalid_tool_calls: [],
  usage_metadata: null,
});

describe.each(await testBackends())("on %s", (backend) => {
  const fixture = useStubAndServer(backend);
  let stub: OpenAiStub;
  let server: TestServer;
  let client: Client;

  beforeAll(() => {
    ({ stub, server } = fixture);
    client = server.client;
  });

  type StoredMessage = { type: string; content: unknown; id?: string | null; name?: string | null };
  const messagesOf = async (threadId: string) => ((await client.threads.getState(threadId)).values as { messages: StoredMessage[] }).messages;
  /** What the model was sent last: [role, text] per message, the system prompt left out. */
  const sentToModel = () =>
    (stub.requests.at(-1)?.body.messages ?? []).filter((message) => message.role !== "system").map((message) => [message.role, wireText(message)]);

  it("takes run input as Python's langchain_core dumps messages, nulls included", async () => {
    const thread = await client.threads.create();
    const input = { messages: [pythonHuman("My name is Grace"), pythonAi("Nice to meet you, Grace!"), pythonHuman("What is my name?")] };
    const values = (await client.runs.wait(thread.thread_id, "agent", { input: input as never })) as { messages: StoredMessage[] };
    expect(sentToModel()).toEqual([
      ["user", "My name is Grace"],
      ["assistant", "Nice to meet you, Grace!"],
      ["user", "What is my name?"],
    ]);
    expect(values.messages.at(-1)?.content).toBe("Your name is Grace.");
    const stored = await messagesOf(thread.thread_id);
    expect(stored.map((message) => [message.type, message.content])).toEqual([
      ["human", "My name is Grace"],
      ["ai", "Nice to meet you, Grace!"],
      ["human", "What is my name?"],
      ["ai", "Your name is Grace."],
    ]);
    // A null id is not kept as null: each message got one of its own.
    expect(stored.every((message) => typeof message.id === "string" && message.id.length > 0)).toBe(true);
    expect(new Set(stored.map((message) => message.id)).size).toBe(stored.length);
  });

  it("takes [role, content] pairs and plain strings, as LangGraph coerces them", async () => {
    const thread = await client.threads.create();
    const input = { messages: [["user", "My name is Alan"], ["assistant", "Hello Alan"], "What is my name?"] };
    await client.runs.wait(thread.thread_id, "agent", { input: input as never });
    expect(sentToModel()).toEqual([
      ["user", "My name is Alan"],
      ["assistant", "Hello Alan"],
      ["user", "What is my name?"],
    ]);
    expect((await messagesOf(thread.thread_id)).map((message) => [message.type, message.content])).toEqual([
      ["human", "My name is Alan"],
      ["ai", "Hello Alan"],
      ["human", "What is my name?"],
      ["ai", "Your name is Alan."],
    ]);
  });

  it("takes a lone string as the messages, and a JS message's serialised constructor", async () => {
    const thread = await client.threads.create();
    await client.runs.wait(thread.thread_id, "agent", { input: { messages: "My name is Ada" } as never });
    expect(sentToModel()).toEqual([["user", "My name is Ada"]]);
    const constructed = { lc: 1, type: "constructor", id: ["langchain_core", "messages", "HumanMessage"], kwargs: { content: "What is my name?", additional_kwargs: {} } };
    const values = (await client.runs.wait(thread.thread_id, "agent", { input: { messages: [constructed] } as never })) as { messages: StoredMessage[] };
    expect(sentToModel().at(-1)).toEqual(["user", "What is my name?"]);
    expect(values.messages.at(-1)?.content).toBe("Your name is Ada.");
  });

  it("takes an OpenAI-style tool exchange: an assistant message with tool_calls and no content, then the tool's answer", async () => {
    const thread = await client.threads.create();
    const input = {
      messages: [
        { role: "user", content: "What is 6 times 7?", name: null },
        { role: "assistant", content: null, tool_calls: [{ id: "call-1", type: "function", function: { name: "multiply", arguments: '{"a": 6, "b": 7}' } }] },
        { role: "tool", content: "42", tool_call_id: "call-1", name: null },
        "Thanks",
      ],
    };
    await client.runs.wait(thread.thread_id, "agent", { input: input as never });
    const sent = (stub.requests.at(-1)?.body.messages ?? []).filter((message) => message.role !== "system");
    expect(sent.map((message) => message.role)).toEqual(["user", "assistant", "tool", "user"]);
    expect(sent[1]?.tool_calls).toEqual([{ id: "call-1", type: "function", function: { name: "multiply", arguments: JSON.stringify({ a: 6, b: 7 }) } }]);
    expect(sent[2]).toMatchObject({ tool_call_id: "call-1", content: "42" });
    const stored = await messagesOf(thread.thread_id);
    expect(stored[1]).toMatchObject({ type: "ai", tool_calls: [{ name: "multiply", args: { a: 6, b: 7 }, id: "call-1" }] });
  });

  it("takes the same forms in state updates, and the next run sends them to the model", async () => {
    const thread = await client.threads.create();
    await client.threads.updateState(thread.thread_id, { values: { messages: [pythonHuman("My name is Barbara"), ["assistant", "Noted, Barbara."]] } });
    await client.threads.updateState(thread.thread_id, { values: { messages: "An aside in plain text" } });
    const stored = await messagesOf(thread.thread_id);
    expect(stored.map((message) => [message.type, message.content])).toEqual([
      ["human", "My name is Barbara"],
      ["ai", "Noted, Barbara."],
      ["human", "An aside in plain text"],
    ]);
    expect(stored.every((message) => typeof message.id === "string")).toBe(true);
    await client.runs.wait(thread.thread_id, "agent", { input: { messages: ["What is my name?"] } as never });
    expect(sentToModel()).toEqual([
      ["user", "My name is Barbara"],
      ["assistant", "Noted, Barbara."],
      ["user", "An aside in plain text"],
      ["user", "What is my name?"],
    ]);
  });

  it("takes the same forms in command.update", async () => {
    const thread = await client.threads.create();
    // With ids: a run's command.update is applied twice (a message without an id ends up in the
    // thread twice, a problem of its own, reported apart); with ids the second write replaces the
    // first, so this checks only the forms.
    const update = { messages: [{ ...pythonHuman("My name is Edsger"), id: "m-1" }, { role: "user", content: "Remember it", id: "m-2", name: null }] };
    await client.runs.wait(thread.thread_id, "agent", { command: { update } });
    const stored = await messagesOf(thread.thread_id);
    expect(stored.map((message) => [message.type, message.content, message.id])).toEqual([
      ["human", "My name is Edsger", "m-1"],
      ["human", "Remember it", "m-2"],
    ]);
  });

  it("refuses garbage with a 422 naming the field, and the thread stays as it was", async () => {
    const thread = await client.threads.create();
    await client.threads.updateState(thread.thread_id, { values: { messages: [pythonHuman("kept")] } });
    const before = await messagesOf(thread.thread_id);
    const calls = stub.requests.length;
    const refused: Array<[string, string, unknown, string]> = [
      ["run", "a number for a message", { input: { messages: [5] } }, "input.messages.0"],
      ["run", "an unknown role in a pair", { input: { messages: [["wizard", "hi"]] } }, "input.messages.0.0"],
      ["run", "content null", { input: { messages: [{ ...pythonHuman("x"), content: null }] } }, "input.messages.0.content"],
      ["run", "an AI message with neither content nor tool calls", { input: { messages: [{ role: "assistant", content: null, tool_calls: [] }] } }, "input.messages.0.content"],
      ["run", "tool call arguments that are not JSON", { input: { messages: [{ role: "assistant", content: null, tool_calls: [{ id: "c", type: "function", function: { name: "f", arguments: "{oops" } }] }] } }, "arguments"],
      ["run", "an id that is a number", { input: { messages: [{ ...pythonHuman("x"), id: 7 }] } }, "input.messages.0.id"],
      ["run", "an unknown message class", { input: { messages: [{ lc: 1, type: "constructor", id: ["x", "Wizard"], kwargs: { content: "x" } }] } }, "input.messages.0.id"],
      ["run", "a tool message without tool_call_id", { input: { messages: [{ type: "tool", content: "42", tool_call_id: null }] } }, "tool_call_id"],
      ["run", "garbage in command.update", { command: { update: { messages: [{ role: "user", content: 5 }] } } }, "command.update.messages.0.content"],
      ["run", "garbage in command.update as [channel, value] pairs", { command: { update: [["messages", [["wizard", "hi"]]]] } }, "command.update"],
      ["state", "garbage in a state update", { values: { messages: [{ type: "human", content: {} }] } }, "values.messages.0.content"],
    ];
    for (const [where, what, body, field] of refused) {
      const path = where === "run" ? `/threads/${thread.thread_id}/runs/wait` : `/threads/${thread.thread_id}/state`;
      const reply = await server.request(path, { body: where === "run" ? { assistant_id: "agent", ...(body as object) } : body });
      expect({ what, status: reply.status }).toEqual({ what, status: 422 });
      expect((reply.body as { detail: string }).detail).toContain(field);
    }
    expect(await messagesOf(thread.thread_id)).toEqual(before);
    expect(stub.requests.length).toBe(calls);
  });
});
