/**
 * Titles generated after the first exchange (`TITLE_GENERATION=on`): one short call of the run's
 * model, not streamed and not in the thread's state, after the run's answer is out; stored as
 * `metadata.title` unless the user named the chat meanwhile; never for a chat already named, a
 * later run, a stateless run; a failing call leaves the chat untitled, the run unaffected; off
 * by default in the test environment (and with `TITLE_GENERATION=off`), no call at all.
 */
import { describe, expect, it } from "vitest";
import { TITLE_INSTRUCTIONS, TITLE_MAX_TOKENS } from "../../src/graph/thread-title.js";
import { isTitleRequest, wireText } from "../support/openai-stub.js";
import { testBackends } from "../support/server.js";
import { until } from "../support/until.js";
import { useStubAndServer } from "../support/use-server.js";

const user = (content: string) => ({ messages: [{ role: "user", content }] });
const contents = (values: unknown) => (values as { messages: Array<{ content: string }> }).messages.map((message) => message.content);

describe.each(await testBackends())("thread titles (%s)", (backend) => {
  describe("with TITLE_GENERATION=on", () => {
    const fixture = useStubAndServer(backend, { env: { TITLE_GENERATION: "on" }, captureLogs: true });
    const titleRequests = () => fixture.stub.requests.filter((request) => isTitleRequest(request.body));
    const settled = () => fixture.server.deps.runs.titlesSettled();

    it("titles a new chat after its first run with one short, unstreamed call; the state holds only the exchange", async () => {
      const { client } = fixture.server;
      const thread = await client.threads.create();
      const parts: string[] = [];
      for await (const part of client.runs.stream(thread.thread_id, "agent", { input: user("My name is Ada and I like tea"), streamMode: ["messages-tuple", "values"] })) {
        parts.push(JSON.stringify(part.data));
      }
      await settled();
      const titled = await client.threads.get(thread.thread_id);
      expect(titled.metadata).toMatchObject({ title: "My name is Ada" });

      const [request, ...more] = titleRequests();
      expect(more).toEqual([]);
      expect(request!.body).toMatchObject({ model: "gpt-4o-mini", max_tokens: TITLE_MAX_TOKENS });
      expect(request!.body.stream).toBeFalsy();
      expect(request!.body.tools).toBeUndefined();
      expect(request!.body.messages.map((message) => [message.role, wireText(message)])).toEqual([
        ["system", TITLE_INSTRUCTIONS],
        ["user", "User: My name is Ada and I like tea\n\nAssistant: Nice to meet you, Ada!"],
      ]);
      // Nothing of it reached the client's stream or the thread.
      expect(parts.join("\n")).not.toContain(TITLE_INSTRUCTIONS);
      expect(contents((await client.threads.getState(thread.thread_id)).values)).toEqual(["My name is Ada and I like tea", "Nice to meet you, Ada!"]);
    });

    it("the answer does not wait for the title: the run is over while the title call is still held", async () => {
      const { server, stub } = fixture;
      const release = stub.holdMatching(isTitleRequest);
      const thread = await server.client.threads.create();
      const values = await server.client.runs.wait(thread.thread_id, "agent", { input: user("Plan a trip to Lisbon") });
      expect(contents(values)).toEqual(["Plan a trip to Lisbon", "You said: Plan a trip to Lisbon"]);
      await until(() => titleRequests().length === 1);
      const before = await server.client.threads.get(thread.thread_id);
      expect(before.metadata).not.toHaveProperty("title");
      release();
      await settled();
      const after = await server.client.threads.get(thread.thread_id);
      expect(after.metadata).toMatchObject({ title: "Plan a trip to" });
      // Bookkeeping of the run just ended: the chat keeps its place in lists.
      expect(after.updated_at).toBe(before.updated_at);
    });

    it("titles many chats at once, each its own, with no listener-leak warning from the server", async () => {
      const { server, stub } = fixture;
      const warnings: string[] = [];
      const onWarning = (warning: Error) => warnings.push(`${warning.name}: ${warning.message}`);
      process.on("warning", onWarning);
      try {
        const release = stub.holdMatching(isTitleRequest);
        const before = titleRequests().length;
        const threads = await Promise.all(Array.from({ length: 12 }, () => server.client.threads.create()));
        await Promise.all(threads.map((thread, index) => server.client.runs.wait(thread.thread_id, "agent", { input: user(`Chat number ${index} about tea`) })));
        // All twelve title calls under way at once, each listening for the server's shutdown.
        await until(() => titleRequests().length === before + 12);
        release();
        await settled();
        const titles = await Promise.all(threads.map(async (thread) => (await server.client.threads.get(thread.thread_id)).metadata?.title));
        expect(titles).toEqual(threads.map((_, index) => `Chat number ${index} about`));
        await new Promise((resolve) => setImmediate(resolve));
        expect(warnings.filter((warning) => warning.startsWith("MaxListenersExceededWarning"))).toEqual([]);
      } finally {
        process.off("warning", onWarning);
      }
    });

    it("a title the user set while the call was going wins", async () => {
      const { server, stub } = fixture;
      const release = stub.holdMatching(isTitleRequest);
      const thread = await server.client.threads.create();
      await server.client.runs.wait(thread.thread_id, "agent", { input: user("Plan a trip to Lisbon") });
      await until(() => titleRequests().length === 1);
      await server.client.threads.update(thread.thread_id, { metadata: { title: "Holidays" } });
      release();
      await settled();
      expect((await server.client.threads.get(thread.thread_id)).metadata).toMatchObject({ title: "Holidays" });
    });

    it("no call for a chat that has a title, nor after a later run, nor for a stateless run", async () => {
      const { server, stub } = fixture;
      const { client } = server;
      const named = await client.threads.create({ metadata: { title: "Named by me" } });
      await client.runs.wait(named.thread_id, "agent", { input: user("Hello there") });
      await settled();
      expect(titleRequests()).toEqual([]);
      expect((await client.threads.get(named.thread_id)).metadata).toMatchObject({ title: "Named by me" });

      const thread = await client.threads.create();
      await client.runs.wait(thread.thread_id, "agent", { input: user("First words here") });
      await settled();
      expect(titleRequests()).toHaveLength(1);
      // Renamed to nothing: the chat stays untitled, only a first run is titled.
      await client.threads.update(thread.thread_id, { metadata: { title: null } });
      await client.runs.wait(thread.thread_id, "agent", { input: user("Second words here") });
      await settled();
      expect(titleRequests()).toHaveLength(1);
      expect((await client.threads.get(thread.thread_id)).metadata).not.toHaveProperty("title");

      // Its thread is deleted as it ends (`on_completion: delete`, the default).
      await client.runs.wait(null, "agent", { input: user("Stateless words") });
      await settled();
      expect(titleRequests()).toHaveLength(1);
      // The four runs' calls and the one title.
      expect(stub.requests).toHaveLength(5);
    });

    it("a failing title call leaves the chat untitled, logged as a warning; the run succeeded all the same", async () => {
      const { server, stub } = fixture;
      stub.failMatching(isTitleRequest, 500);
      const thread = await server.client.threads.create();
      const values = await server.client.runs.wait(thread.thread_id, "agent", { input: user("Hello there") });
      expect(contents(values)).toEqual(["Hello there", "You said: Hello there"]);
      await settled();
      expect((await server.client.threads.get(thread.thread_id)).metadata).not.toHaveProperty("title");
      expect((await server.client.runs.list(thread.thread_id)).map((run) => run.status)).toEqual(["success"]);
      const warning = server.logs.map((line) => JSON.parse(line) as { level: number; msg: string; threadId?: string }).find((line) => line.msg === "could not generate a title for the thread");
      expect(warning).toMatchObject({ level: 40, threadId: thread.thread_id });
    });

    it("asks the run's own model, and a run stopped before it ended gets no title", async () => {
      const { server, stub } = fixture;
      const thread = await server.client.threads.create();
      await server.client.runs.wait(thread.thread_id, "agent", { input: user("Which model are you"), config: { configurable: { model: "other-model" } } });
      await settled();
      expect(titleRequests().map((request) => request.body.model)).toEqual(["other-model"]);

      const stopped = await server.client.threads.create();
      stub.holdNextReply();
      const run = await server.client.runs.create(stopped.thread_id, "agent", { input: user("Never answered") });
      await until(() => stub.requests.length === 3);
      await server.client.runs.cancel(stopped.thread_id, run.run_id, true, "interrupt");
      await settled();
      expect(titleRequests()).toHaveLength(1);
    });
  });

  describe("with TITLE_GENERATION off (the tests' default)", () => {
    const fixture = useStubAndServer(backend);

    it("makes no title call", async () => {
      const { server, stub } = fixture;
      const thread = await server.client.threads.create();
      await server.client.runs.wait(thread.thread_id, "agent", { input: user("Hello there") });
      await server.deps.runs.titlesSettled();
      expect(stub.requests).toHaveLength(1);
      expect((await server.client.threads.get(thread.thread_id)).metadata).not.toHaveProperty("title");
    });
  });
});
