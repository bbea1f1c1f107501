/** API keys: who may call, and whose threads each owner sees. */
import { Client } from "@langchain/langgraph-sdk";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config.js";
import { ConfigError } from "../../src/errors.js";
import { apiKeys, ownerOfKey } from "../../src/server/auth.js";
import { makeTempDir, removeDir } from "../support/fixtures.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";

const ALICE = "alice-key-0123456789abcdef";
const BOB = "bob-key-fedcba9876543210xyz";
let stub: OpenAiStub;
let server: TestServer;
let alice: Client;
let bob: Client;

beforeAll(async () => {
  stub = await startOpenAiStub();
  server = await startServer(stub, { env: { API_KEYS: `alice:${ALICE},bob:${BOB}` }, captureLogs: true });
  alice = new Client({ apiUrl: server.baseUrl, apiKey: ALICE, callerOptions: { maxRetries: 0 } });
  bob = new Client({ apiUrl: server.baseUrl, defaultHeaders: { authorization: `Bearer ${BOB}` }, apiKey: null, callerOptions: { maxRetries: 0 } });
});
afterAll(async () => {
  await server.close();
  await stub.close();
});

const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe("API keys", () => {
  it("leaves /ok open and asks for a key everywhere else", async () => {
    expect((await server.request("/ok")).status).toBe(200);
    for (const path of ["/info", "/threads/search", "/assistants/search", "/openapi.json"]) {
      const response = await server.request(path, path.endsWith("search") ? { body: {} } : {});
      expect(response.status).toBe(401);
      expect(response.body).toEqual({ detail: "Missing API key: send Authorization: Bearer <key> or x-api-key: <key>" });
      expect(response.headers.get("www-authenticate")).toContain("Bearer");
    }
    const wrong = await server.request("/threads/search", { body: {}, headers: { "x-api-key": "not-a-key-at-all-000000" } });
    expect(wrong).toMatchObject({ status: 401, body: { detail: "Invalid API key" } });
    const wrongBearer = await server.request("/threads/search", { body: {}, headers: { authorization: `Bearer ${ALICE}x` } });
    expect(wrongBearer.status).toBe(401);
    // A rejected request stores nothing.
    expect((await server.request("/threads", { body: {}, headers: { "x-api-key": "nope" } })).status).toBe(401);
    expect(await alice.threads.count()).toBe(0);
  });

  it("scopes threads to their owner: others get 404, and search and count see only their own", async () => {
    const mine = await alice.threads.create({ metadata: { title: "alice's" } });
    await alice.runs.wait(mine.thread_id, "agent", { input: user("My name is Alice") });
    const theirs = await bob.threads.create({ metadata: { title: "bob's" } });

    await expect(bob.threads.get(mine.thread_id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.threads.getState(mine.thread_id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.threads.getHistory(mine.thread_id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.threads.update(mine.thread_id, { metadata: { title: "stolen" } })).rejects.toMatchObject({ status: 404 });
    await expect(bob.threads.updateState(mine.thread_id, { values: { messages: [{ type: "human", content: "hi" }] } })).rejects.toMatchObject({ status: 404 });
    await expect(bob.threads.copy(mine.thread_id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.runs.wait(mine.thread_id, "agent", { input: user("What is my name?") })).rejects.toMatchObject({ status: 404 });
    await expect(bob.runs.wait(mine.thread_id, "agent", { input: user("x"), ifNotExists: "create" })).rejects.toMatchObject({ status: 404 });
    await expect(bob.runs.list(mine.thread_id)).rejects.toMatchObject({ status: 404 });
    const [aliceRun] = await alice.runs.list(mine.thread_id);
    await expect(bob.runs.get(mine.thread_id, aliceRun!.run_id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.runs.join(mine.thread_id, aliceRun!.run_id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.runs.cancel(mine.thread_id, aliceRun!.run_id)).rejects.toMatchObject({ status: 404 });
    await expect(bob.threads.delete(mine.thread_id)).rejects.toMatchObject({ status: 404 });

    expect((await bob.threads.search()).map((thread) => thread.thread_id)).toEqual([theirs.thread_id]);
    expect(await bob.threads.count()).toBe(1);
    expect((await alice.threads.search()).map((thread) => thread.thread_id)).toEqual([mine.thread_id]);
    // Alice's thread is untouched by all of that.
    const state = await alice.threads.getState(mine.thread_id);
    expect((state.values as { messages: unknown[] }).messages).toHaveLength(2);
    expect((await alice.threads.get(mine.thread_id)).metadata).toMatchObject({ title: "alice's" });

    // Stateless runs work for anyone with a key, on their own temporary thread.
    expect(((await bob.runs.wait(null, "agent", { input: user("hello") })) as { messages: unknown[] }).messages).toHaveLength(2);
  });

  it("never writes a key into the logs", async () => {
    await server.request("/threads/search", { body: {}, headers: { "x-api-key": ALICE } });
    await server.request("/threads/search", { body: {}, headers: { authorization: `Bearer ${BOB}` } });
    await server.request("/threads/search", { body: {}, headers: { "x-api-key": "wrong-key-but-still-secret" } });
    const text = server.logs.join("\n");
    expect(server.logs.length).toBeGreaterThan(3);
    for (const secret of [ALICE, BOB, "wrong-key-but-still-secret"]) expect(text).not.toContain(secret);
    // The logs do say who asked, and carry request ids.
    expect(server.logs.some((line) => line.includes('"owner":"alice"'))).toBe(true);
    expect(server.logs.every((line) => !line.includes('"req"') || /"id":"[^"]+"/.test(line))).toBe(true);
  });

  it("answers with security headers and a request id", async () => {
    const response = await fetch(`${server.baseUrl}/ok`, { headers: { "x-request-id": "trace-123" } });
    expect(response.headers.get("x-request-id")).toBe("trace-123");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("x-frame-options")).toBe("SAMEORIGIN");
    expect(response.headers.get("strict-transport-security")).toContain("max-age");
    const generated = await fetch(`${server.baseUrl}/ok`, { headers: { "x-request-id": "bad id with spaces" } });
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe("API key configuration", () => {
  it("reads owner:key pairs from API_KEYS or from a file", () => {
    const dir = makeTempDir();
    try {
      const file = join(dir, "keys.txt");
      writeFileSync(file, `# team keys\nalice:${ALICE}\n\nbob:${BOB}\n`);
      expect(loadConfig({ API_KEYS_FILE: file }).apiKeys).toEqual([
        { owner: "alice", key: ALICE },
        { owner: "bob", key: BOB },
      ]);
      expect(loadConfig({ API_KEYS: `alice:${ALICE}` }).apiKeys).toEqual([{ owner: "alice", key: ALICE }]);
      expect(loadConfig({}).apiKeys).toBeUndefined();
    } finally {
      removeDir(dir);
    }
  });

  it.each([
    [{ API_KEYS: "alice" }, /API_KEYS: entry 1 must be owner:key/],
    [{ API_KEYS: "alice:short" }, /at least 16 characters/],
    [{ API_KEYS: `alice:${ALICE},bob:${ALICE}` }, /a key is listed twice/],
    [{ API_KEYS_FILE: "/nonexistent/keys" }, /API_KEYS_FILE: .* does not exist/],
    [{ API_KEYS: `alice:${ALICE}`, API_KEYS_FILE: "/x" }, /not both/],
  ])("refuses %o without echoing a key", (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
    try {
      loadConfig(env);
    } catch (error) {
      expect((error as Error).message).not.toContain(ALICE);
    }
  });

  it("finds the owner of a key and no owner for anything else", () => {
    const keys = apiKeys([
      { owner: "alice", key: ALICE },
      { owner: "bob", key: BOB },
    ]);
    expect(ownerOfKey(keys, ALICE)).toBe("alice");
    expect(ownerOfKey(keys, BOB)).toBe("bob");
    expect(ownerOfKey(keys, `${ALICE} `)).toBeUndefined();
    expect(ownerOfKey(keys, "")).toBeUndefined();
  });
});
