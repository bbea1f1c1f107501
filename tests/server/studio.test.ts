/**
 * The server as LangGraph Studio's backend. Studio is a page on https://smith.langchain.com that
 * calls this server from the browser, so every call is cross-origin: CORS preflights, Chrome's
 * Private Network Access (a public https page calling 127.0.0.1), and then the sequence of calls
 * Studio makes when it opens a graph, lists threads, chats, forks, pauses and cancels.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ASSISTANT_ID } from "../../src/server/assistants.js";
import { GraphQuery, parseInput } from "../../src/server/schemas.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";
import { until } from "../support/until.js";

const STUDIO = "https://smith.langchain.com";
const STUDIO_EU = "https://eu.smith.langchain.com";
/** The headers a browser asks to send for the SDK and Studio (Studio adds x-auth-scheme). */
const REQUESTED_HEADERS = "content-type,x-api-key,authorization,x-request-id,last-event-id,x-auth-scheme";
const API_KEY = "studio-key-0123456789abcdef";

/** A preflight as Chrome sends it for a public page calling a loopback address. */
const preflight = (baseUrl: string, path: string, origin: string, method = "POST", privateNetwork = true) =>
  fetch(`${baseUrl}${path}`, {
    method: "OPTIONS",
    headers: {
      origin,
      "access-control-request-method": method,
      "access-control-request-headers": REQUESTED_HEADERS,
      ...(privateNetwork ? { "access-control-request-private-network": "true" } : {}),
    },
  });

const lowerList = (value: string | null) => (value ?? "").split(",").map((item) => item.trim().toLowerCase());

describe("CORS and Private Network Access", () => {
  let server: TestServer;
  let keyed: TestServer;
  beforeAll(async () => {
    server = await startServer(undefined);
    keyed = await startServer(undefined, { env: { API_KEYS: `studio:${API_KEY}` } });
  });
  afterAll(async () => {
    await server.close();
    await keyed.close();
  });

  it("answers Studio's preflight with the origin, the private network, the headers and the methods", async () => {
    const response = await preflight(server.baseUrl, "/threads/search", STUDIO);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(STUDIO);
    expect(response.headers.get("access-control-allow-private-network")).toBe("true");
    expect(lowerList(response.headers.get("access-control-allow-headers"))).toEqual(expect.arrayContaining(REQUESTED_HEADERS.split(",")));
    expect(lowerList(response.headers.get("access-control-allow-methods"))).toEqual(expect.arrayContaining(["get", "post", "patch", "delete", "put"]));
    expect(Number(response.headers.get("access-control-max-age"))).toBeGreaterThan(0);
    expect(response.headers.get("vary")).toMatch(/origin/i);
  });

  it("allows EU Studio by default, and adds the private network header only when asked", async () => {
    const eu = await preflight(server.baseUrl, "/threads/00000000-0000-4000-8000-000000000000", STUDIO_EU, "PATCH", false);
    expect(eu.status).toBe(204);
    expect(eu.headers.get("access-control-allow-origin")).toBe(STUDIO_EU);
    expect(eu.headers.get("access-control-allow-private-network")).toBeNull();
  });

  it("gives a disallowed origin no CORS or private network header at all", async () => {
    for (const origin of ["https://evil.example", "https://smith.langchain.com.evil.example", "http://smith.langchain.com"]) {
      const response = await preflight(server.baseUrl, "/threads/search", origin);
      expect(response.headers.get("access-control-allow-origin")).toBeNull();
      expect(response.headers.get("access-control-allow-private-network")).toBeNull();
      expect(response.headers.get("access-control-allow-headers")).toBeNull();
      expect(response.headers.get("access-control-allow-methods")).toBeNull();
      // Not even a read starts from a foreign page (see same-site.ts); the refusal is unreadable to it.
      const simple = await fetch(`${server.baseUrl}/info`, { headers: { origin } });
      expect(simple.status).toBe(403);
      expect(simple.headers.get("access-control-allow-origin")).toBeNull();
      expect(simple.headers.get("vary")).toMatch(/origin/i);
    }
  });

  it("answers preflights without a key when API keys are on, and lets the browser read the 401 that follows", async () => {
    const response = await preflight(keyed.baseUrl, "/assistants/search", STUDIO);
    expect(response.status).toBe(204);
    expect(response.headers.get("access-control-allow-origin")).toBe(STUDIO);
    expect(response.headers.get("access-control-allow-private-network")).toBe("true");
    const unauthenticated = await fetch(`${keyed.baseUrl}/assistants/search`, { method: "POST", headers: { origin: STUDIO, "content-type": "application/json" }, body: "{}" });
    expect(unauthenticated.status).toBe(401);
    expect(unauthenticated.headers.get("access-control-allow-origin")).toBe(STUDIO);
    const authenticated = await fetch(`${keyed.baseUrl}/assistants/search`, { method: "POST", headers: { origin: STUDIO, "content-type": "application/json", "x-api-key": API_KEY }, body: "{}" });
    expect(authenticated.status).toBe(200);
    // A disallowed origin's preflight is not ours to answer: it meets authentication like any request.
    expect((await preflight(keyed.baseUrl, "/assistants/search", "https://evil.example")).status).toBe(401);
  });

  it("exposes the headers clients read on an actual request from Studio", async () => {
    const response = await fetch(`${server.baseUrl}/threads/search`, { method: "POST", headers: { origin: STUDIO, "content-type": "application/json" }, body: JSON.stringify({ limit: 1 }) });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(STUDIO);
    expect(lowerList(response.headers.get("access-control-expose-headers"))).toEqual(
      expect.arrayContaining(["content-location", "location", "x-pagination-next", "x-pagination-total", "x-request-id"]),
    );
    expect(response.headers.get("x-pagination-total")).not.toBeNull();
    expect(response.headers.get("x-request-id")).not.toBeNull();
  });

  it("allows any origin with CORS_ORIGINS=*, echoing it", async () => {
    const open = await startServer(undefined, { env: { CORS_ORIGINS: "*" } });
    try {
      const response = await preflight(open.baseUrl, "/ok", "http://localhost:5173", "GET");
      expect(response.headers.get("access-control-allow-origin")).toBe("http://localhost:5173");
      expect(response.headers.get("access-control-allow-private-network")).toBe("true");
    } finally {
      await open.close();
    }
  });
});

