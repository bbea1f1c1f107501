/**
 * How runs end when they do not finish: a delay has a documented maximum, and a cancelled run or
 * a deleted thread ends every stream of its runs with a last `error` event that says why, for
 * the official SDK and for a plain SSE reader. On SQLite and PostgreSQL.
 */
import type { Client } from "@langchain/langgraph-sdk";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MAX_AFTER_SECONDS } from "../../src/server/schemas.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";
import { until } from "../support/until.js";

type Part = { event: string; data: unknown };
const user = (content: string) => ({ messages: [{ role: "user", content }] });

/** Every event of an SSE response, read to its end. */
async function readSse(response: Response): Promise<Part[]> {
  const text = await response.text();
  return text
    .split(/\n\n/)
    .map((block) => {
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      return event === undefined ? undefined : { event, data: data === undefined ? undefined : JSON.parse(data) };
    })
    .filter((part): part is Part => part !== undefined);
}

/** Collects a stream's events (without their ids) as they come; `done` resolves with all of them when it ends. */
function collect(stream: AsyncIterable<Part>) {
  const parts: Part[] = [];
  const done = (async () => {
    for await (const { event, data } of stream) parts.push({ event, data });
    return parts;
  })();
  return { parts, done };
}

describe.each(await testBackends())("runs that do not finish (%s)", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend });
    client = server.client;
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });
  beforeEach(() => stub.reset());

  describe("after_seconds", () => {
    it(`refuses a delay beyond ${MAX_AFTER_SECONDS} seconds with a 422, creating nothing`, async () => {
      const thread = await client.threads.create();
      const before = await client.threads.count();
      for (const after_seconds of [MAX_AFTER_SECONDS + 1, 1e7]) {
        const body = { assistant_id: "agent", input: user("much later"), after_seconds };
        for (const path of [`/threads/${thread.thread_id}/runs`, `/threads/${thread.thread_id}/runs/wait`, "/runs", "/runs/stream"]) {
          const response = await server.request(path, { body });
          expect(response.status, path).toBe(422);
          expect((response.body as { detail: string }).detail).toContain(`after_seconds: must be at most ${MAX_AFTER_SECONDS}`);
        }
        expect((await server.request("/runs/batch", { body: [{ ...body, after_seconds: 1 }, body] })).status).toBe(422);
      }
      expect(await client.runs.list(thread.thread_id)).toEqual([]);
      expect(await client.threads.count()).toBe(before);
      expect(stub.requests).toHaveLength(0);
    });

    it("still delays a run within the maximum: cancelled while it waits, it never runs", async () => {
      const thread = await client.threads.create();
      const run = await client.runs.create(thread.thread_id, "agent", { input: user("in an hour"), afterSeconds: 3600 });
      expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("pending");
      const joined = collect(client.runs.joinStream(thread.thread_id, run.run_id) as AsyncIterable<Part>);
      await client.runs.cancel(thread.thread_id, run.run_id, true, "interrupt");
      expect((await client.runs.get(thread.thread_id, run.run_id)).status).toBe("interrupted");
      expect((await joined.done).at(-1)).toEqual({ event: "error", data: { error: "RunCancelled", message: `Run ${run.run_id} was cancelled (interrupt)` } });
      expect(stub.requests).toHaveLength(0);
    });
  });

  describe("the last event of a cancelled run's streams", () => {
    /**
     * Starts a streamed run whose model call is held mid-reply, joins its stream, then ends it
     * with `end`; returns the creating stream's and the join stream's events, and the run's id.
     */
    async function streamThenEnd(end: (threadId: string, runId: string) => Promise<unknown>) {
      const thread = await client.threads.create();
      let release!: () => void;
      stub.inject({ kind: "pause", afterChunks: 2, resume: new Promise<void>((resolve) => (release = resolve)) });
      const creating = collect(client.runs.stream(thread.thread_id, "agent", { input: user("a long answer please"), streamMode: ["values", "messages-tuple"] }) as AsyncIterable<Part>);
      await until(() => creating.parts.length > 0 && stub.requests.length > 0);
      const runId = (creating.parts[0]!.data as { run_id: string }).run_id;
      const joining = collect(client.runs.joinStream(thread.thread_id, runId) as AsyncIterable<Part>);
      await until(() => joining.parts.length > 0);
      // A plain SSE reader of the same run, without the SDK.
      const raw = fetch(`${server.baseUrl}/threads/${thread.thread_id}/runs/${runId}/stream`).then(readSse);
      await end(thread.thread_id, runId);
      release();
      return { threadId: thread.thread_id, runId, creating: await creating.done, joining: await joining.done, raw: await raw };
    }

    for (const action of ["interrupt", "rollback"] as const) {
      it(`says the run was cancelled (${action}), to the creating stream and to joiners`, async () => {
        const { runId, creating, joining, raw } = await streamThenEnd((threadId, runId) => client.runs.cancel(threadId, runId, true, action));
        const last = { event: "error", data: { error: "RunCancelled", message: `Run ${runId} was cancelled (${action})` } };
        expect(creating[0]!.event).toBe("metadata");
        expect(creating.at(-1)).toEqual(last);
        expect(joining.at(-1)).toEqual(last);
        expect(raw.at(-1)).toEqual(last);
        // Exactly one such event each.
        for (const events of [creating, joining, raw]) expect(events.filter((part) => part.event === "error")).toHaveLength(1);
      });
    }

    it("says the thread was deleted", async () => {
      const { threadId, runId, creating, joining, raw } = await streamThenEnd(async (threadId) => {
        expect((await server.request(`/threads/${threadId}`, { method: "DELETE" })).status).toBe(204);
      });
      const last = { event: "error", data: { error: "ThreadDeleted", message: `Thread ${threadId} was deleted; run ${runId} was cancelled` } };
      expect(creating.at(-1)).toEqual(last);
      expect(joining.at(-1)).toEqual(last);
      expect(raw.at(-1)).toEqual(last);
    });

    it("says who cancelled it when a newer run interrupts it, and ends a raw creating stream the same way", async () => {
      const thread = await client.threads.create();
      let release!: () => void;
      stub.inject({ kind: "pause", afterChunks: 2, resume: new Promise<void>((resolve) => (release = resolve)) });
      const response = await fetch(`${server.baseUrl}/threads/${thread.thread_id}/runs/stream`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ assistant_id: "agent", input: user("first"), stream_mode: ["values"] }),
      });
      const events = readSse(response);
      await until(() => stub.requests.length > 0);
      const newer = await client.runs.create(thread.thread_id, "agent", { input: user("second"), multitaskStrategy: "interrupt" });
      release();
      const parts = await events;
      const runId = (parts[0]!.data as { run_id: string }).run_id;
      expect(parts.at(-1)).toEqual({
        event: "error",
        data: { error: "RunCancelled", message: `Run ${runId} was cancelled (interrupt): run ${newer.run_id} was started on the thread with multitask_strategy interrupt` },
      });
      await client.runs.join(thread.thread_id, newer.run_id);
    });

    it("ends the stream of a queued run that is cancelled before its turn", async () => {
      const thread = await client.threads.create();
      let release!: () => void;
      stub.inject({ kind: "pause", afterChunks: 2, resume: new Promise<void>((resolve) => (release = resolve)) });
      const first = await client.runs.create(thread.thread_id, "agent", { input: user("first") });
      await until(() => stub.requests.length > 0);
      const queued = await client.runs.create(thread.thread_id, "agent", { input: user("second"), multitaskStrategy: "enqueue" });
      const joined = collect(client.runs.joinStream(thread.thread_id, queued.run_id) as AsyncIterable<Part>);
      await client.runs.cancel(thread.thread_id, queued.run_id, true, "rollback");
      expect(await joined.done).toEqual([{ event: "error", data: { error: "RunCancelled", message: `Run ${queued.run_id} was cancelled (rollback)` } }]);
      release();
      await client.runs.join(thread.thread_id, first.run_id);
    });

    it("leaves a run that finishes as it was: no error event", async () => {
      const thread = await client.threads.create();
      const events: Part[] = [];
      for await (const part of client.runs.stream(thread.thread_id, "agent", { input: user("hello") }) as AsyncIterable<Part>) events.push(part);
      expect(events.map((part) => part.event)).not.toContain("error");
      expect(events.at(-1)!.event).toBe("values");
    });
  });
});
