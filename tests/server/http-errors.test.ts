/**
 * Bad input over raw HTTP: every rejected request gets a clear 4xx `{"detail": string}` (never a
 * 500, a stack trace or an HTML page), and nothing already stored changes. One thread with one
 * finished turn is created first; after every test its state, record, runs, the number of threads
 * and the number of model calls must be exactly what they were.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";

describe.each(await testBackends())("on %s", (backend) => {
  type Reply = Awaited<ReturnType<TestServer["request"]>>;
  type Init = Parameters<TestServer["request"]>[1];

  let stub: OpenAiStub;
  let server: TestServer;
  /** The thread that must survive every bad request unchanged. */
  let threadId: string;
  /** Its one finished run. */
  let runId: string;

  const TURN = { assistant_id: "agent", input: { messages: [{ role: "user", content: "My name is Ada" }] } };
  const METADATA = { owner: "ada", purpose: "http-errors" };

  interface Snapshot {
    values: unknown;
    metadata: unknown;
    status: unknown;
    runIds: string[];
    threadCount: unknown;
    modelCalls: number;
  }
  let baseline: Snapshot;

  async function snapshot(): Promise<Snapshot> {
    const state = await server.request(`/threads/${threadId}/state`);
    const thread = await server.request(`/threads/${threadId}`);
    const runs = await server.request(`/threads/${threadId}/runs?limit=100`);
    const count = await server.request("/threads/count", { body: {} });
    expect(state.status).toBe(200);
    expect(thread.status).toBe(200);
    expect(runs.status).toBe(200);
    expect(count.status).toBe(200);
    return {
      values: (state.body as { values: unknown }).values,
      metadata: (thread.body as { metadata: unknown }).metadata,
      status: (thread.body as { status: unknown }).status,
      runIds: (runs.body as { run_id: string }[]).map((run) => run.run_id),
      threadCount: count.body,
      modelCalls: stub.requests.length,
    };
  }

  /**
   * Asserts an error answer: exactly `status`, a JSON body `{"detail": non-empty string}` with no
   * stack trace and no HTML, and, when given, a detail matching each pattern.
   */
  function expectError(reply: Reply, status: number, ...patterns: (RegExp | string)[]): string {
    const shown = JSON.stringify(reply.body);
    expect(reply.status, `status (body: ${shown})`).toBe(status);
    expect(reply.headers.get("content-type") ?? "", `content-type (body: ${shown})`).toMatch(/^application\/json/);
    expect(reply.body, "body is a JSON object").toBeTypeOf("object");
    expect(reply.body).not.toBeNull();
    expect(Array.isArray(reply.body)).toBe(false);
    const detail = (reply.body as { detail?: unknown }).detail;
    expect(detail, `detail (body: ${shown})`).toBeTypeOf("string");
    const text = detail as string;
    expect(text.trim().length).toBeGreaterThan(0);
    expect(text, "no stack trace").not.toMatch(/\n\s+at |\bat .+\.(ts|js):\d+/);
    expect(text, "no HTML").not.toMatch(/<\/?(html|body|pre|!DOCTYPE)/i);
    expect(text).not.toBe("Internal server error");
    for (const pattern of patterns) {
      if (typeof pattern === "string") expect(text).toContain(pattern);
      else expect(text).toMatch(pattern);
    }
    return text;
  }

  const send = (path: string, init?: Init) => server.request(path, init);

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend });
    const created = await send("/threads", { body: { metadata: METADATA } });
    expect(created.status).toBe(200);
    threadId = (created.body as { thread_id: string }).thread_id;
    const turn = await send(`/threads/${threadId}/runs/wait`, { body: TURN });
    expect(turn.status).toBe(200);
    const runs = await send(`/threads/${threadId}/runs`);
    runId = (runs.body as { run_id: string }[])[0]?.run_id as string;
    expect(runId).toBeTypeOf("string");
    baseline = await snapshot();
    const messages = (baseline.values as { messages: { type: string; content: string }[] }).messages;
    expect(messages.map((message) => [message.type, message.content])).toEqual([
      ["human", "My name is Ada"],
      ["ai", "Nice to meet you, Ada!"],
    ]);
    expect(baseline.metadata).toMatchObject(METADATA);
    expect(baseline.status).toBe("idle");
    expect(baseline.runIds).toEqual([runId]);
    expect(baseline.threadCount).toBe(1);
    expect(baseline.modelCalls).toBe(1);
  });

  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });

  // Nothing a rejected request does may show: same 2 messages, same record, no new run, no new
  // thread, no model call. The baseline moves on so that one defect fails one test, not all after it.
  afterEach(async () => {
    const before = baseline;
    const now = await snapshot();
    baseline = now;
    expect(now).toEqual(before);
    expect((now.values as { messages: unknown[] }).messages).toHaveLength(2);
  });

  const unknownId = () => randomUUID();

  describe("malformed bodies", () => {
    it.each([
      ["POST", "/threads"],
      ["POST", "/threads/search"],
      ["PATCH", "/threads/:thread"],
      ["POST", "/threads/:thread/state"],
      ["POST", "/threads/:thread/history"],
      ["POST", "/threads/:thread/runs/wait"],
      ["POST", "/threads/:thread/runs/stream"],
    ])("invalid JSON on %s %s is a 400", async (method, path) => {
      const reply = await send(path.replace(":thread", threadId), {
        method,
        raw: '{"assistant_id": "agent", "input": {"messages": [{"role": "user", "content": "hi"}',
      });
      expectError(reply, 400, "Malformed JSON in request body");
    });

    it.each([
      ["an array", "[]"],
      ["an array of objects", '[{"metadata": {}}]'],
    ])("a body that is %s where an object is expected is a 422", async (_what, raw) => {
      expectError(await send("/threads", { raw }), 422, /object/i);
      expectError(await send("/threads/search", { raw }), 422, /object/i);
      expectError(await send(`/threads/${threadId}/runs/wait`, { raw }), 422, /object/i);
    });

    it.each([
      ["a string", '"hello"'],
      ["a number", "42"],
      ["a boolean", "true"],
    ])("a body that is %s (valid JSON, wrong type) is a 422, not a JSON syntax error", async (_what, raw) => {
      expectError(await send("/threads", { raw }), 422, /object/i);
      expectError(await send(`/threads/${threadId}/runs/wait`, { raw }), 422, /object/i);
    });

    it("a form body is a 415, not silently read as {}", async () => {
      const reply = await send("/threads/search", { raw: "limit=ten", headers: { "content-type": "application/x-www-form-urlencoded" } });
      expectError(reply, 415, /application\/json/);
    });

    it("a text/plain body is read as JSON, as the official server does", async () => {
      expectError(await send("/threads/search", { raw: "limit=ten", headers: { "content-type": "text/plain" } }), 400, "Malformed JSON in request body");
      const reply = await send("/threads/search", { raw: '{"limit": "ten"}', headers: { "content-type": "text/plain" } });
      expectError(reply, 422, /limit/);
    });

    it("a body over 1 MB is a 413", async () => {
      const big = "x".repeat(1_100_000);
      expectError(await send("/threads", { body: { metadata: { blob: big } } }), 413, /too large/i);
      expectError(
        await send(`/threads/${threadId}/runs/wait`, { body: { assistant_id: "agent", input: { messages: [{ role: "user", content: big }] } } }),
        413,
        /too large/i,
      );
      expectError(await send(`/threads/${threadId}`, { method: "PATCH", body: { metadata: { blob: big } } }), 413, /too large/i);
    });
  });

  describe("wrong field types", () => {
    it("POST /threads/search with limit: \"ten\" is a 422 naming limit", async () => {
      expectError(await send("/threads/search", { body: { limit: "ten" } }), 422, "limit");
    });

    it.each([
      [{ limit: 0 }, "limit"],
      [{ limit: 5000 }, "limit"],
      [{ offset: -1 }, "offset"],
      [{ sort_by: "colour" }, "sort_by"],
      [{ ids: ["not-a-uuid"] }, /ids\.0.*UUID/],
      [{ metadata: "owner=ada" }, "metadata"],
      [{ status: "sleeping" }, "status"],
    ])("POST /threads/search with %j is a 422", async (body, pattern) => {
      expectError(await send("/threads/search", { body }), 422, pattern);
    });

    it("POST /threads with metadata: 5 is a 422 naming metadata, and creates no thread", async () => {
      expectError(await send("/threads", { body: { metadata: 5 } }), 422, "metadata");
    });

    it("POST /threads with if_exists: \"overwrite\" is a 422 naming if_exists", async () => {
      expectError(await send("/threads", { body: { thread_id: threadId, if_exists: "overwrite", metadata: { owner: "mallory" } } }), 422, "if_exists");
    });

    it("POST /threads/count with values: [1] (not an object) is a 422 naming values", async () => {
      expectError(await send("/threads/count", { body: { values: [1] } }), 422, /values/);
    });

    it("POST /threads with ttl: {ttl: -1} or strategy \"keep\" is a 422 naming ttl", async () => {
      expectError(await send("/threads", { body: { thread_id: threadId, ttl: { ttl: -1 } } }), 422, /ttl/);
      expectError(await send("/threads", { body: { thread_id: threadId, ttl: { strategy: "keep", ttl: 5 } } }), 422, /ttl/);
    });

    it("PATCH /threads/{id} with metadata: \"x\" is a 422 naming metadata", async () => {
      expectError(await send(`/threads/${threadId}`, { method: "PATCH", body: { metadata: "x" } }), 422, "metadata");
    });

    it("POST /threads/{id}/history with limit: \"all\" is a 422 naming limit", async () => {
      expectError(await send(`/threads/${threadId}/history`, { body: { limit: "all" } }), 422, "limit");
    });

    it("POST /threads/{id}/state with values.messages: 5 is a 422", async () => {
      expectError(await send(`/threads/${threadId}/state`, { body: { values: { messages: 5 } } }), 422, "values");
    });

    it.each([
      ["input.messages a number", { ...TURN, input: { messages: 5 } }, "input.messages"],
      ["input a string", { ...TURN, input: "hi" }, "input"],
      ["assistant_id a number", { ...TURN, assistant_id: 5 }, "assistant_id"],
      ["assistant_id empty", { ...TURN, assistant_id: "" }, "assistant_id"],
      ["assistant_id missing", { input: TURN.input }, "assistant_id"],
      ["metadata an array", { ...TURN, metadata: [1, 2] }, "metadata"],
      ["config.recursion_limit a string", { ...TURN, config: { recursion_limit: "many" } }, "config.recursion_limit"],
      ["config.configurable a string", { ...TURN, config: { configurable: "x" } }, "config.configurable"],
      ["multitask_strategy unknown", { ...TURN, multitask_strategy: "sometimes" }, "multitask_strategy"],
      ["if_not_exists unknown", { ...TURN, if_not_exists: "maybe" }, "if_not_exists"],
      ["on_disconnect unknown", { ...TURN, on_disconnect: "explode" }, "on_disconnect"],
      ["command.update a string", { assistant_id: "agent", command: { update: "x" } }, "command"],
      ["interrupt_before an unknown node", { ...TURN, interrupt_before: ["nowhere"] }, "interrupt_before"],
      ["content a number", { ...TURN, input: { messages: [{ role: "user", content: 5 }] } }, "input.messages.0.content"],
      ["content missing", { ...TURN, input: { messages: [{ role: "user" }] } }, "input.messages.0.content"],
      ["role unknown", { ...TURN, input: { messages: [{ role: "wizard", content: "hi" }] } }, "input.messages.0.role"],
      ["type unknown", { ...TURN, input: { messages: [{ type: "robot", content: "hi" }] } }, "input.messages.0.type"],
      ["a message that is a number", { ...TURN, input: { messages: [5] } }, "input.messages.0"],
      ["a [role, content] pair with an unknown role", { ...TURN, input: { messages: [["wizard", "hi"]] } }, "input.messages.0.0"],
      ["a Python-style message with content null", { ...TURN, input: { messages: [{ type: "human", content: null, id: null }] } }, "input.messages.0.content"],
    ])("a run with %s is a 422 naming the field", async (_what, body, field) => {
      expectError(await send(`/threads/${threadId}/runs/wait`, { body }), 422, field);
    });

    it("a run with an unknown field inside input is a 422 naming it", async () => {
      const body = { assistant_id: "agent", input: { messages: [{ role: "user", content: "hi" }], bogus: 1 } };
      expectError(await send(`/threads/${threadId}/runs/wait`, { body }), 422, "input", "bogus");
      expectError(await send(`/threads/${threadId}/runs`, { body }), 422, "input", "bogus");
      expectError(await send(`/threads/${threadId}/runs/stream`, { body }), 422, "input", "bogus");
    });

    it("a run with a message that has neither role nor type is a 422 that says a message needs one", async () => {
      const body = { assistant_id: "agent", input: { messages: [{ content: "hi" }] } };
      expectError(await send(`/threads/${threadId}/runs/wait`, { body }), 422, "input.messages.0", /type/, /role/);
    });

    it.each([
      ["role", { role: "tool", content: "42" }],
      ["type", { type: "tool", content: "42" }],
    ])("a run with a tool message (by %s) without tool_call_id is a 422 naming tool_call_id", async (_by, message) => {
      const body = { assistant_id: "agent", input: { messages: [message] } };
      expectError(await send(`/threads/${threadId}/runs/wait`, { body }), 422, "input.messages.0", "tool_call_id");
    });

    it("POST /threads/{id}/state with a message that has no role or type is a 422", async () => {
      expectError(await send(`/threads/${threadId}/state`, { body: { values: { messages: [{ content: "injected" }] } } }), 422, /type/, /role/);
    });

    it("invalid query parameters are 422s naming the parameter", async () => {
      expectError(await send(`/threads/${threadId}/runs?limit=abc`), 422, "limit");
      expectError(await send(`/threads/${threadId}/runs?status=sleeping`), 422, "status");
      expectError(await send(`/threads/${threadId}/history?limit=-3`), 422, "limit");
      expectError(await send(`/threads/${threadId}/runs/${runId}/cancel?action=explode`, { method: "POST" }), 422, "action");
    });
  });

  describe("unknown ids", () => {
    it("GET, PATCH and DELETE /threads/{id} of an unknown thread are 404s naming it", async () => {
      const id = unknownId();
      expectError(await send(`/threads/${id}`), 404, id);
      expectError(await send(`/threads/${id}`, { method: "PATCH", body: { metadata: { owner: "mallory" } } }), 404, id);
      expectError(await send(`/threads/${id}`, { method: "DELETE" }), 404, id);
    });

    it("state, history and runs of an unknown thread are 404s naming it", async () => {
      const id = unknownId();
      expectError(await send(`/threads/${id}/state`), 404, id);
      expectError(await send(`/threads/${id}/history`, { body: {} }), 404, id);
      expectError(await send(`/threads/${id}/history`), 404, id);
      expectError(await send(`/threads/${id}/runs`), 404, id);
      expectError(await send(`/threads/${id}/state`, { body: { values: { messages: [{ role: "user", content: "hi" }] } } }), 404, id);
      expectError(await send(`/threads/${id}/copy`, { method: "POST" }), 404, id);
    });

    it("POST /threads/{id}/runs/wait on an unknown thread is a 404 that neither creates the thread nor calls the model", async () => {
      const id = unknownId();
      expectError(await send(`/threads/${id}/runs/wait`, { body: TURN }), 404, id);
      expectError(await send(`/threads/${id}/runs`, { body: TURN }), 404, id);
      expectError(await send(`/threads/${id}/runs/stream`, { body: TURN }), 404, id);
      expectError(await send(`/threads/${id}`), 404);
    });

    it("an unknown run id is a 404 on get, cancel and join", async () => {
      const id = unknownId();
      expectError(await send(`/threads/${threadId}/runs/${id}`), 404, id);
      expectError(await send(`/threads/${threadId}/runs/${id}/cancel`, { method: "POST" }), 404, id);
      expectError(await send(`/threads/${threadId}/runs/${id}/join`), 404, id);
      expectError(await send(`/threads/${threadId}/runs/${id}/stream`), 404, id);
      expectError(await send(`/threads/${threadId}/runs/${id}`, { method: "DELETE" }), 404, id);
    });

    it("a real run id under another (unknown) thread is a 404 on get, cancel and join", async () => {
      const other = unknownId();
      // The thread is checked first, so the detail names the thread that does not exist.
      expectError(await send(`/threads/${other}/runs/${runId}`), 404, other);
      expectError(await send(`/threads/${other}/runs/${runId}/cancel`, { method: "POST" }), 404, other);
      expectError(await send(`/threads/${other}/runs/${runId}/join`), 404, other);
    });

    it.each([
      ["a name", "nope"],
      ["a UUID", "00000000-0000-4000-8000-000000000000"],
    ])("a run with an unknown assistant (%s) is a 404 naming it", async (_what, assistantId) => {
      const body = { ...TURN, assistant_id: assistantId };
      expectError(await send(`/threads/${threadId}/runs/wait`, { body }), 404, assistantId);
      expectError(await send(`/threads/${threadId}/runs`, { body }), 404, assistantId);
      expectError(await send(`/threads/${threadId}/runs/stream`, { body }), 404, assistantId);
      // Not even a thread that would be created on demand comes into being.
      expectError(await send(`/threads/${unknownId()}/runs/wait`, { body: { ...body, if_not_exists: "create" } }), 404, assistantId);
      expectError(await send("/runs/wait", { body }), 404, assistantId);
    });

    it("GET /assistants/{id} of an unknown assistant is a 404 naming it", async () => {
      expectError(await send("/assistants/nope"), 404, "nope");
    });

    it("an unknown route is a JSON 404, whatever the method", async () => {
      expectError(await send(`/threads/${threadId}`, { method: "PUT", body: {} }), 404, "No route");
      expectError(await send("/threads/search/everything"), 404, "No route");
    });
  });

  describe("ids that are not UUIDs", () => {
    const bad = ["not-a-uuid", "123", "7f0e1a2b-0000-4000-8000", "' OR 1=1 --"];

    it.each(bad)("thread id %j is a 422 mentioning UUID on every thread route", async (raw) => {
      const id = encodeURIComponent(raw);
      const routes: [string, Init][] = [
        [`/threads/${id}`, {}],
        [`/threads/${id}`, { method: "PATCH", body: { metadata: { owner: "mallory" } } }],
        [`/threads/${id}`, { method: "DELETE" }],
        [`/threads/${id}/state`, {}],
        [`/threads/${id}/state`, { body: { values: { messages: [{ role: "user", content: "hi" }] } } }],
        [`/threads/${id}/history`, { body: {} }],
        [`/threads/${id}/copy`, { method: "POST" }],
        [`/threads/${id}/runs`, {}],
        [`/threads/${id}/runs`, { body: TURN }],
        [`/threads/${id}/runs/wait`, { body: TURN }],
        [`/threads/${id}/runs/stream`, { body: TURN }],
        [`/threads/${id}/runs/${runId}`, {}],
        [`/threads/${id}/runs/${runId}/cancel`, { method: "POST" }],
        [`/threads/${id}/runs/${runId}/join`, {}],
      ];
      for (const [path, init] of routes) {
        const reply = await send(path, init);
        expect(reply.status, `${init?.method ?? (init?.body ? "POST" : "GET")} ${path}`).toBe(422);
        expectError(reply, 422, "thread_id", "UUID");
      }
    });

    it.each(bad)("run id %j is a 422 mentioning UUID on get, cancel, join and delete", async (raw) => {
      const id = encodeURIComponent(raw);
      expectError(await send(`/threads/${threadId}/runs/${id}`), 422, "run_id", "UUID");
      expectError(await send(`/threads/${threadId}/runs/${id}/cancel`, { method: "POST" }), 422, "run_id", "UUID");
      expectError(await send(`/threads/${threadId}/runs/${id}/join`), 422, "run_id", "UUID");
      expectError(await send(`/threads/${threadId}/runs/${id}/stream`), 422, "run_id", "UUID");
      expectError(await send(`/threads/${threadId}/runs/${id}`, { method: "DELETE" }), 422, "run_id", "UUID");
    });

    it("a thread_id in POST /threads that is not a UUID is a 422", async () => {
      expectError(await send("/threads", { body: { thread_id: "ada" } }), 422, "thread_id", "UUID");
    });

    it("a checkpoint_id in a run that is not a UUID is a 422", async () => {
      expectError(await send(`/threads/${threadId}/runs/wait`, { body: { ...TURN, checkpoint_id: "latest" } }), 422, "checkpoint_id", "UUID");
    });

    it("a path that cannot be URL-decoded is a 400 in JSON", async () => {
      expectError(await send("/threads/%E0%A4%A"), 400);
    });
  });

  describe("stream modes", () => {
    it("an unknown stream_mode is a 422 naming the mode", async () => {
      const body = { ...TURN, stream_mode: "bogus-mode" };
      expectError(await send(`/threads/${threadId}/runs/wait`, { body }), 422, "stream_mode", "bogus-mode");
      expectError(await send(`/threads/${threadId}/runs`, { body }), 422, "stream_mode", "bogus-mode");
    });

    it("an unknown stream_mode in a list on /runs/stream is a 422 in JSON, not an event stream", async () => {
      const body = { ...TURN, stream_mode: ["values", "telepathy"] };
      expectError(await send(`/threads/${threadId}/runs/stream`, { body }), 422, "stream_mode", "telepathy");
      expectError(await send("/runs/stream", { body }), 422, "stream_mode", "telepathy");
    });
  });

  describe("creating a thread that exists", () => {
    it("a second POST /threads with the same thread_id is a 409", async () => {
      expectError(await send("/threads", { body: { thread_id: threadId, metadata: { owner: "mallory" } } }), 409, threadId, /already exists/);
      expectError(await send("/threads", { body: { thread_id: threadId, if_exists: "raise" } }), 409, threadId);
    });

    it("with if_exists do_nothing it is a 200 with the same thread, its metadata and messages unchanged", async () => {
      const reply = await send("/threads", { body: { thread_id: threadId, if_exists: "do_nothing", metadata: { owner: "mallory" } } });
      expect(reply.status).toBe(200);
      const thread = reply.body as { thread_id: string; metadata: unknown; values: { messages: unknown[] } };
      expect(thread.thread_id).toBe(threadId);
      expect(thread.metadata).toEqual(baseline.metadata);
      expect(thread.values.messages).toEqual((baseline.values as { messages: unknown[] }).messages);
    });
  });

  describe("runs that cannot succeed", () => {
    it("an oversized message is a 400 before any run starts, and nothing is stored", async () => {
      const huge = "word ".repeat(20_000); // ~20k tokens, under the 1 MB body limit, over the 16k context
      const reply = await send(`/threads/${threadId}/runs/wait`, { body: { assistant_id: "agent", input: { messages: [{ role: "user", content: huge }] } } });
      expectError(reply, 400, /CONTEXT_TOKENS/);
      const streamed = await send(`/threads/${threadId}/runs/stream`, { body: { assistant_id: "agent", input: { messages: [{ role: "user", content: huge }] } } });
      expectError(streamed, 400, /CONTEXT_TOKENS/);
    });

    it("a system prompt variable with no value is a 422 naming it, before any run starts", async () => {
      const reply = await send(`/threads/${threadId}/runs/wait`, {
        body: { assistant_id: "agent", input: { messages: [{ role: "user", content: "hi" }] }, config: { configurable: { system_prompt: "Expert in {topic}" } } },
      });
      expectError(reply, 422, "configurable.topic");
    });
  });
});
