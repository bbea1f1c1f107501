/**
 * `GET /metrics` as a Prometheus scraper reads it: counters and histograms that move as runs
 * happen (a success, a provider error, a retry, a streamed run), requests by route pattern,
 * tokens from the provider's usage, storage query times on SQLite and PostgreSQL, the streams
 * open, and the process's own metrics. With API keys on it needs a key or `METRICS_TOKEN`. Runs
 * log their run and thread ids; scrapes write no request lines at the default level.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";
import { until } from "../support/until.js";
import { userInput as user } from "../support/fixtures.js";

/** One scrape: each sample's value by its name and labels, as written (`name{a="1",b="2"}`). */
type Scrape = Map<string, number>;

/** Parses Prometheus's text format (the lines that are samples). */
function parse(text: string): Scrape {
  const samples: Scrape = new Map();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** The value of `name` with exactly `labels` (in any order); 0 when the series is not there yet. */
function value(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, label]) => `${key}="${label}"`).sort().join(",");
  for (const [series, sample] of scrape) {
    const open = series.indexOf("{");
    const seriesName = open === -1 ? series : series.slice(0, open);
    const seriesLabels = open === -1 ? "" : series.slice(open + 1, -1).split(",").sort().join(",");
    if (seriesName === name && seriesLabels === wanted) return sample;
  }
  return 0;
}

const M = "stateful_agent_";

