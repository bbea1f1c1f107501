/**
 * The thread feed's streams when a run ends. A client reads a run over two streams (its
 * lifecycle, and its messages and values) and takes the run for ended when the first says so; the
 * end must not reach it while the other stream still has the reply's last words to send. Seen
 * under load: @langchain/react's page went idle showing "one two" of "one two three four five six".
 */
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { ThreadFeed } from "../../../src/server/protocol/thread-feed.js";
import type { ThreadEvent } from "../../../src/server/protocol/thread-event.js";
import type { ThreadEventStore } from "../../../src/storage/thread-events.js";

/** Nothing stored: every event here is published in memory. */
const emptyStore = {
  appendThreadEvents: async () => undefined,
  threadEventsAfter: async () => [],
  lastThreadSeq: async () => 0,
  pruneThreadEvents: async () => undefined,
  deleteRunEvents: async () => undefined,
} as unknown as ThreadEventStore;

const event = (seq: number, method: string, data: unknown, namespace: string[] = []): ThreadEvent => ({
  type: "event",
  event_id: String(seq),
  seq,
  method,
  params: { namespace, timestamp: seq, data },
});
const RUN = [
  event(1, "messages", { text: "one two" }),
  event(2, "messages", { text: " three" }),
  // A subgraph's end is not the run's.
  event(3, "lifecycle", { event: "completed" }, ["tools:1"]),
  event(4, "values", { messages: ["one two three"] }),
  event(5, "lifecycle", { event: "completed" }),
];

/** Whether `promise` has settled after the event loop has turned a few times. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  for (let turn = 0; turn < 20; turn += 1) await new Promise((resolve) => setTimeout(resolve, 1));
  return done;
}

describe("a run's end on one stream", () => {
  it("waits until the thread's other streams here have handled what comes before it", async () => {
    const feed = new ThreadFeed({ store: emptyStore, logger: pino({ level: "silent" }), endWaitMs: 60_000 });
    const stop = new AbortController();
    const content = feed.follow("thread", 0, stop.signal);
    const lifecycle = feed.follow("thread", 0, stop.signal);
    const firstContent = content.next();
    const firstLifecycle = lifecycle.next();
    for (const each of RUN) feed.publish("thread", "run", each);
    expect((await firstContent).value?.seq).toBe(1);
    expect((await firstLifecycle).value?.seq).toBe(1);
    for (const seq of [2, 3, 4]) expect((await lifecycle.next()).value?.seq).toBe(seq);

    // The content stream is still busy with event 1: the end is held back.
    const end = lifecycle.next();
    expect(await settled(end)).toBe(false);
    for (const seq of [2, 3, 4]) expect((await content.next()).value?.seq).toBe(seq);
    expect(await settled(end)).toBe(false);
    // Asking for the next event says it is done with event 4: both streams now get the end.
    const contentEnd = content.next();
    expect((await end).value?.seq).toBe(5);
    expect((await contentEnd).value?.seq).toBe(5);
    stop.abort();
  });

  it("waits for a stream that does not move only a bounded time", async () => {
    const feed = new ThreadFeed({ store: emptyStore, logger: pino({ level: "silent" }), endWaitMs: 20 });
    const stop = new AbortController();
    const stuck = feed.follow("thread", 0, stop.signal);
    const lifecycle = feed.follow("thread", 0, stop.signal);
    const first = [stuck.next(), lifecycle.next()];
    for (const each of RUN) feed.publish("thread", "run", each);
    await Promise.all(first);
    for (const seq of [2, 3, 4, 5]) expect((await lifecycle.next()).value?.seq).toBe(seq);
    stop.abort();
  });
});

describe("a stream reading the database", () => {
  // A stream opened as a run ends reads the database first (PostgreSQL takes a moment): the run's
  // last events, published meanwhile, woke nobody, and the stream waited for a next event that
  // never came (or for the next poll of other instances).
  it("gets the events published while it read", { timeout: 10_000 }, async () => {
    let answer!: (rows: []) => void;
    // The first read waits for the test; later ones find nothing stored.
    let reads = 0;
    const store = {
      ...emptyStore,
      threadEventsAfter: () => (reads++ === 0 ? new Promise<[]>((resolve) => (answer = resolve)) : Promise.resolve([])),
    } as unknown as ThreadEventStore;
    const feed = new ThreadFeed({ store, logger: pino({ level: "silent" }) });
    const stop = new AbortController();
    const stream = feed.follow("thread", 0, stop.signal);
    const first = stream.next();
    await new Promise((resolve) => setTimeout(resolve, 1));
    // The stream is in the middle of its database read.
    feed.publish("thread", "run", RUN[0]!);
    answer([]);
    expect((await first).value?.seq).toBe(1);
    stop.abort();
  });
});
