/**
 * What the server logs for HTTP requests, as an operator reads it: at the default level one short
 * line per request (method, path, status, duration, request id, owner), the headers only at
 * debug (credentials redacted), nothing for `/ok`, the request id on every line a request writes,
 * and coloured lines for a terminal.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";

const ALICE = "alice-key-0123456789abcdef";
const KEYS = { API_KEYS: `alice:${ALICE}` };

type Entry = Record<string, unknown> & { level: number; msg: string };
const entries = (server: TestServer): Entry[] => server.logs.map((line) => JSON.parse(line) as Entry);

let stub: OpenAiStub;
beforeAll(async () => {
  stub = await startOpenAiStub();
});
afterAll(() => stub.close());

describe("at the default level (info)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(stub, { env: KEYS, captureLogs: true, logLevel: "info" });
  });
  afterAll(() => server.close());
  afterEach(() => {
    vi.restoreAllMocks();
    server.logs.length = 0;
  });

  it("writes one short line per request, without headers, and nothing for /ok", async () => {
    const search = await server.request("/threads/search?limit=5", { body: {}, headers: { "x-api-key": ALICE, "x-request-id": "trace-search-1" } });
    expect(search.status).toBe(200);
    expect((await fetch(`${server.baseUrl}/ok`)).status).toBe(200);
    const missing = await server.request("/threads/00000000-0000-4000-8000-000000000000", { headers: { "x-api-key": ALICE, "x-request-id": "trace-missing" } });
    expect(missing.status).toBe(404);

    expect(entries(server)).toEqual([
      { level: 30, time: expect.any(Number), pid: expect.any(Number), hostname: expect.any(String), reqId: "trace-search-1", owner: "alice", method: "POST", path: "/threads/search", status: 200, durationMs: expect.any(Number), msg: "request completed" },
      expect.objectContaining({ level: 30, reqId: "trace-missing", method: "GET", path: "/threads/00000000-0000-4000-8000-000000000000", status: 404, owner: "alice" }),
    ]);
    const text = server.logs.join("");
    expect(text).not.toContain(ALICE);
    expect(text).not.toContain("headers");
    expect(text).not.toContain("/ok");
    // A few hundred bytes, where the whole request and response used to take about 1.5 KB.
    for (const line of server.logs) expect(Buffer.byteLength(line)).toBeLessThan(300);
  });

  it("a request refused for its key is logged without an owner, and without the key", async () => {
    await server.request("/threads/search", { body: {}, headers: { "x-api-key": "wrong-key-but-still-secret" } });
    expect(entries(server)).toEqual([expect.objectContaining({ level: 30, method: "POST", path: "/threads/search", status: 401 })]);
    expect(entries(server)[0]).not.toHaveProperty("owner");
    expect(server.logs.join("")).not.toContain("wrong-key-but-still-secret");
  });

  it("a failure is logged with the request's id and owner, and its request line is an error", async () => {
    vi.spyOn(server.deps.storage.threads, "searchThreads").mockRejectedValueOnce(new Error("the disk is on fire"));
    const failed = await server.request("/threads/search", { body: {}, headers: { "x-api-key": ALICE, "x-request-id": "trace-failure" } });
    expect(failed.status).toBe(500);
    const logged = entries(server);
    expect(logged).toEqual([
      expect.objectContaining({ level: 50, reqId: "trace-failure", owner: "alice", msg: "unhandled error", err: expect.objectContaining({ message: "the disk is on fire" }) }),
      expect.objectContaining({ level: 50, reqId: "trace-failure", owner: "alice", method: "POST", path: "/threads/search", status: 500, msg: "request failed" }),
    ]);
    // The error is told once, by the handler; the request line only says it failed.
    expect(logged[1]).not.toHaveProperty("err");
    // Every line the request wrote carries its id, once.
    for (const line of server.logs) expect(line.match(/"reqId"/g)).toHaveLength(1);
  });
});

describe("at debug", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(stub, { env: KEYS, captureLogs: true, logLevel: "debug" });
  });
  afterAll(() => server.close());

  it("also writes each request's headers as it arrives, with the credentials redacted", async () => {
    await server.request("/threads/search", { body: {}, headers: { authorization: `Bearer ${ALICE}`, "x-request-id": "trace-debug", "user-agent": "request-log-test" } });
    await server.request("/threads/search", { body: {}, headers: { "x-api-key": ALICE, "x-request-id": "trace-debug-2" } });
    await fetch(`${server.baseUrl}/ok`);
    // A key in the query (what a browser's WebSocket sends) is not written either.
    await server.request(`/info?api_key=${ALICE}&x=1`, { headers: { "x-api-key": ALICE, "x-request-id": "trace-debug-3" } });
    const logged = entries(server).filter((entry) => entry.msg !== "deleted expired store items");
    expect(logged.map((entry) => [entry.level, entry.reqId, entry.msg])).toEqual([
      [20, "trace-debug", "request received"],
      [30, "trace-debug", "request completed"],
      [20, "trace-debug-2", "request received"],
      [30, "trace-debug-2", "request completed"],
      [20, "trace-debug-3", "request received"],
      [30, "trace-debug-3", "request completed"],
    ]);
    expect(logged[4]?.req).toMatchObject({ method: "GET", url: "/info?api_key=[redacted]&x=1" });
    const headers = (entry: Entry) => (entry.req as { headers: Record<string, string> }).headers;
    expect(headers(logged[0]!)).toMatchObject({ authorization: "[redacted]", "user-agent": "request-log-test" });
    expect(headers(logged[2]!)).toMatchObject({ "x-api-key": "[redacted]" });
    expect(server.logs.join("")).not.toContain(ALICE);
  });
});

describe("for a person at a terminal", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer(stub, { env: KEYS, captureLogs: true, logLevel: "info", prettyLogs: true });
  });
  afterAll(() => server.close());

  it("writes each request as one coloured line that reads as a sentence", async () => {
    await server.request("/threads/search", { body: {}, headers: { "x-api-key": ALICE, "x-request-id": "trace-pretty" } });
    expect(server.logs).toHaveLength(1);
    const line = server.logs[0]!;
    // Colours are ANSI escapes; without them the line reads plainly.
    expect(line).toMatch(/\u001b\[\d+m/);
    const plain = line.replace(/\u001b\[[\d;]*m/g, "");
    expect(plain).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO: POST \/threads\/search 200 \d+ ms \{"reqId":"trace-pretty","owner":"alice"\}\n$/);
  });
});
