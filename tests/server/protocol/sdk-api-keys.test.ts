/**
 * The agent streaming protocol behind API keys, through the official SDK and raw requests: an
 * owner's thread is no thread at all to another owner (404 on commands, on the SSE event stream
 * and on the WebSocket upgrade); a WebSocket carries its key as an `x-api-key` header or, as
 * browsers must, as `?api_key=`; without a key everything is refused (401).
 */
import { Client } from "@langchain/langgraph-sdk";
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { testBackends } from "../../support/server.js";
import { useStubAndServer } from "../../support/use-server.js";
import { ALL_CHANNELS, ThreadStreams, messageTexts, readEventStream, startRun, userTurn, webSocketFactory } from "../../support/protocol-client.js";
import { until } from "../../support/until.js";

const ALICE = "alice-key-0123456789abcdef";
const BOB = "bob-key-fedcba9876543210xyz";

/**
 * What the server answers a WebSocket upgrade on `url`: "open", or the HTTP status it refused
 * it with.
 */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<"open" | number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { headers });
    socket.on("open", () => {
      socket.close();
      resolve("open");
    });
    socket.on("unexpected-response", (request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
      request.destroy();
    });
    socket.on("error", reject);
  });
}

describe.each(await testBackends())("on %s", (backend) => {
  const fixture = useStubAndServer(backend, { env: { API_KEYS: `alice:${ALICE},bob:${BOB}` } });
  /** The SDK as each owner configures it for SSE: the key on every request. */
  const clientOf = (key: string | null) => new Client({ apiUrl: fixture.server.baseUrl, apiKey: key, callerOptions: { maxRetries: 0 } });
  // The WebSocket transport takes no client headers (browsers could not send them): its key
  // goes in the socket's factory, so those streams use the server's client, which has none.
  const streams = new ThreadStreams(() => fixture.server.client);
  afterEach(() => streams.closeAll());
  const socketUrl = (threadId: string, query = "") => `${fixture.server.baseUrl.replace("http", "ws")}/threads/${threadId}/stream/events${query}`;

  /** A thread of Alice's with one finished turn, started over SSE with her key. */
  async function alicesThread(): Promise<string> {
    const threadId = randomUUID();
    const thread = streams.open(threadId, "sse", { client: clientOf(ALICE) });
    await startRun(thread, userTurn("alice's own words"));
    expect(messageTexts(await thread.output)).toEqual(["alice's own words", "You said: alice's own words"]);
    return threadId;
  }

  it("hides an owner's thread from another owner: commands, the SSE stream and the WebSocket answer 404", async () => {
    const { server, stub } = fixture;
    const threadId = await alicesThread();

    const bob = streams.open(threadId, "sse", { client: clientOf(BOB) });
    await expect(bob.state.get({ namespace: [] })).rejects.toMatchObject({ status: 404 });
    await expect(startRun(bob, userTurn("let me in"))).rejects.toMatchObject({ status: 404 });
    const command = await server.request(`/threads/${threadId}/commands`, { body: { id: 1, method: "state.get", params: {} }, headers: { "x-api-key": BOB } });
    expect(command.status).toBe(404);
    await expect(readEventStream(server.baseUrl, threadId, { channels: ["values"] }, () => true, { "x-api-key": BOB })).rejects.toMatchObject({ status: 404 });
    expect(await upgrade(socketUrl(threadId), { "x-api-key": BOB })).toBe(404);
    expect(await upgrade(socketUrl(threadId, `?api_key=${BOB}`))).toBe(404);
    const bobSocket = streams.open(threadId, "websocket", { factory: webSocketFactory({ headers: { "x-api-key": BOB } }) });
    await expect(bobSocket.state.get({ namespace: [] })).rejects.toThrow();

    // Nothing of Bob's reached the thread or the model.
    expect(stub.requests).toHaveLength(1);
    expect(messageTexts((await clientOf(ALICE).threads.getState(threadId)).values)).toEqual(["alice's own words", "You said: alice's own words"]);
  });

  it.each([
    ["an x-api-key header", { headers: { "x-api-key": ALICE } }],
    ["?api_key=", { query: { api_key: ALICE } }],
  ])("opens a WebSocket with the key as %s: runs on a new thread, and reads the owner's threads", async (_how, options) => {
    const threadId = randomUUID();
    const thread = streams.open(threadId, "websocket", { factory: webSocketFactory(options) });
    await startRun(thread, userTurn("over a socket"));
    expect(messageTexts(await thread.output)).toEqual(["over a socket", "You said: over a socket"]);
    expect(streams.rootLifecycle(thread)).toEqual(["running", "completed"]);
    // The thread is Alice's: she sees it over HTTP, Bob does not.
    expect((await clientOf(ALICE).threads.get(threadId)).thread_id).toBe(threadId);
    await expect(clientOf(BOB).threads.get(threadId)).rejects.toMatchObject({ status: 404 });

    const earlier = await alicesThread();
    const again = streams.open(earlier, "websocket", { factory: webSocketFactory(options) });
    expect(messageTexts((await again.state.get({ namespace: [] })).values)).toEqual(["alice's own words", "You said: alice's own words"]);
  });

  it("refuses every protocol request without a key (401)", async () => {
    const { server, stub } = fixture;
    const threadId = randomUUID();
    expect(await upgrade(socketUrl(threadId))).toBe(401);
    expect(await upgrade(socketUrl(threadId), { "x-api-key": "not-a-key-at-all-000000" })).toBe(401);
    expect((await server.request(`/threads/${threadId}/commands`, { body: { id: 1, method: "state.get", params: {} } })).status).toBe(401);
    await expect(readEventStream(server.baseUrl, threadId, { channels: ["values"] }, () => true)).rejects.toMatchObject({ status: 401 });
    const anonymous = streams.open(threadId, "sse", { client: clientOf(null) });
    await expect(startRun(anonymous, userTurn("hello?"))).rejects.toMatchObject({ status: 401 });
    expect(stub.requests).toHaveLength(0);
  });
  it("passes nothing of a thread another owner creates under an id a stream was already open on", async () => {
    const { server } = fixture;
    const threadId = randomUUID();
    // Alice listens on an id nobody has used yet (allowed: her run.start could create it).
    const aliceSse = readEventStream(server.baseUrl, threadId, { channels: ALL_CHANNELS, since: 0 }, () => false, { "x-api-key": ALICE });
    const aliceSocket = new WebSocket(socketUrl(threadId), { headers: { "x-api-key": ALICE } });
    const frames: Array<{ type: string }> = [];
    aliceSocket.on("message", (data) => frames.push(JSON.parse(String(data)) as { type: string }));
    const closed = new Promise<number>((resolve) => aliceSocket.on("close", (code) => resolve(code)));
    await new Promise((resolve) => aliceSocket.once("open", resolve));
    aliceSocket.send(JSON.stringify({ id: 1, method: "subscription.subscribe", params: { channels: ALL_CHANNELS } }));
    await until(() => frames.length > 0);
    // Bob takes the id.
    const bobs = streams.open(threadId, "sse", { client: clientOf(BOB) });
    await startRun(bobs, userTurn("bob's secret"));
    expect(messageTexts(await bobs.output)).toEqual(["bob's secret", "You said: bob's secret"]);
    // Alice's stream ends without an event of Bob's; her socket is closed as for a thread that is not there.
    expect(await aliceSse).toEqual([]);
    expect(await closed).toBe(4404);
    expect(frames.filter((frame) => frame.type === "event")).toEqual([]);
  });
});
