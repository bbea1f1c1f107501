/**
 * Requests an attacker sends: input shaped to break the readers behind the edge (NUL characters,
 * JSON nested thousands deep, objects with thousands of keys), and, with no API keys, requests
 * from foreign web pages (cross-site POSTs, DNS rebinding). Each must be refused with a clear 4xx
 * `{"detail"}`, on both backends, and leave everything stored as it was.
 */
import { request as httpRequest } from "node:http";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";

type Reply = Awaited<ReturnType<TestServer["request"]>>;

/** Asserts a refusal: `status`, a JSON `{"detail"}` matching `pattern`, never a 500. */
function expectRefused(reply: Reply, status: number, pattern: RegExp): void {
  expect(reply.status, JSON.stringify(reply.body).slice(0, 300)).toBe(status);
  expect(reply.headers.get("content-type") ?? "").toMatch(/^application\/json/);
  expect((reply.body as { detail?: unknown }).detail).toMatch(pattern);
}

/** JSON text of `{"metadata": {"a": <value nested depth deep>}}` built as text: no recursive serialiser needed. */
const deeplyNested = (depth: number, open: string, close: string) => `{"metadata":{"a":${open.repeat(depth)}1${close.repeat(depth)}}}`;
const manyKeys = (count: number) => Object.fromEntries(Array.from({ length: count }, (_, index) => [`key${index}`, "value"]));

describe.each(await testBackends())("hostile input on %s", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  let threadId: string;
  let collectionId: string;

  /** What must not change: the thread's messages and metadata, the number of threads and documents, model calls. */
  const snapshot = async () => ({
    state: (await server.request(`/threads/${threadId}/state`)).body,
    thread: ((await server.request(`/threads/${threadId}`)).body as { metadata: unknown }).metadata,
    threads: (await server.request("/threads/count", { body: {} })).body,
    documents: (await server.request(`/collections/${collectionId}/documents`)).body,
    modelCalls: stub.requests.length,
  });
  let baseline: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { backend });
    threadId = ((await server.request("/threads", { body: { metadata: { purpose: "hostile" } } })).body as { thread_id: string }).thread_id;
    expect((await server.request(`/threads/${threadId}/runs/wait`, { body: { assistant_id: "agent", input: { messages: [{ role: "user", content: "My name is Ada" }] } } })).status).toBe(200);
    collectionId = ((await server.request("/collections", { body: { name: "handbook" } })).body as { collection_id: string }).collection_id;
    baseline = await snapshot();
  });

  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });

  afterEach(async () => {
    expect(await snapshot()).toEqual(baseline);
  });

  describe("NUL characters get the same 422 on both backends", () => {
    const NUL = "a\u0000b";
    it.each([
      ["POST", "/threads", { metadata: { note: NUL } }],
      ["POST", "/threads", { metadata: { [NUL]: "key" } }],
      ["PATCH", "/threads/:thread", { metadata: { note: NUL } }],
      ["POST", "/threads/:thread/runs/wait", { assistant_id: "agent", input: { messages: [{ role: "user", content: NUL }] } }],
      ["POST", "/threads/:thread/runs/wait", { assistant_id: "agent", metadata: { note: NUL }, input: { messages: [{ role: "user", content: "hi" }] } }],
      ["POST", "/threads/:thread/state", { values: { messages: [{ role: "user", content: NUL }] } }],
      ["POST", "/threads/search", { metadata: { note: NUL } }],
      ["POST", "/collections", { name: NUL }],
      ["POST", "/collections/:collection/documents", { source: NUL, content: "text" }],
      ["POST", "/collections/:collection/documents", { source: "notes.txt", content: NUL }],
      ["POST", "/collections/:collection/search", { query: NUL }],
    ])("%s %s %j", async (method, path, body) => {
      const reply = await server.request(path.replace(":thread", threadId).replace(":collection", collectionId), { method, body });
      expectRefused(reply, 422, /must not contain NUL characters/);
    });

    it("in a query string", async () => {
      expectRefused(await server.request("/collections?limit=1%00"), 422, /NUL/);
    });
  });

  describe("deep nesting and huge objects are a 422, never a 500", () => {
    it.each([
      ["objects nested 5,000 deep", deeplyNested(5000, '{"b":', "}")],
      ["arrays nested 100,000 deep", deeplyNested(100_000, "[", "]")],
    ])("%s in thread metadata", async (_name, raw) => {
      expectRefused(await server.request("/threads", { raw }), 422, /nested more than 64 levels deep/);
    });

    it("arrays nested 100,000 deep in a run's input", async () => {
      const raw = `{"assistant_id":"agent","input":{"messages":[{"role":"user","content":"hi","additional_kwargs":{"x":${"[".repeat(100_000)}${"]".repeat(100_000)}}}]}}`;
      expectRefused(await server.request(`/threads/${threadId}/runs/wait`, { raw }), 422, /nested more than 64 levels deep/);
    });

    it("a metadata filter of 20,000 keys", async () => {
      expectRefused(await server.request("/threads/search", { body: { metadata: manyKeys(20_000) } }), 422, /more than 1000 keys/);
    });

    it.each(["/threads/search", "/threads/count"])("a metadata filter of 1,000 keys on %s (past the filter limit)", async (path) => {
      expectRefused(await server.request(path, { body: { metadata: manyKeys(1000) } }), 422, /at most 100 keys/);
    });

    it("still takes a filter of 100 keys and metadata nested 60 deep", async () => {
      const search = await server.request("/threads/search", { body: { metadata: manyKeys(100) } });
      expect(search.status).toBe(200);
      expect(search.body).toEqual([]);
      const nested = await server.request("/threads/count", { raw: `{"metadata":{"a":${"[".repeat(60)}${"]".repeat(60)}}}` });
      expect(nested.status).toBe(200);
      expect(nested.body).toBe(0);
    });
  });
});

