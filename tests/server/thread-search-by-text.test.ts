/**
 * Search chats by what was said: `query` on POST /threads/search and /threads/count finds the
 * caller's threads whose title or messages (the user's and the assistant's) contain a text,
 * ignoring case, in the search's order and pages, beside the official fields, which work as
 * before. With API keys each owner finds only their own threads.
 */
import { Client } from "@langchain/langgraph-sdk";
import { describe, expect, it } from "vitest";
import { testBackends } from "../support/server.js";
import { until } from "../support/until.js";
import { useStubAndServer } from "../support/use-server.js";

const ALICE = "alice-key-0123456789abcdef";
const BOB = "bob-key-0123456789abcdef0";
const user = (content: string) => ({ messages: [{ role: "user", content }] });
const marker = () => `zq${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;

interface WireThread {
  thread_id: string;
  metadata: Record<string, unknown>;
  values?: unknown;
}

describe.each(await testBackends())("thread search by text (%s)", (backend) => {
  const fixture = useStubAndServer(backend, { env: { API_KEYS: `alice:${ALICE},bob:${BOB}` } });

  const as = (key: string) => ({
    /** A new thread of this owner, with one turn saying `text` (the stub answers "You said: <text>"). */
    async chat(text: string, metadata: Record<string, unknown> = {}): Promise<string> {
      const { server } = fixture;
      const headers = { "x-api-key": key };
      const created = await server.request("/threads", { body: { metadata }, headers });
      const threadId = (created.body as WireThread).thread_id;
      const run = await server.request(`/threads/${threadId}/runs/wait`, { body: { assistant_id: "agent", input: user(text) }, headers });
      expect(run.status).toBe(200);
      return threadId;
    },
    search: (body: Record<string, unknown>) => fixture.server.request("/threads/search", { body, headers: { "x-api-key": key } }),
    async found(body: Record<string, unknown>): Promise<string[]> {
      const response = await this.search(body);
      expect(response.status).toBe(200);
      return (response.body as WireThread[]).map((thread) => thread.thread_id);
    },
    count: async (body: Record<string, unknown>) => (await fixture.server.request("/threads/count", { body, headers: { "x-api-key": key } })).body,
  });
  const alice = as(ALICE);
  const bob = as(BOB);

  it("finds the caller's chats by a word either side said or by title, newest first, and no one else's", async () => {
    const word = marker();
    const asked = await alice.chat(`Plan a trip to ${word} Lisbon`);
    const answered = await alice.chat("hello", { title: `Trip notes ${word.toUpperCase()}` });
    const other = await alice.chat("Something else entirely");
    const bobs = await bob.chat(`Bob also went to ${word} Lisbon`);

    expect(await alice.found({ query: word })).toEqual([answered, asked]);
    expect(await alice.found({ query: `YOU SAID: PLAN A TRIP TO ${word.toUpperCase()}` })).toEqual([asked]);
    expect(await alice.found({ query: `trip notes ${word}` })).toEqual([answered]);
    expect(await alice.found({ query: `${word} Lisbon`, limit: 10 })).toEqual([asked]);
    expect(await bob.found({ query: `${word} lisbon` })).toEqual([bobs]);
    expect(await alice.count({ query: word })).toBe(2);
    expect(await bob.count({ query: word })).toBe(1);
    // A blank query is no filter; the official fields work beside it.
    expect(await alice.found({ query: " ", ids: [other] })).toEqual([other]);
    expect(await alice.found({ query: word, metadata: { title: `Trip notes ${word.toUpperCase()}` } })).toEqual([answered]);
    expect(await alice.found({ query: word, status: "busy" })).toEqual([]);
  });

  it("pages in the order asked for, with the pagination headers, and answers the selected fields", async () => {
    const word = marker();
    const threads: string[] = [];
    for (let index = 0; index < 5; index += 1) threads.push(await alice.chat(`note ${index} ${word}`));
    expect(await alice.found({ query: word, sort_by: "created_at", sort_order: "asc", limit: 2, offset: 0 })).toEqual(threads.slice(0, 2));
    const page = await alice.search({ query: word, sort_by: "created_at", sort_order: "asc", limit: 2, offset: 2 });
    expect((page.body as WireThread[]).map((thread) => thread.thread_id)).toEqual(threads.slice(2, 4));
    expect(page.headers.get("x-pagination-next")).toBe("4");
    expect(await alice.found({ query: word, sort_by: "updated_at", sort_order: "desc", limit: 10 })).toEqual([...threads].reverse());
    const selected = await alice.search({ query: `note 3 ${word}`, select: ["thread_id", "values"] });
    expect(selected.body).toEqual([{ thread_id: threads[3], values: expect.objectContaining({ messages: expect.any(Array) }) }]);
  });

  it("finds what a stopped reply had said, and a chat renamed since", async () => {
    const { server, stub } = fixture;
    const word = marker();
    const client = new Client({ apiUrl: server.baseUrl, apiKey: ALICE, callerOptions: { maxRetries: 0 } });
    const thread = await client.threads.create();
    stub.respondWith(() => `Once upon a ${word} time`);
    let resume!: () => void;
    // The role chunk and four words: "Once upon a <word>".
    stub.inject({ kind: "pause", afterChunks: 5, resume: new Promise<void>((resolve) => (resume = resolve)) });
    let runId: string | undefined;
    let seen = "";
    const reading = (async () => {
      for await (const part of client.runs.stream(thread.thread_id, "agent", { input: user("Tell me a story"), streamMode: ["messages-tuple"] })) {
        if (part.event === "metadata") runId = (part.data as { run_id: string }).run_id;
        if (part.event === "messages") seen += (part.data as unknown as [{ content: string }])[0].content;
      }
    })();
    await until(() => seen === `Once upon a ${word}`);
    await client.runs.cancel(thread.thread_id, runId!, true, "interrupt");
    await reading;
    resume();
    expect(await alice.found({ query: `upon a ${word}` })).toEqual([thread.thread_id]);

    await client.threads.update(thread.thread_id, { metadata: { title: `Bedtime ${word}` } });
    expect(await alice.found({ query: `BEDTIME ${word}` })).toEqual([thread.thread_id]);
  });

  it("refuses a query that is not a string or too long (422), on search and count", async () => {
    for (const path of ["/threads/search", "/threads/count"]) {
      for (const query of [42, "x".repeat(1001)]) {
        const response = await fixture.server.request(path, { body: { query }, headers: { "x-api-key": ALICE } });
        expect(response.status, `${path} ${String(query).slice(0, 10)}`).toBe(422);
      }
    }
  });
});
