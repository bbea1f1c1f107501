/**
 * A thread's protocol events outlive the server on SQLite: after a restart on the same data
 * directory a client that reconnects with `since` gets the last run's events as they were,
 * numbers included, and the thread's next run numbers its events on from there.
 */
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../../support/openai-stub.js";
import { type TestServer, startServer } from "../../support/server.js";
import { ALL_CHANNELS, type RawEventStream, isRootTerminal, openRawEventStream, seqsOf, tokenOf } from "../../support/protocol-client.js";

let stub: OpenAiStub;
beforeAll(async () => {
  stub = await startOpenAiStub();
});
afterAll(async () => {
  await stub.close();
});

/** What a test opened, closed after it whatever happened (servers keep no data unless a test closed them first). */
const open: { streams: RawEventStream[]; servers: TestServer[] } = { streams: [], servers: [] };
afterEach(async () => {
  for (const stream of open.streams.splice(0)) await stream.close();
  for (const server of open.servers.splice(0)) await server.close();
  stub.reset();
});

const user = (content: string) => ({ messages: [{ role: "user", content }] });

async function runStart(server: TestServer, threadId: string, content: string): Promise<string> {
  const response = await server.request(`/threads/${threadId}/commands`, { body: { id: 1, method: "run.start", params: { assistant_id: "agent", input: user(content) } } });
  expect(response).toMatchObject({ status: 200, body: { type: "success", id: 1 } });
  return (response.body as { result: { run_id: string } }).result.run_id;
}

async function stream(server: TestServer, threadId: string, since?: number): Promise<RawEventStream> {
  const opened = await openRawEventStream(server.baseUrl, threadId, { channels: ALL_CHANNELS, ...(since === undefined ? {} : { since }) });
  open.streams.push(opened);
  return opened;
}

const tokensIn = (events: RawEventStream["events"]) => events.flatMap((event) => tokenOf(event) ?? []);

describe("protocol events across a restart (SQLite)", () => {
  it("replays the last run's events with the same numbers, and numbers the next run on", async () => {
    const before = await startServer(stub);
    open.servers.push(before);
    const threadId = randomUUID();
    const live = await stream(before, threadId);
    const firstRun = await runStart(before, threadId, "My name is Ada");
    await live.waitFor((events) => events.some(isRootTerminal));
    // Its record says it ended once all its events are stored.
    await before.client.runs.join(threadId, firstRun);
    const seen = [...live.events];
    expect(tokensIn(seen)).toEqual(["Nice", " to", " meet", " you,", " Ada!"]);
    expect(seqsOf(seen)).toEqual(seen.map((_, index) => index + 1));

    await live.close();
    open.servers.splice(open.servers.indexOf(before), 1);
    await before.close({ keepData: true });
    const after = await startServer(stub, { dataDir: before.dataDir });
    open.servers.push(after);

    // From the start: the same events, the same numbers.
    const replay = await stream(after, threadId, 0);
    await replay.waitFor((events) => events.some(isRootTerminal));
    expect(replay.events).toEqual(seen);
    // From the middle: exactly what came after.
    const firstToken = seen.find((event) => tokenOf(event) !== undefined)!.seq;
    const rest = await stream(after, threadId, firstToken);
    await rest.waitFor((events) => events.some(isRootTerminal));
    expect(rest.events).toEqual(seen.filter((event) => event.seq > firstToken));
    // Without since: the thread's last run, as a client arriving after it ends sees it.
    const latest = await stream(after, threadId);
    await latest.waitFor((events) => events.some(isRootTerminal));
    expect(latest.events).toEqual(seen);

    // The next run goes on from the last number, and remembers the first turn; the open streams follow it.
    await runStart(after, threadId, "What is my name?");
    for (const opened of [replay, rest, latest]) await opened.waitFor((events) => events.filter(isRootTerminal).length === 2);
    const last = seen.at(-1)!.seq;
    const next = replay.events.slice(seen.length);
    expect(seqsOf(next)).toEqual(next.map((_, index) => last + 1 + index));
    expect(tokensIn(next)).toEqual(["Your", " name", " is", " Ada."]);
    expect(next.at(-1)).toMatchObject({ method: "lifecycle", params: { namespace: [], data: { event: "completed" } } });
    for (const opened of [rest, latest]) expect(opened.events.filter((event) => event.seq > last)).toEqual(next);
    expect(stub.requests).toHaveLength(2);
  });
});
