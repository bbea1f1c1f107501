/**
 * The protocol events of threads, on both backends: numbered per thread, read back from any
 * number on by another instance (PostgreSQL) or process (SQLite), the newest run's kept, a rolled
 * back run's gone but its last, all gone with the thread.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Storage } from "../../src/storage/storage.js";
import type { StoredThreadEvent } from "../../src/storage/thread-events.js";
import { storageBackends } from "../support/storage-backends.js";

/** Events numbered `from` to `to` of `runId`, as the feed writes them. */
const events = (runId: string, from: number, to: number): StoredThreadEvent[] =>
  Array.from({ length: to - from + 1 }, (_, index) => ({ seq: from + index, runId, event: JSON.stringify({ seq: from + index, method: "values", params: { data: { n: from + index } } }) }));

describe.each(storageBackends)("%s thread events", (_name, makeBackend) => {
  const backend = makeBackend();
  let writer: Storage;
  let reader: Storage;
  beforeAll(async () => {
    writer = await backend.open();
    reader = await backend.open();
  });
  afterAll(() => backend.dispose());

  const newThread = async () => {
    const threadId = randomUUID();
    await writer.threads.createThread({ threadId, metadata: {} });
    return threadId;
  };

  it("reads a thread's events from any number on, in order, in pages, from another instance", async () => {
    const threadId = await newThread();
    expect(await reader.threadEvents.lastThreadSeq(threadId)).toBe(0);
    await writer.threadEvents.appendThreadEvents(threadId, events("run-a", 1, 5));
    await writer.threadEvents.appendThreadEvents(threadId, events("run-a", 6, 8));
    expect(await reader.threadEvents.lastThreadSeq(threadId)).toBe(8);
    expect((await reader.threadEvents.threadEventsAfter(threadId, 0, 100)).map((event) => event.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect((await reader.threadEvents.threadEventsAfter(threadId, 5, 2)).map((event) => event.seq)).toEqual([6, 7]);
    const [first] = await reader.threadEvents.threadEventsAfter(threadId, 0, 1);
    expect(first).toEqual({ seq: 1, runId: "run-a", event: events("run-a", 1, 1)[0]!.event });
    // Another thread's events are its own.
    const other = await newThread();
    expect(await reader.threadEvents.threadEventsAfter(other, 0, 100)).toEqual([]);
  });

  it("keeps a number once written: a second write of it changes nothing", async () => {
    const threadId = await newThread();
    await writer.threadEvents.appendThreadEvents(threadId, events("run-a", 1, 3));
    await writer.threadEvents.appendThreadEvents(threadId, [{ seq: 2, runId: "run-b", event: "{}" }]);
    expect((await reader.threadEvents.threadEventsAfter(threadId, 0, 100)).map((event) => event.runId)).toEqual(["run-a", "run-a", "run-a"]);
  });

  it("prunes to the newest run's events, and a rolled back run leaves only its last event", async () => {
    const threadId = await newThread();
    await writer.threadEvents.appendThreadEvents(threadId, events("run-a", 1, 3));
    await writer.threadEvents.appendThreadEvents(threadId, events("run-b", 4, 6));
    await writer.threadEvents.pruneThreadEvents(threadId);
    expect((await reader.threadEvents.threadEventsAfter(threadId, 0, 100)).map((event) => event.seq)).toEqual([4, 5, 6]);
    await writer.threadEvents.appendThreadEvents(threadId, events("run-c", 7, 9));
    await writer.threadEvents.deleteRunEvents(threadId, "run-c");
    expect((await reader.threadEvents.threadEventsAfter(threadId, 0, 100)).map((event) => [event.seq, event.runId])).toEqual([
      [4, "run-b"],
      [5, "run-b"],
      [6, "run-b"],
      [9, "run-c"],
    ]);
    // The numbering goes on after the rolled back run.
    expect(await reader.threadEvents.lastThreadSeq(threadId)).toBe(9);
    // Pruning an empty thread, or one run's, changes nothing.
    await writer.threadEvents.pruneThreadEvents(await newThread());
  });

  it("deletes a thread's events with the thread", async () => {
    const threadId = await newThread();
    await writer.threadEvents.appendThreadEvents(threadId, events("run-a", 1, 3));
    await writer.threads.deleteThread(threadId);
    expect(await reader.threadEvents.threadEventsAfter(threadId, 0, 100)).toEqual([]);
    expect(await reader.threadEvents.lastThreadSeq(threadId)).toBe(0);
  });
});
