/**
 * Writing a thread's state, through the official client: a run's `command.update` and
 * `POST /threads/{id}/state`. Messages without ids are kept once (however often the state is read
 * or continued), and what a client reads from the state it can write back unchanged.
 */
import type { Client } from "@langchain/langgraph-sdk";
import { describe, expect, it } from "vitest";
import { wireText } from "../support/openai-stub.js";
import { testBackends } from "../support/server.js";
import { useStubAndServer } from "../support/use-server.js";

type StoredMessage = { type: string; content: unknown; id?: string };
type Values = { messages: StoredMessage[]; windowStart: number; summary: { text: string; upTo: number } | null };

describe.each(await testBackends())("on %s", (backend) => {
  const fixture = useStubAndServer(backend);
  const client = (): Client => fixture.server.client;
  const valuesOf = async (threadId: string) => (await client().threads.getState(threadId)).values as Values;
  const messagesOf = async (threadId: string) => (await valuesOf(threadId)).messages.map((message) => [message.type, message.content]);
  /** What the model was sent last: [role, text] per message, the system prompt left out. */
  const sentToModel = () =>
    (fixture.stub.requests.at(-1)?.body.messages ?? []).filter((message) => message.role !== "system").map((message) => [message.role, wireText(message)]);

  describe("messages without ids", () => {
    const forms = {
      "a role dict": { role: "user", content: "My name is Ada" },
      "a [role, content] pair": ["user", "My name is Ada"],
    };

    it.each(Object.entries(forms))("a run's command.update keeps %s once, on every read and in the next turn", async (_form, message) => {
      const thread = await client().threads.create();
      const values = (await client().runs.wait(thread.thread_id, "agent", { command: { update: { messages: [message] } } as never })) as Values;
      expect(values.messages.map((stored) => [stored.type, stored.content])).toEqual([["human", "My name is Ada"]]);
      const first = await valuesOf(thread.thread_id);
      expect(first.messages.map((stored) => [stored.type, stored.content])).toEqual([["human", "My name is Ada"]]);
      // Each read is the same message, not one with a new id each time.
      expect((await valuesOf(thread.thread_id)).messages).toEqual(first.messages);
      expect(first.messages[0]?.id).toBe(values.messages[0]?.id);

      await client().runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "user", content: "What is my name?" }] } });
      expect(sentToModel()).toEqual([
        ["user", "My name is Ada"],
        ["user", "What is my name?"],
      ]);
      expect(await messagesOf(thread.thread_id)).toEqual([
        ["human", "My name is Ada"],
        ["human", "What is my name?"],
        ["ai", "Your name is Ada."],
      ]);
    });

    it("a command.update given as [channel, value] pairs keeps its messages once", async () => {
      const thread = await client().threads.create();
      await client().runs.wait(thread.thread_id, "agent", { command: { update: [["messages", [["user", "My name is Ada"]]]] } } as never);
      await client().runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "user", content: "What is my name?" }] } });
      expect(sentToModel()).toEqual([
        ["user", "My name is Ada"],
        ["user", "What is my name?"],
      ]);
    });

    it("a command.update with a goto reaches the model once, and the next turn too", async () => {
      const thread = await client().threads.create();
      await client().runs.wait(thread.thread_id, "agent", { command: { update: { messages: [["user", "My name is Ada"]] }, goto: "trim" } } as never);
      expect(sentToModel()).toEqual([["user", "My name is Ada"]]);
      await client().runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "user", content: "What is my name?" }] } });
      expect(await messagesOf(thread.thread_id)).toEqual([
        ["human", "My name is Ada"],
        ["ai", "Nice to meet you, Ada!"],
        ["human", "What is my name?"],
        ["ai", "Your name is Ada."],
      ]);
    });

    it("POST /threads/{id}/state keeps each form once", async () => {
      const thread = await client().threads.create();
      await client().threads.updateState(thread.thread_id, { values: { messages: [{ role: "user", content: "My name is Ada" }, ["ai", "Hello Ada"], "What is my name?"] } });
      const first = await valuesOf(thread.thread_id);
      expect(first.messages.map((stored) => [stored.type, stored.content])).toEqual([
        ["human", "My name is Ada"],
        ["ai", "Hello Ada"],
        ["human", "What is my name?"],
      ]);
      expect((await valuesOf(thread.thread_id)).messages).toEqual(first.messages);
      await client().runs.wait(thread.thread_id, "agent", { input: { messages: [{ role: "user", content: "Say it" }] } });
      expect(sentToModel()).toEqual([
        ["user", "My name is Ada"],
        ["assistant", "Hello Ada"],
        ["user", "What is my name?"],
        ["user", "Say it"],
      ]);
    });
  });
});
