/**
 * Where a thread's protocol events go and are read back. A run executing here publishes each
 * event at once to the streams of this process (from memory) and, in batches, to the database;
 * a stream reads the database for what it missed or what another instance's run wrote, then
 * this process's events as they come. The events of a run stay in memory only until the database
 * has them all.
 */
import type { Logger } from "../../logger.js";
import { BatchedWrites } from "../batched-writes.js";
import type { StoredThreadEvent, ThreadEventStore } from "../../storage/thread-events.js";
import type { ThreadEvent } from "./thread-event.js";

/** How long events wait to be written together: a bound on the delay for streams elsewhere. */
const FLUSH_MS = 50;
/** Events read from the database at once. */
const PAGE = 500;
/**
 * Longest a stream holds back the end of a run (its root `completed`, `failed` or `interrupted`)
 * for the thread's other streams here to send what comes before it. A client reads a run over
 * two streams (its lifecycle, and its messages and values) and ends the run when the first says
 * so: the second must not still be behind. Bounded, so a slow client delays others' ends only a
 * little.
 */
const END_WAITS_FOR_OTHERS_MS = 500;
/** How often a held end looks whether the others have caught up. */
const END_CHECK_MS = 5;

/** Whether `event` ends a run: the root's lifecycle saying it completed, failed or was interrupted. */
function endsRun(event: ThreadEvent): boolean {
  if (event.method !== "lifecycle" || event.params.namespace.length > 0) return false;
  const what = (event.params.data as { event?: unknown } | null)?.event;
  return what === "completed" || what === "failed" || what === "interrupted";
}

/** A thread's events held in memory: those of its runs executing here, not yet all stored. */
interface LiveThread {
  events: ThreadEvent[];
  /** The run of each event in `events`, by its number. */
  runOf: Map<number, string>;
  /** Runs publishing here, by id. */
  runs: Set<string>;
  /** Streams waiting for the next event. */
  waiters: Set<() => void>;
  /** Streams following the thread here: the number of the last event each has handled. */
  followers: Set<{ handled: number }>;
}

export interface ThreadFeedOptions {
  store: ThreadEventStore;
  logger: Logger;
  /**
   * How often an idle stream looks in the database for events of runs other instances execute;
   * `undefined` where one process owns the database (every event is published here).
   */
  pollMs?: number;
  /** Longest a run's end waits for the thread's other streams here (`END_WAITS_FOR_OTHERS_MS` unless given). */
  endWaitMs?: number;
}

/** Publishes and follows the protocol events of threads (see the module comment). */
export class ThreadFeed {
  readonly #threads = new Map<string, LiveThread>();

  constructor(private readonly options: ThreadFeedOptions) {}

