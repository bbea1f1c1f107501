/**
 * Writing a thread's state, through the official client: a run's `command.update` and
 * `POST /threads/{id}/state`. Messages without ids are kept once (however often the state is read
 * or continued), and what a client reads from the state it can write back unchanged.
 */
import type { Client } from "@langchain/langgraph-sdk";
import { describe, expect, it } from "vitest";
import { SUMMARY_HEADING, SUMMARY_INSTRUCTIONS } from "../../src/graph/summary.js";
import { type ChatRequest, wireText } from "../support/openai-stub.js";
import { testBackends } from "../support/server.js";
import { useStubAndServer } from "../support/use-server.js";

type StoredMessage = { type: string; content: unknown; id?: string };
type Values = { messages: StoredMessage[]; windowStart: number; summary: { text: string; upTo: number } | null };

const isSummaryRequest = (request: ChatRequest) => wireText(request.messages[0]!).startsWith(SUMMARY_INSTRUCTIONS);
const user = (content: string) => ({ messages: [{ role: "user", content }] });
const filler = (index: number) => `Tell me something about topic number ${index}, please, with a few words of detail.`;
/** Runs in summary memory mode with a budget small enough that a dozen turns need a summary. */
const summaryMode = { memory_mode: "summary", context_tokens: 400, max_tokens: 50, summary_tokens: 60 };

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

  describe("a command.update applied once", () => {
    it("removes a message for good: the thread stays readable and the next turn goes without it", async () => {
      const thread = await client().threads.create();
      await client().runs.wait(thread.thread_id, "agent", { input: user("My name is Ada") });
      const [, reply] = (await valuesOf(thread.thread_id)).messages;
      await client().runs.wait(thread.thread_id, "agent", { command: { update: { messages: [{ type: "remove", id: reply!.id }] } } as never });
      expect(await messagesOf(thread.thread_id)).toEqual([["human", "My name is Ada"]]);
      expect(await messagesOf(thread.thread_id)).toEqual([["human", "My name is Ada"]]);
      await client().runs.wait(thread.thread_id, "agent", { input: user("What is my name?") });
      expect(sentToModel()).toEqual([
        ["user", "My name is Ada"],
        ["user", "What is my name?"],
      ]);
      expect((await client().threads.get(thread.thread_id)).status).toBe("idle");
    });

    it("a command.update that fails leaves the thread as it was", async () => {
      const thread = await client().threads.create();
      await client().runs.wait(thread.thread_id, "agent", { input: user("My name is Ada") });
      const before = await client().threads.getState(thread.thread_id);
      const run = await client().runs.create(thread.thread_id, "agent", { command: { update: { messages: [{ type: "remove", id: "no-such-message" }] } } as never });
      await client().runs.join(thread.thread_id, run.run_id);
      expect((await client().runs.get(thread.thread_id, run.run_id)).status).toBe("error");
      expect((await client().threads.getState(thread.thread_id)).values).toEqual(before.values);
      await client().runs.wait(thread.thread_id, "agent", { input: user("What is my name?") });
      expect(await messagesOf(thread.thread_id)).toEqual([
        ["human", "My name is Ada"],
        ["ai", "Nice to meet you, Ada!"],
        ["human", "What is my name?"],
        ["ai", "Your name is Ada."],
      ]);
    });
  });

  describe("writing back what was read", () => {
    /** Writes the state's values back as read, and checks the state is unchanged but for a new checkpoint. */
    const roundTrip = async (threadId: string) => {
      const before = await client().threads.getState(threadId);
      await client().threads.updateState(threadId, { values: before.values });
      const after = await client().threads.getState(threadId);
      expect(after.checkpoint.checkpoint_id).not.toBe(before.checkpoint.checkpoint_id);
      expect(after.values).toEqual(before.values);
      expect(after.next).toEqual(before.next);
      return after.values as Values;
    };

    it("leaves a conversation's state as it was", async () => {
      const thread = await client().threads.create();
      await client().runs.wait(thread.thread_id, "agent", { input: user("My name is Ada") });
      await client().runs.wait(thread.thread_id, "agent", { input: user("What is my name?") });
      const values = await roundTrip(thread.thread_id);
      expect(Object.keys(values).toSorted()).toEqual(["messages", "summary", "windowStart"]);
      expect(values.messages).toHaveLength(4);
      await client().runs.wait(thread.thread_id, "agent", { input: user("Thanks") });
      expect(sentToModel()).toEqual([
        ["user", "My name is Ada"],
        ["assistant", "Nice to meet you, Ada!"],
        ["user", "What is my name?"],
        ["assistant", "Your name is Ada."],
        ["user", "Thanks"],
      ]);
    });

    it("leaves a thread with a summary as it was, and an edited summary is what the model gets", async () => {
      const thread = await client().threads.create();
      const turn = (content: string) => client().runs.wait(thread.thread_id, "agent", { input: user(content), config: { configurable: summaryMode } });
      await turn("My name is Ada");
      for (let index = 1; index <= 12 && (await valuesOf(thread.thread_id)).summary === null; index += 1) await turn(filler(index));
      const read = await valuesOf(thread.thread_id);
      expect(read.summary).toMatchObject({ text: expect.any(String), upTo: read.windowStart });
      expect(read.windowStart).toBeGreaterThan(0);

      const values = await roundTrip(thread.thread_id);
      expect(values.summary).toEqual(read.summary);

      // What is written is what the graph uses: the next summary mode turn sends the edited summary.
      const edited = { text: "The user is called Grace.", upTo: values.windowStart };
      await client().threads.updateState(thread.thread_id, { values: { ...values, summary: edited } });
      expect((await valuesOf(thread.thread_id)).summary).toEqual(edited);
      fixture.stub.reset();
      await turn("What is my name?");
      const chat = fixture.stub.requests.map((request) => request.body).filter((body) => !isSummaryRequest(body));
      expect(wireText(chat.at(-1)!.messages[0]!)).toContain(`${SUMMARY_HEADING}${edited.text}`);
    });

    it("takes windowStart and summary alone, and as a command.update", async () => {
      const thread = await client().threads.create();
      await client().threads.updateState(thread.thread_id, { values: { messages: [["user", "one"], ["ai", "two"], ["user", "three"]], windowStart: 3 } });
      await client().threads.updateState(thread.thread_id, { values: { windowStart: 2, summary: { text: "one, two", upTo: 2 } } });
      expect(await valuesOf(thread.thread_id)).toMatchObject({ windowStart: 2, summary: { text: "one, two", upTo: 2 } });
      await client().runs.wait(thread.thread_id, "agent", { command: { update: { summary: null, windowStart: 0 } } as never });
      expect(await valuesOf(thread.thread_id)).toMatchObject({ windowStart: 0, summary: null });
      await client().runs.wait(thread.thread_id, "agent", { command: { update: [["windowStart", 1]] } } as never);
      expect((await valuesOf(thread.thread_id)).windowStart).toBe(1);
    });

    it("refuses a bad windowStart or summary with a 422 naming the field, and writes nothing", async () => {
      const thread = await client().threads.create();
      await client().runs.wait(thread.thread_id, "agent", { input: user("My name is Ada") });
      const before = await client().threads.getState(thread.thread_id);
      const refusals: Array<[unknown, RegExp]> = [
        [{ windowStart: -1 }, /values\.windowStart: .*>=0/],
        [{ windowStart: 1.5 }, /values\.windowStart: .*int/],
        [{ windowStart: "1" }, /values\.windowStart: .*number/],
        [{ windowStart: 3 }, /values\.windowStart: 3 is past the end of the thread's 2 messages/],
        [{ messages: [["user", "more"]], windowStart: 4 }, /values\.windowStart: 4 is past the end of the thread's 3 messages/],
        [{ summary: "Ada" }, /values\.summary: .*object/],
        [{ summary: { text: 7, upTo: 1 } }, /values\.summary\.text: .*string/],
        [{ summary: { text: "Ada" } }, /values\.summary\.upTo: .*number/],
        [{ summary: { text: "Ada", upTo: -2 } }, /values\.summary\.upTo: .*>=0/],
        [{ summary: { text: "Ada", upTo: 1, extra: true } }, /values\.summary: .*extra/],
        [{ summary: { text: "Ada", upTo: 5 } }, /values\.summary\.upTo: 5 is past the end of the thread's 2 messages/],
        [{ windowStart: 0, notAChannel: 1 }, /values: .*notAChannel/],
      ];
      for (const [values, detail] of refusals) {
        const response = await fixture.server.request(`/threads/${thread.thread_id}/state`, { body: { values } });
        expect({ values, status: response.status }).toEqual({ values, status: 422 });
        expect((response.body as { detail: string }).detail).toMatch(detail);
      }
      // In a list of updates, the field is named by its place.
      const listed = await fixture.server.request(`/threads/${thread.thread_id}/state`, { body: { values: [{ windowStart: 0 }, { windowStart: 9 }] } });
      expect(listed.status).toBe(422);
      expect((listed.body as { detail: string }).detail).toMatch(/values\.1\.windowStart: 9 is past the end/);
      const run = await fixture.server.request(`/threads/${thread.thread_id}/runs/wait`, { body: { assistant_id: "agent", command: { update: { summary: { text: "x" } } } } });
      expect(run.status).toBe(422);
      expect((run.body as { detail: string }).detail).toMatch(/command\.update\.summary\.upTo/);
      expect((await client().threads.getState(thread.thread_id)).checkpoint.checkpoint_id).toBe(before.checkpoint.checkpoint_id);
    });
  });
});