describe.each(await testBackends())("GET /metrics (%s)", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    // One retry, quickly: a retried call is counted as such.
    server = await startServer(stub, { backend, env: { MODEL_MAX_RETRIES: "1", MODEL_RETRY_BASE_MS: "10" }, captureLogs: true, logLevel: "info" });
  });
  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });
  beforeEach(() => {
    stub.reset();
    server.logs.length = 0;
  });

  const scrape = async (): Promise<Scrape> => {
    const response = await fetch(`${server.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    return parse(await response.text());
  };
  const difference = (before: Scrape, after: Scrape, name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);

  it("counts a successful run: its status, times, tokens, request and storage queries", async () => {
    const thread = await server.client.threads.create();
    const before = await scrape();
    await server.client.runs.wait(thread.thread_id, "agent", { input: user("hello") });
    const after = await scrape();

    expect(difference(before, after, `${M}runs_total`, { status: "success" })).toBe(1);
    expect(difference(before, after, `${M}run_queue_wait_seconds_count`)).toBe(1);
    expect(difference(before, after, `${M}run_duration_seconds_count`, { status: "success" })).toBe(1);
    expect(difference(before, after, `${M}model_call_duration_seconds_count`, { outcome: "success" })).toBe(1);
    // The stub reports 10 prompt tokens, and one completion token per piece of its reply.
    expect(difference(before, after, `${M}model_tokens_total`, { direction: "input" })).toBe(10);
    expect(difference(before, after, `${M}model_tokens_total`, { direction: "output" })).toBeGreaterThan(0);
    // By route pattern, never by path (a thread id would make a series per thread).
    expect(difference(before, after, `${M}http_request_duration_seconds_count`, { method: "POST", route: "/threads/:thread_id/runs/wait", status: "200" })).toBe(1);
    expect([...after.keys()].some((series) => series.includes(thread.thread_id))).toBe(false);
    expect(difference(before, after, `${M}storage_query_duration_seconds_count`, { backend, operation: "statement" })).toBeGreaterThan(0);
    // The process's own metrics come along.
    expect(value(after, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
    expect(after.has("nodejs_eventloop_lag_seconds")).toBe(true);
  });

  it("counts a provider error by kind, the retry it caused and the failed run", async () => {
    const thread = await server.client.threads.create();
    const before = await scrape();
    stub.inject({ kind: "status", status: 500 }, { kind: "status", status: 500 });
    await expect(server.client.runs.wait(thread.thread_id, "agent", { input: user("fail") })).rejects.toThrow(/HTTP 500.*after 2 attempts/);
    const after = await scrape();

    expect(difference(before, after, `${M}runs_total`, { status: "error" })).toBe(1);
    expect(difference(before, after, `${M}runs_total`, { status: "success" })).toBe(0);
    expect(difference(before, after, `${M}model_provider_errors_total`, { kind: "server_error" })).toBe(2);
    expect(difference(before, after, `${M}model_retries_total`, { kind: "server_error" })).toBe(1);
    expect(difference(before, after, `${M}model_call_duration_seconds_count`, { outcome: "error" })).toBe(2);
    expect(difference(before, after, `${M}model_tokens_total`, { direction: "input" })).toBe(0);
  });

  it("counts a rate limit that a retry got past, in a run that succeeded", async () => {
    const thread = await server.client.threads.create();
    const before = await scrape();
    stub.inject({ kind: "status", status: 429, headers: { "retry-after-ms": "10" } });
    await server.client.runs.wait(thread.thread_id, "agent", { input: user("again") });
    const after = await scrape();

    expect(difference(before, after, `${M}model_provider_errors_total`, { kind: "rate_limit" })).toBe(1);
    expect(difference(before, after, `${M}model_retries_total`, { kind: "rate_limit" })).toBe(1);
    expect(difference(before, after, `${M}runs_total`, { status: "success" })).toBe(1);
  });

  it("times a streamed run's first token, and counts its stream while it is open", async () => {
    const thread = await server.client.threads.create();
    const before = await scrape();
    let resume!: () => void;
    stub.inject({ kind: "pause", afterChunks: 3, resume: new Promise<void>((resolve) => (resume = resolve)) });
    const stream = server.client.runs.stream(thread.thread_id, "agent", { input: user("one two three four"), streamMode: "messages-tuple" })[Symbol.asyncIterator]();
    // The reply's first words have reached the client: its stream is open, the model paused.
    for (;;) {
      const { value: part, done } = await stream.next();
      if (done) throw new Error("the stream ended before any token");
      if (part.event === "messages") break;
    }
    const during = await scrape();
    expect(value(during, `${M}active_streams`, { transport: "sse" })).toBe(1);
    expect(difference(before, during, `${M}run_time_to_first_token_seconds_count`)).toBe(1);
    resume();
    for (let next = await stream.next(); !next.done; next = await stream.next());
    await until(async () => value(await scrape(), `${M}active_streams`, { transport: "sse" }) === 0);
    const after = await scrape();
    expect(difference(before, after, `${M}runs_total`, { status: "success" })).toBe(1);
    expect(difference(before, after, `${M}run_time_to_first_token_seconds_count`)).toBe(1);
    // Streamed replies carry their usage too (`stream_options.include_usage`).
    expect(difference(before, after, `${M}model_tokens_total`, { direction: "input" })).toBe(10);
    expect(difference(before, after, `${M}http_request_duration_seconds_count`, { method: "POST", route: "/threads/:thread_id/runs/stream", status: "200" })).toBe(1);
  });

  it("counts a protocol WebSocket while it is open", async () => {
    const socket = new WebSocket(`${server.baseUrl.replace("http", "ws")}/threads/${crypto.randomUUID()}/stream/events`);
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    expect(value(await scrape(), `${M}active_streams`, { transport: "websocket" })).toBe(1);
    socket.close();
    await until(async () => value(await scrape(), `${M}active_streams`, { transport: "websocket" }) === 0);
  });

  it("labels requests no route answered as unmatched", async () => {
    const before = await scrape();
    expect((await fetch(`${server.baseUrl}/no/such/${crypto.randomUUID()}`)).status).toBe(404);
    const after = await scrape();
    expect(difference(before, after, `${M}http_request_duration_seconds_count`, { method: "GET", route: "unmatched", status: "404" })).toBe(1);
  });

  it("logs each run's lines with its run and thread ids, and no request line for scrapes", async () => {
    const thread = await server.client.threads.create();
    stub.inject({ kind: "status", status: 400 });
    await expect(server.client.runs.wait(thread.thread_id, "agent", { input: user("refused") })).rejects.toThrow(/HTTP 400/);
    await server.client.runs.wait(thread.thread_id, "agent", { input: user("fine") });
    await scrape();
    expect((await fetch(`${server.baseUrl}/ready`)).status).toBe(200);
    const lines = server.logs.map((line) => JSON.parse(line) as Record<string, unknown>);
    const runLines = lines.filter((line) => line.msg === "run failed" || line.msg === "run finished");
    expect(runLines.map((line) => line.msg)).toEqual(["run failed", "run finished", "run finished"]);
    for (const line of runLines) expect(line).toMatchObject({ runId: expect.any(String), threadId: thread.thread_id });
    expect(lines.filter((line) => line.path === "/metrics" || line.path === "/ready")).toEqual([]);
  });
});

describe("GET /metrics with API keys on", () => {
  const KEY = "alice-key-0123456789abcdef";
  const TOKEN = "scraper-token-0123456789";
  let stub: OpenAiStub;
  let server: TestServer;
  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { env: { API_KEYS: `alice:${KEY}`, METRICS_TOKEN: TOKEN } });
  });
  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });
  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.baseUrl}${path}`, { headers });

  it("needs a key or the metrics token", async () => {
    const missing = await get("/metrics");
    expect(missing.status).toBe(401);
    expect(await missing.json()).toEqual({ detail: expect.any(String) });
    const wrong = await get("/metrics", { authorization: "Bearer not-the-token-at-all" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ detail: expect.any(String) });

    const withKey = await get("/metrics", { "x-api-key": KEY });
    expect(withKey.status).toBe(200);
    expect(await withKey.text()).toContain(`${M}runs_total`);
    const withToken = await get("/metrics", { authorization: `Bearer ${TOKEN}` });
    expect(withToken.status).toBe(200);
    expect(await withToken.text()).toContain(`${M}http_request_duration_seconds`);
  });

  it("opens nothing but /metrics to the metrics token, and /ready to anyone", async () => {
    expect((await get("/threads/00000000-0000-4000-8000-000000000000", { authorization: `Bearer ${TOKEN}` })).status).toBe(401);
    expect((await get("/info", { authorization: `Bearer ${TOKEN}` })).status).toBe(401);
    expect((await get("/ready")).status).toBe(200);
  });
});