  #live(threadId: string): LiveThread {
    let live = this.#threads.get(threadId);
    if (!live) {
      live = { events: [], runOf: new Map(), runs: new Set(), waiters: new Set(), followers: new Set() };
      this.#threads.set(threadId, live);
    }
    return live;
  }

  /** Forgets a thread nobody publishes to or waits on. */
  #drop(threadId: string, live: LiveThread): void {
    if (live.runs.size === 0 && live.waiters.size === 0 && live.followers.size === 0 && live.events.length === 0) this.#threads.delete(threadId);
  }

  /**
   * Opens the publisher of a run that holds the thread (only one run does at a time, here or on
   * another instance): its events are numbered after the thread's last one. The events of older
   * runs than the thread's newest are deleted first.
   */
  async publisher(threadId: string, runId: string): Promise<RunPublisher> {
    // Pruning is housekeeping: the run goes on without it.
    await this.options.store.pruneThreadEvents(threadId).catch((error: unknown) => this.options.logger.warn({ err: error, threadId }, "could not prune the thread's protocol events"));
    this.#live(threadId).runs.add(runId);
    return new RunPublisher(this, threadId, runId, await this.lastSeq(threadId));
  }

  /** Called by a publisher: hands an event to this process's streams. */
  publish(threadId: string, runId: string, event: ThreadEvent): void {
    const live = this.#live(threadId);
    live.events.push(event);
    live.runOf.set(event.seq, runId);
    for (const wake of live.waiters) wake();
  }

  /** Called by a publisher once the database has all its run's events: memory lets them go. */
  released(threadId: string, runId: string, lastSeq: number): void {
    const live = this.#threads.get(threadId);
    if (!live) return;
    live.runs.delete(runId);
    if (live.runs.size === 0) {
      live.events = live.events.filter((event) => event.seq > lastSeq);
      for (const seq of live.runOf.keys()) if (seq <= lastSeq) live.runOf.delete(seq);
    }
    for (const wake of live.waiters) wake();
    this.#drop(threadId, live);
  }

  write(threadId: string, events: StoredThreadEvent[]): Promise<void> {
    return this.options.store.appendThreadEvents(threadId, events);
  }

  get logger(): Logger {
    return this.options.logger;
  }

  /** The number of the thread's last event, stored or not; 0 when it has none. */
  async lastSeq(threadId: string): Promise<number> {
    const inMemory = this.#threads.get(threadId)?.events.at(-1)?.seq ?? 0;
    return Math.max(inMemory, await this.options.store.lastThreadSeq(threadId));
  }

  /**
   * The events of one run of the thread that are still kept (`runId` undefined: of its newest
   * run), oldest first, with the run's id; none when it has none.
   */
  async runEvents(threadId: string, runId?: string): Promise<{ runId: string | undefined; events: ThreadEvent[] }> {
    const found = new Map<number, { runId: string; event: ThreadEvent }>();
    let after = 0;
    for (;;) {
      const page = await this.options.store.threadEventsAfter(threadId, after, PAGE);
      for (const row of page) found.set(row.seq, { runId: row.runId, event: JSON.parse(row.event) as ThreadEvent });
      if (page.length < PAGE) break;
      after = page.at(-1)?.seq ?? after;
    }
    const live = this.#threads.get(threadId);
    for (const event of live?.events ?? []) found.set(event.seq, { runId: live?.runOf.get(event.seq) ?? "", event });
    const all = [...found.entries()].sort(([a], [b]) => a - b).map(([, entry]) => entry);
    const wanted = runId ?? all.at(-1)?.runId;
    return { runId: wanted, events: all.filter((entry) => entry.runId === wanted).map((entry) => entry.event) };
  }

  /**
   * The thread's events numbered above `after`, oldest first, then each new one as it comes,
   * until `signal` fires. Numbers only increase; a gap (the events of a run rolled back, or of
   * runs pruned meanwhile) is passed over once the database confirms it.
   */
  async *follow(threadId: string, after: number, signal: AbortSignal, options: { live?: boolean } = {}): AsyncGenerator<ThreadEvent> {
    const live = this.#live(threadId);
    // What the caller has handled: it asks for the next event only once done with the last.
    const follower = { handled: after };
    live.followers.add(follower);
    try {
      yield* this.#follow(threadId, follower, signal, options);
    } finally {
      live.followers.delete(follower);
      this.#drop(threadId, live);
    }
  }

  async *#follow(threadId: string, follower: { handled: number }, signal: AbortSignal, options: { live?: boolean }): AsyncGenerator<ThreadEvent> {
    let cursor = follower.handled;
    while (!signal.aborted) {
      const inMemory = this.#inMemoryAfter(threadId, cursor);
      if (inMemory[0]?.seq === cursor + 1) {
        for (const event of inMemory) {
          // Contiguous only: what is missing before an event is in the database.
          if (event.seq !== cursor + 1) break;
          if (endsRun(event)) await this.#othersCaughtUp(threadId, follower, event.seq - 1, signal);
          yield event;
          cursor = follower.handled = event.seq;
        }
        continue;
      }
      const stored = await this.options.store.threadEventsAfter(threadId, cursor, PAGE);
      if (stored.length > 0) {
        for (const row of stored) {
          yield JSON.parse(row.event) as ThreadEvent;
          cursor = follower.handled = row.seq;
        }
        continue;
      }
      if (inMemory.length > 0) {
        // Missing from both: gone for good. Go on from the first event that is here.
        for (const event of inMemory) {
          yield event;
          cursor = follower.handled = event.seq;
        }
        continue;
      }
      // Without `live`, only what is there already.
      if (options.live === false) return;
      // Published while the database was read: no wake-up is coming for those, look again.
      if (this.#inMemoryAfter(threadId, cursor).length > 0) continue;
      await this.#next(threadId, signal);
    }
  }

  /**
   * Resolves once every other stream following the thread here has handled the events up to
   * `seq`, or after `endWaitMs` (see `END_WAITS_FOR_OTHERS_MS`), or when `signal` fires.
   */
  async #othersCaughtUp(threadId: string, self: { handled: number }, seq: number, signal: AbortSignal): Promise<void> {
    const followers = this.#threads.get(threadId)?.followers;
    const behind = () => [...(followers ?? [])].some((other) => other !== self && other.handled < seq);
    const deadline = performance.now() + (this.options.endWaitMs ?? END_WAITS_FOR_OTHERS_MS);
    while (behind() && !signal.aborted && performance.now() < deadline) await new Promise((resolve) => setTimeout(resolve, END_CHECK_MS));
  }

  /** The events held in memory numbered above `after` (they are in order: a binary search finds the first). */
  #inMemoryAfter(threadId: string, after: number): ThreadEvent[] {
    const events = this.#threads.get(threadId)?.events ?? [];
    let low = 0;
    let high = events.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if ((events[middle] as ThreadEvent).seq <= after) low = middle + 1;
      else high = middle;
    }
    return events.slice(low);
  }

  /** Resolves at the thread's next event here, after `pollMs` (another instance may have written), or when `signal` fires. */
  #next(threadId: string, signal: AbortSignal): Promise<void> {
    const live = this.#live(threadId);
    return new Promise<void>((resolve) => {
      const timer = this.options.pollMs === undefined ? undefined : setTimeout(wake, this.options.pollMs);
      function wake() {
        clearTimeout(timer);
        live.waiters.delete(wake);
        signal.removeEventListener("abort", wake);
        resolve();
      }
      live.waiters.add(wake);
      signal.addEventListener("abort", wake, { once: true });
    }).finally(() => this.#drop(threadId, live));
  }
}

