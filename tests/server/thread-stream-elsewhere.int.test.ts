/**
 * A thread's stream joined on instance B while instance A executes the thread's runs: B passes on
 * the events A relays through PostgreSQL, run after run, token by token as A produces them, and
 * stops reading the database once the client has left.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { OpenAiStub } from "../support/openai-stub.js";
import { until } from "../support/until.js";
import { useInstances } from "../support/use-instances.js";

const instances = await useInstances();
const { reachable } = instances;
let stub: OpenAiStub;
beforeAll(() => {
  stub = instances.stub;
});

type Part = { id?: string; event: string; data: unknown };
const user = (content: string) => ({ messages: [{ role: "user", content }] });
const isRunDone = (part: Part) => part.event === "metadata" && (part.data as { status?: string }).status === "run_done";

describe.skipIf(!reachable)("a thread's stream joined on another instance than the one running it", () => {
  it("passes on each run's relayed events as they come, then the next run's, and stops when the client leaves", async () => {
    const a = await instances.start();
    const b = await instances.start({ captureLogs: true });
    // B's looks at each thread's runs, and how many reads of the database are under way.
    const looks = new Map<string, number>();
    let underWay = 0;
    const listRuns = b.deps.storage.runs.listRuns.bind(b.deps.storage.runs);
    b.deps.storage.runs.listRuns = async (threadId, options) => {
      looks.set(threadId, (looks.get(threadId) ?? 0) + 1);
      underWay += 1;
      try {
        return await listRuns(threadId, options);
      } finally {
        underWay -= 1;
      }
    };
    const relay = b.deps.storage.runEvents;
    if (!relay) throw new Error("PostgreSQL relays run events");
    const runEventsAfter = relay.runEventsAfter.bind(relay);
    relay.runEventsAfter = async (runId, after) => {
      underWay += 1;
      try {
        return await runEventsAfter(runId, after);
      } finally {
        underWay -= 1;
      }
    };

    // A runs a turn whose reply is held after its first chunks: B must show those before the end.
    const thread = await a.client.threads.create();
    let resume!: () => void;
    stub.inject({ kind: "pause", afterChunks: 2, resume: new Promise<void>((resolve) => (resume = resolve)) });
    const first = await a.client.runs.create(thread.thread_id, "agent", { input: user("streamed over there"), streamMode: ["messages-tuple", "values"] });

    const parts: Part[] = [];
    const controller = new AbortController();
    const following = (async () => {
      for await (const part of b.client.threads.joinStream(thread.thread_id, { signal: controller.signal })) {
        parts.push(part as Part);
        if (parts.filter(isRunDone).length === 2) break;
      }
    })();
    following.catch(() => undefined);

    // Tokens arrive on B while A's reply is still held.
    await until(() => parts.some((part) => part.event === "messages"));
    expect(parts[0]).toMatchObject({ event: "metadata", data: { run_id: first.run_id } });
    expect(parts.some(isRunDone)).toBe(false);
    resume();
    await until(() => parts.some(isRunDone));
    const second = await a.client.runs.create(thread.thread_id, "agent", { input: user("the next one") });
    await following;
    controller.abort();

    const secondStart = parts.findIndex((part) => part.event === "metadata" && (part.data as { run_id?: string }).run_id === second.run_id && !isRunDone(part));
    expect(secondStart).toBeGreaterThan(parts.findIndex(isRunDone));
    const lastValues = parts.filter((part) => part.event === "values").at(-1)?.data as { messages: Array<{ content: string }> };
    expect(lastValues.messages.map((message) => message.content)).toEqual(["streamed over there", "You said: streamed over there", "the next one", "You said: the next one"]);
    expect(parts.at(-1)).toMatchObject({ data: { status: "run_done", run_id: second.run_id } });

    // A client that leaves: B stops looking at the database for it.
    const quiet = await a.client.threads.create();
    const path = `/threads/${quiet.thread_id}/stream`;
    const leaving = new AbortController();
    const left = fetch(`${b.baseUrl}${path}`, { signal: leaving.signal }).then((response) => response.body?.getReader().read()).catch(() => undefined);
    await until(() => (looks.get(quiet.thread_id) ?? 0) >= 3);
    leaving.abort();
    await left;
    await until(() => b.logs.some((line) => line.includes("request aborted") && line.includes(path)) && underWay === 0);
    const looksWhenLeft = looks.get(quiet.thread_id);
    // Meanwhile a client that stays on another thread is looked after several times over.
    const witness = await a.client.threads.create();
    const watching = new AbortController();
    const watched = fetch(`${b.baseUrl}/threads/${witness.thread_id}/stream`, { signal: watching.signal }).then((response) => response.body?.getReader().read()).catch(() => undefined);
    await until(() => (looks.get(witness.thread_id) ?? 0) >= 5);
    watching.abort();
    await watched;
    expect(looks.get(quiet.thread_id)).toBe(looksWhenLeft);
  });
});
