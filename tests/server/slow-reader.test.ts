/**
 * A client that opens a run's stream and never reads it. Legacy `messages` mode repeats the
 * growing message in every event (by definition of that mode), so a long reply is tens of MB on
 * the wire; such a reader must not make the server hold all of it. Its stream ends with an
 * `error` event once STREAM_BUFFER_BYTES wait for it, and it resumes with `Last-Event-ID`,
 * losing nothing; readers that keep up are not affected.
 */
import { type IncomingMessage, get } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer, testBackends } from "../support/server.js";

const BUFFER_BYTES = 65_536;
/** About 25 MB of legacy `messages` events: more than the kernel's socket buffers hold. */
const REPLY = Array.from({ length: 2500 }, (_, index) => `word${index}`).join(" ");

interface Frame {
  id: string | undefined;
  event: string;
  data: unknown;
}

/** Parses SSE text into frames. */
function parseFrames(text: string): Frame[] {
  return text
    .split("\n\n")
    .filter((block) => block.trim() !== "")
    .map((block) => {
      const lines = block.split("\n");
      const field = (name: string) => lines.find((line) => line.startsWith(`${name}: `))?.slice(name.length + 2);
      return { id: field("id"), event: field("event") ?? "message", data: JSON.parse(field("data") ?? "null") };
    });
}

/** Reads a response to its end. */
const readAll = (response: IncomingMessage) =>
  new Promise<string>((resolve, reject) => {
    let text = "";
    response.setEncoding("utf8");
    response.on("data", (chunk: string) => (text += chunk));
    response.on("end", () => resolve(text));
    response.on("error", reject);
    // A paused stream stays paused when a `data` listener is added.
    response.resume();
  });

describe.each(await testBackends())("a reader that never reads, on %s", (backend) => {
  let stub: OpenAiStub;
  let server: TestServer;

  beforeAll(async () => {
    stub = await startOpenAiStub();
    stub.respondWith(() => REPLY);
    server = await startServer(stub, { backend, env: { STREAM_BUFFER_BYTES: String(BUFFER_BYTES) } });
  });

  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });

  it("is ended with an error event past STREAM_BUFFER_BYTES and resumes from Last-Event-ID with nothing lost", async () => {
    const thread = await server.client.threads.create();
    const run = await server.client.runs.create(thread.thread_id, "agent", {
      input: { messages: [{ role: "user", content: "Tell me a long story" }] },
      streamMode: ["messages"],
    });
    const path = `/threads/${thread.thread_id}/runs/${run.run_id}/stream`;

    // The stalled reader: its response is paused before a byte is read.
    const stalled = await new Promise<IncomingMessage>((resolve, reject) => get(`${server.baseUrl}${path}`, resolve).on("error", reject));
    stalled.pause();
    // A reader that keeps up, on the same run.
    const live: string[] = [];
    const following = (async () => {
      for await (const part of server.client.runs.joinStream(thread.thread_id, run.run_id)) live.push(part.event);
    })();

    await server.client.runs.join(thread.thread_id, run.run_id);
    await following;
    expect(live).not.toContain("error");
    expect(live.at(-1)).toBe("messages/complete");

    // Now the stalled reader reads what it was sent: a cut stream, then why.
    const first = parseFrames(await readAll(stalled));
    const last = first.at(-1) as Frame;
    expect(last.event).toBe("error");
    const sentIds = first.filter((frame) => frame.id !== undefined).map((frame) => frame.id as string);
    expect(last.data).toMatchObject({ error: "StreamBufferFull", last_event_id: sentIds.at(-1) });
    expect((last.data as { message: string }).message).toContain(`more than ${BUFFER_BYTES} bytes`);
    expect((last.data as { message: string }).message).toContain(`Last-Event-ID: ${sentIds.at(-1)}`);

    // Resumed, it gets exactly the rest: every event once, in order, ending as the run ended.
    const resumed = await fetch(`${server.baseUrl}${path}`, { headers: { "last-event-id": sentIds.at(-1) as string } });
    const rest = parseFrames(await resumed.text());
    expect(rest.length, "the cut stream held only part of the run").toBeGreaterThan(0);
    const allIds = [...sentIds, ...rest.map((frame) => frame.id)].map(Number);
    expect(allIds).toEqual(allIds.map((_, index) => index));
    expect(rest.at(-1)?.event).toBe("messages/complete");
    const reply = (rest.at(-1)?.data as Array<{ type: string; content: string }>).find((message) => message.type === "ai");
    expect(reply?.content).toBe(REPLY);
  });
});