/** One SSE event as sent. */
interface SseEvent {
  id?: string;
  event: string;
  data: unknown;
}

const parseSse = (text: string): SseEvent[] =>
  text
    .split("\n\n")
    .filter((frame) => frame.trim() !== "")
    .map((frame) => {
      const fields = Object.fromEntries(frame.split("\n").map((line) => [line.slice(0, line.indexOf(":")), line.slice(line.indexOf(":") + 1).trimStart()]));
      return { id: fields.id, event: fields.event ?? "message", data: fields.data === undefined ? undefined : JSON.parse(fields.data) };
    });

type WireMessage = { type: string; content: unknown; id?: string };
interface WireState {
  values: { messages?: WireMessage[] };
  next: string[];
  checkpoint: { checkpoint_id: string; checkpoint_ns: string; thread_id: string } | null;
  parent_checkpoint: { checkpoint_id: string } | null;
  metadata: Record<string, unknown>;
}
const texts = (values: { messages?: WireMessage[] }) => (values.messages ?? []).map((message) => [message.type, typeof message.content === "string" ? message.content : JSON.stringify(message.content)]);

describe("the calls Studio makes", () => {
  let stub: OpenAiStub;
  let server: TestServer;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub);
  });
  afterAll(async () => {
    await server.close();
    await stub.close();
  });
  beforeEach(() => stub.reset());

  /** A call as Studio makes it from the browser: it must succeed and be readable cross-origin. */
  const studio = async (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) => {
    const response = await server.request(path, { ...init, headers: { origin: STUDIO, ...init.headers } });
    expect(response.headers.get("access-control-allow-origin"), `${init.method ?? "GET"} ${path}`).toBe(STUDIO);
    return response;
  };
  /** Studio's run body: its stream modes and flags, as the browser sends them. */
  const studioRun = (content: string, extra: Record<string, unknown> = {}) => ({
    assistant_id: ASSISTANT_ID,
    input: { messages: [{ type: "human", content: [{ type: "text", text: content }], id: crypto.randomUUID() }] },
    config: { configurable: {}, recursion_limit: 25 },
    context: {},
    metadata: {},
    stream_mode: ["values", "messages-tuple", "updates", "debug", "tasks", "checkpoints", "custom"],
    stream_subgraphs: true,
    stream_resumable: true,
    on_disconnect: "continue",
    multitask_strategy: "rollback",
    interrupt_before: [],
    interrupt_after: [],
    checkpoint: null,
    feedback_keys: [],
    langsmith_tracer: { project_name: "studio" },
    ...extra,
  });
  const stream = async (threadId: string, body: unknown) => {
    const response = await fetch(`${server.baseUrl}/threads/${threadId}/runs/stream`, {
      method: "POST",
      headers: { origin: STUDIO, "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get("access-control-allow-origin")).toBe(STUDIO);
    expect(response.headers.get("content-location")).toMatch(new RegExp(`^/threads/${threadId}/runs/[0-9a-f-]{36}$`));
    return parseSse(await response.text());
  };

  it("opens the graph: info, assistants, graph with xray, schemas, subgraphs, versions", async () => {
    const info = await studio("/info");
    expect(info.body).toMatchObject({ flags: { assistants: true, crons: true } });

    // Studio's first search, as it sends it.
    const assistants = await studio("/assistants/search", { body: { limit: 10, offset: 0, metadata: { created_by: "system" } } });
    expect(assistants.body).toEqual([expect.objectContaining({ assistant_id: ASSISTANT_ID, graph_id: "agent", metadata: { created_by: "system" } })]);
    expect((await studio("/assistants/search", { body: { graph_id: "agent", limit: 100, offset: 0 } })).body).toHaveLength(1);
    expect((await studio("/assistants/count", { body: { graph_id: "agent" } })).body).toBe(1);
    expect((await studio(`/assistants/${ASSISTANT_ID}`)).body).toMatchObject({ assistant_id: ASSISTANT_ID, config: {}, version: 1 });

    for (const xray of ["true", "1", "2"]) {
      const graph = (await studio(`/assistants/${ASSISTANT_ID}/graph?xray=${xray}`)).body as { nodes: { id: string }[]; edges: { source: string; target: string }[] };
      // Runs in summary memory mode (MEMORY_MODE, or configurable.memory_mode) take the summarize path.
      expect(graph.nodes.map((node) => node.id)).toEqual(["__start__", "trim", "summarize", "model", "tools", "__end__"]);
      const edges = graph.edges.map((edge) => `${edge.source} -> ${edge.target}`);
      expect(edges.sort()).toEqual(["__start__ -> trim", "model -> __end__", "model -> tools", "summarize -> model", "tools -> trim", "trim -> model", "trim -> summarize"]);
    }
    // A depth is a depth: "2" must not be read as the flag "false".
    expect(parseInput(GraphQuery, { xray: "2" }, "query")).toEqual({ xray: 2 });
    expect(parseInput(GraphQuery, { xray: "true" }, "query")).toEqual({ xray: true });

    const schemas = (await studio(`/assistants/${ASSISTANT_ID}/schemas`)).body as Record<string, { properties?: Record<string, unknown> }>;
    expect(Object.keys(schemas)).toEqual(expect.arrayContaining(["graph_id", "input_schema", "output_schema", "state_schema", "config_schema", "context_schema"]));
    expect(Object.keys(schemas.input_schema!.properties!)).toEqual(["messages"]);
    expect(Object.keys(schemas.state_schema!.properties!)).toEqual(["messages", "windowStart"]);
    expect(Object.keys(schemas.config_schema!.properties!)).toEqual([
      "system_prompt",
      "model",
      "temperature",
      "max_tokens",
      "context_tokens",
      "memory_mode",
      "summary_tokens",
      "collection_id",
    ]);
    // What Studio renders as the form: a title, a type, a description and the value used when unset.
    for (const property of Object.values(schemas.config_schema!.properties!)) {
      expect(property).toEqual(expect.objectContaining({ title: expect.any(String), type: expect.any(String), description: expect.any(String) }));
    }
    expect(schemas.context_schema).toEqual(schemas.config_schema);

    expect((await studio(`/assistants/${ASSISTANT_ID}/subgraphs?recurse=true`)).body).toEqual({});
    expect((await studio(`/assistants/${ASSISTANT_ID}/versions`, { body: { limit: 10, offset: 0 } })).body).toEqual([expect.objectContaining({ version: 1 })]);
    expect((await studio(`/assistants/${ASSISTANT_ID}/latest`, { body: { version: 1 } })).body).toMatchObject({ assistant_id: ASSISTANT_ID, version: 1 });
    expect((await studio(`/assistants/${ASSISTANT_ID}/latest`, { body: { version: 2 } })).status).toBe(404);
  });

  it("chats in a new thread, lists it with its values, and shows its state and history", async () => {
    const created = await studio("/threads", { body: { metadata: { graph_id: "agent" } } });
    const threadId = (created.body as { thread_id: string }).thread_id;

    const events = await stream(threadId, studioRun("My name is Ada"));
    const names = events.map((event) => event.event);
    expect(names[0]).toBe("metadata");
    expect(events[0]!.data).toMatchObject({ thread_id: threadId });
    expect(names).toEqual(expect.arrayContaining(["values", "messages", "updates", "debug", "tasks", "checkpoints"]));
    expect(names).not.toContain("error");
    // Resumable: every event has an id to resume after.
    expect(events.every((event) => event.id !== undefined)).toBe(true);
    const tokens = events.filter((event) => event.event === "messages").map((event) => (event.data as [{ content: string }, { langgraph_node: string }]));
    expect(tokens.map(([chunk]) => chunk.content).join("")).toBe("Nice to meet you, Ada!");
    expect(tokens.every(([, metadata]) => metadata.langgraph_node === "model")).toBe(true);
    const updates = events.filter((event) => event.event === "updates").map((event) => Object.keys(event.data as object));
    expect(updates).toEqual([["trim"], ["model"]]);
    const lastValues = events.filter((event) => event.event === "values").at(-1)!.data as WireState["values"];
    expect(texts(lastValues)).toEqual([
      ["human", JSON.stringify([{ type: "text", text: "My name is Ada" }])],
      ["ai", "Nice to meet you, Ada!"],
    ]);

    // The thread list, as Studio asks for it: this graph's threads, newest first, with values.
    const listed = await studio("/threads/search", { body: { limit: 10, offset: 0, metadata: { graph_id: "agent" }, sort_by: "updated_at", sort_order: "desc" } });
    const thread = (listed.body as { thread_id: string; status: string; values: WireState["values"] }[]).find((item) => item.thread_id === threadId);
    expect(thread).toMatchObject({ status: "idle" });
    expect(texts(thread!.values).at(-1)).toEqual(["ai", "Nice to meet you, Ada!"]);
    expect((await studio(`/threads/${threadId}`)).body).toMatchObject({ thread_id: threadId, metadata: { graph_id: "agent", assistant_id: ASSISTANT_ID } });

    const state = (await studio(`/threads/${threadId}/state?subgraphs=true`)).body as WireState;
    expect(state.next).toEqual([]);
    expect(state.checkpoint).toMatchObject({ thread_id: threadId, checkpoint_ns: "" });
    expect(texts(state.values)).toHaveLength(2);

    await stream(threadId, studioRun("What is my name?"));
    const history = (await studio(`/threads/${threadId}/history`, { body: { limit: 1000 } })).body as WireState[];
    expect(history.length).toBeGreaterThanOrEqual(2);
    for (const [index, entry] of history.entries()) {
      expect(entry.checkpoint).toMatchObject({ thread_id: threadId, checkpoint_id: expect.any(String) });
      // Newest first, each pointing at the one after it in the list.
      if (index + 1 < history.length) expect(entry.parent_checkpoint?.checkpoint_id).toBe(history[index + 1]!.checkpoint!.checkpoint_id);
    }
    expect(texts(history[0]!.values).at(-1)).toEqual(["ai", "Your name is Ada."]);
    expect((await studio(`/threads/${threadId}/history`, { body: { limit: 1, before: history[0]!.checkpoint!.checkpoint_id } })).body).toEqual([history[1]]);
    expect((await studio(`/threads/${threadId}/runs?limit=10&offset=0`)).body).toEqual([
      expect.objectContaining({ status: "success", assistant_id: ASSISTANT_ID }),
      expect.objectContaining({ status: "success" }),
    ]);
  });

  it("edits a message and reruns from the fork, renames and copies the thread", async () => {
    const threadId = ((await studio("/threads", { body: {} })).body as { thread_id: string }).thread_id;
    await stream(threadId, studioRun("My name is Ada"));
    const [latest] = (await studio(`/threads/${threadId}/history`, { body: { limit: 10 } })).body as WireState[];

    // Studio's edit: the human message rewritten in place, written on the checkpoint it was read from.
    const [human] = latest!.values.messages!;
    const edit = await studio(`/threads/${threadId}/state`, {
      body: { values: { messages: [{ ...human, content: "My name is Grace" }] }, checkpoint: latest!.checkpoint, as_node: "model" },
    });
    expect(edit.status).toBe(200);
    const forkPoint = (edit.body as { checkpoint: { checkpoint_id: string } }).checkpoint;
    const rerun = await stream(threadId, studioRun("What is my name?", { checkpoint: { ...forkPoint, checkpoint_ns: "" } }));
    const reply = rerun.filter((event) => event.event === "values").at(-1)!.data as WireState["values"];
    expect(texts(reply).at(-1)).toEqual(["ai", "Your name is Grace."]);

    const renamed = await studio(`/threads/${threadId}`, { method: "PATCH", body: { metadata: { title: "Grace" } } });
    expect(renamed.body).toMatchObject({ metadata: { title: "Grace" } });
    const copy = (await studio(`/threads/${threadId}/copy`, { body: {} })).body as { thread_id: string; values: WireState["values"] };
    expect(copy.thread_id).not.toBe(threadId);
    expect(texts(copy.values)).toEqual(texts(reply));
  });

  it("pauses before a node, resumes with a null input, and cancels a running run", async () => {
    const threadId = ((await studio("/threads", { body: {} })).body as { thread_id: string }).thread_id;
    await stream(threadId, studioRun("My name is Ada", { interrupt_before: ["model"] }));
    const paused = (await studio(`/threads/${threadId}/state`)).body as WireState;
    expect(paused.next).toEqual(["model"]);
    expect((await studio(`/threads/${threadId}`)).body).toMatchObject({ status: "interrupted" });
    const resumed = await stream(threadId, studioRun("", { input: null }));
    expect(texts(resumed.filter((event) => event.event === "values").at(-1)!.data as WireState["values"]).at(-1)).toEqual(["ai", "Nice to meet you, Ada!"]);

    // Studio's Stop button: cancel the run it is streaming.
    stub.delayEveryReply(5000);
    const started = await studio(`/threads/${threadId}/runs`, { body: studioRun("Tell me a long story", { stream_mode: ["values"] }) });
    const runId = (started.body as { run_id: string }).run_id;
    await until(async () => stub.requests.length === 1);
    expect((await studio(`/threads/${threadId}/runs/${runId}/cancel?wait=1&action=interrupt`, { body: {} })).status).toBe(204);
    expect((await studio(`/threads/${threadId}/runs/${runId}`)).body).toMatchObject({ status: "interrupted" });
    const after = (await studio(`/threads/${threadId}/state`)).body as WireState;
    expect(texts(after.values).at(-1)).toEqual(["human", JSON.stringify([{ type: "text", text: "Tell me a long story" }])]);
  });

  it("finds the memory tab empty, stores, finds and deletes an item, and lists no crons before one is made", async () => {
    expect((await studio("/store/namespaces", { body: { limit: 100, offset: 0 } })).body).toEqual({ namespaces: [] });
    expect((await studio("/store/items/search", { body: { namespace_prefix: ["memories"], limit: 10, offset: 0 } })).body).toEqual({ items: [] });
    expect(await studio("/store/items?namespace=memories&key=profile")).toMatchObject({ status: 200, body: null });
    const put = await studio("/store/items", { method: "PUT", body: { namespace: ["memories"], key: "profile", value: { name: "Ada" } } });
    expect(put.status).toBe(204);
    expect((await studio("/store/namespaces", { body: { limit: 100, offset: 0 } })).body).toEqual({ namespaces: [["memories"]] });
    expect(await studio("/store/items?namespace=memories&key=profile")).toMatchObject({ status: 200, body: { namespace: ["memories"], key: "profile", value: { name: "Ada" } } });
    expect((await studio("/store/items", { method: "DELETE", body: { namespace: ["memories"], key: "profile" } })).status).toBe(204);
    expect((await studio("/store/items/search", { body: { namespace_prefix: ["memories"], limit: 10, offset: 0 } })).body).toEqual({ items: [] });
    expect((await studio("/store/items/search", { body: { namespace_prefix: "memories" } })).status).toBe(422);

    // Crons (tests/server/crons.test.ts has the rest): Studio's list, empty until one is made.
    expect((await studio("/runs/crons/search", { body: { assistant_id: ASSISTANT_ID, limit: 10, offset: 0 } })).body).toEqual([]);
    expect((await studio("/runs/crons/count", { body: {} })).body).toBe(0);
    expect((await studio(`/runs/crons/${crypto.randomUUID()}`, { method: "DELETE" })).status).toBe(404);
  });

  it("streams through the SDK with Studio's modes and subgraphs on", async () => {
    const thread = await server.client.threads.create();
    const seen: string[] = [];
    for await (const part of server.client.runs.stream(thread.thread_id, "agent", {
      input: { messages: [{ role: "user", content: "My name is Ada" }] },
      streamMode: ["values", "messages-tuple", "updates", "debug"],
      streamSubgraphs: true,
      streamResumable: true,
      multitaskStrategy: "rollback",
    })) {
      seen.push(part.event);
    }
    expect(seen[0]).toBe("metadata");
    expect(new Set(seen)).toEqual(new Set(["metadata", "values", "messages", "updates", "debug"]));
  });
});