/**
 * What one run publishes to its thread: events numbered on, handed to this process's streams at
 * once and written to the database within FLUSH_MS. `close` resolves once all are stored.
 */
export class RunPublisher {
  #seq: number;
  readonly #writes: BatchedWrites<StoredThreadEvent>;
  #closed = false;

  constructor(
    private readonly feed: ThreadFeed,
    readonly threadId: string,
    readonly runId: string,
    startSeq: number,
  ) {
    this.#seq = startSeq;
    this.#writes = new BatchedWrites(
      (batch) => feed.write(threadId, batch),
      (error) => feed.logger.warn({ err: error, runId, threadId }, "could not store protocol events"),
      FLUSH_MS,
    );
  }

  /** Numbers and publishes an event of `method` at `namespace`. */
  emit(method: string, namespace: string[], data: unknown, node?: string): ThreadEvent {
    this.#seq += 1;
    const event: ThreadEvent = {
      type: "event",
      event_id: String(this.#seq),
      seq: this.#seq,
      method,
      params: { namespace, timestamp: Date.now(), ...(node === undefined ? {} : { node }), data },
    };
    if (this.#closed) return event;
    this.feed.publish(this.threadId, this.runId, event);
    this.#writes.add({ seq: event.seq, runId: this.runId, event: JSON.stringify(event) });
    return event;
  }

  /** Writes what is left; resolves when every event is stored, and lets memory go of them. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writes.close();
    this.feed.released(this.threadId, this.runId, this.#seq);
  }
}