/** A request with headers `fetch` will not send as given (`Host`). */
function rawRequest(baseUrl: string, path: string, options: { method?: string; headers: Record<string, string>; body?: string }): Promise<{ status: number; body: unknown }> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const outgoing = httpRequest(url, { method: options.method ?? "GET", headers: options.headers }, (response) => {
      let text = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (text += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body: text === "" ? undefined : JSON.parse(text) }));
    });
    outgoing.on("error", reject);
    outgoing.end(options.body);
  });
}

describe("foreign web pages, with no API keys", () => {
  let stub: OpenAiStub;
  let server: TestServer;
  let open: TestServer;
  const EVIL = "https://evil.example";
  const STUDIO = "https://smith.langchain.com";

  const threadCount = async (target: TestServer) => (await target.request("/threads/count", { body: {} })).body as number;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { env: { ALLOWED_HOSTS: "agent.example.test" } });
    open = await startServer(stub, { env: { ALLOWED_HOSTS: "*", CORS_ORIGINS: "*" } });
  });

  afterAll(async () => {
    await server?.close();
    await open?.close();
    await stub?.close();
  });

  it("refuses a cross-site text/plain POST (no preflight needed) and creates nothing", async () => {
    const before = await threadCount(server);
    const reply = await server.request("/threads", { raw: "{}", headers: { "content-type": "text/plain", origin: EVIL } });
    expectRefused(reply, 403, /Cross-site request from https:\/\/evil\.example refused; add its origin to CORS_ORIGINS/);
    expect(await threadCount(server)).toBe(before);
  });

  it("refuses a run with a webhook started from a foreign page: no model call, no run", async () => {
    const before = await threadCount(server);
    const calls = stub.requests.length;
    const reply = await server.request("/runs/wait", {
      raw: JSON.stringify({ assistant_id: "agent", webhook: "http://127.0.0.1:9/hook", input: { messages: [{ role: "user", content: "hi" }] } }),
      headers: { "content-type": "text/plain", "sec-fetch-site": "cross-site" },
    });
    expectRefused(reply, 403, /Cross-site request from a cross-site page refused/);
    expect(stub.requests.length).toBe(calls);
    expect(await threadCount(server)).toBe(before);
  });

  it("refuses state writes from a same-site but other-origin page (another port on localhost)", async () => {
    const reply = await server.request("/threads", { body: {}, headers: { origin: "http://127.0.0.1:3000" } });
    expectRefused(reply, 403, /Cross-site request from http:\/\/127\.0\.0\.1:3000/);
  });

  it("refuses a foreign page's reads too, but still serves a plain navigation to the chat page", async () => {
    expectRefused(await server.request("/threads/search", { body: {}, headers: { origin: EVIL } }), 403, /Cross-site/);
    const page = await fetch(`${server.baseUrl}/`, { headers: { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
  });

  it("serves its own pages, LangGraph Studio and non-browser clients", async () => {
    const own = await server.request("/threads", { body: {}, headers: { origin: server.baseUrl, "sec-fetch-site": "same-origin" } });
    expect(own.status).toBe(200);
    const studio = await server.request("/threads/search", { body: {}, headers: { origin: STUDIO, "sec-fetch-site": "cross-site" } });
    expect(studio.status).toBe(200);
    expect(studio.headers.get("access-control-allow-origin")).toBe(STUDIO);
    // curl and the SDKs send no Origin; text/plain bodies are still read as JSON for them.
    const curl = await server.request("/threads", { raw: "{}", headers: { "content-type": "text/plain" } });
    expect(curl.status).toBe(200);
  });

  it("requires JSON bodies from browsers, even from its own origin", async () => {
    const reply = await server.request("/threads", { raw: "{}", headers: { "content-type": "text/plain", origin: server.baseUrl } });
    expectRefused(reply, 403, /must send request bodies as JSON/);
  });

  it("refuses a Host it does not serve (DNS rebinding), and serves IPs, localhost and ALLOWED_HOSTS", async () => {
    const port = new URL(server.baseUrl).port;
    const rebound = await rawRequest(server.baseUrl, "/threads/search", {
      method: "POST",
      headers: { host: `attacker.example:${port}`, origin: `http://attacker.example:${port}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(rebound.status).toBe(403);
    expect((rebound.body as { detail: string }).detail).toMatch(/Host "attacker\.example:\d+" is not one this server answers; add its name to ALLOWED_HOSTS/);
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `agent.example.test:${port}`, `AGENT.example.test.:${port}`]) {
      const reply = await rawRequest(server.baseUrl, "/threads/count", { method: "POST", headers: { host, "content-type": "application/json" }, body: "{}" });
      expect(reply.status, host).toBe(200);
    }
    // ALLOWED_HOSTS=* and CORS_ORIGINS=* turn both checks off.
    const anywhere = await rawRequest(open.baseUrl, "/threads", { method: "POST", headers: { host: "attacker.example", origin: EVIL, "content-type": "application/json" }, body: "{}" });
    expect(anywhere.status).toBe(200);
  });

  it("does not check Host when API keys are on and ALLOWED_HOSTS is unset (a rebinding page has no key)", async () => {
    const keyed = await startServer(stub, { env: { API_KEYS: "ada:ada-key-0123456789abcdef" } });
    try {
      const reply = await rawRequest(keyed.baseUrl, "/threads/count", {
        method: "POST",
        headers: { host: "agent.internal", "content-type": "application/json", "x-api-key": "ada-key-0123456789abcdef" },
        body: "{}",
      });
      expect(reply.status).toBe(200);
    } finally {
      await keyed.close();
    }
  });
});
