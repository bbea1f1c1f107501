/**
 * Thread upkeep in the background of each instance: deletes threads idle past their TTL, and
 * once at start records the values projection of threads an earlier release left without one
 * (see thread-values.ts) and indexes the text of their messages for search by text (see
 * src/storage/message-text.ts).
 *
 * A thread's TTL clock is its `updated_at`: creating it, patching it, writing its state, a run
 * being admitted and a run ending all start it again; reading does not. A thread with a pending
 * or running run is never deleted. Several instances may sweep one database: the repository
 * deletes each expired thread in one atomic statement, so exactly one instance deletes it (and
 * then its checkpoints).
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Agent } from "../graph/agent.js";
import type { Logger } from "../logger.js";
import type { Storage } from "../storage/storage.js";
import { backfillThreadValues } from "./thread-values.js";

/** Time between sweeps when none is configured (`THREAD_TTL_SWEEP_MS`'s default). */
export const DEFAULT_SWEEP_MS = 60_000;
/** Threads deleted per statement; a sweep goes on until fewer expire. */
const SWEEP_BATCH = 100;

export interface ThreadSweeperDeps {
  agent: Agent;
  storage: Storage;
  logger: Logger;
  /** Time between sweeps (`THREAD_TTL_SWEEP_MS`). */
  intervalMs: number;
}

export class ThreadSweeper {
  readonly #deps: ThreadSweeperDeps;
  readonly #stopping = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(deps: ThreadSweeperDeps) {
    this.#deps = deps;
  }

  /** Starts the background loop (the backfill, then a sweep every interval); returns at once. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops the loop and waits for a sweep under way to end; call before closing the database. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#loop;
  }

  /** Deletes every thread expired now, with its runs and checkpoints; returns how many. */
  async sweep(): Promise<number> {
    const { storage, logger } = this.#deps;
    let deleted = 0;
    for (;;) {
      const threadIds = await storage.threads.deleteExpiredThreads(new Date(), SWEEP_BATCH);
      // The rows (and runs) are gone, so no run can start there; now their checkpoints.
      for (const threadId of threadIds) await storage.checkpointer.deleteThread(threadId);
      deleted += threadIds.length;
      if (threadIds.length < SWEEP_BATCH || this.#stopping.signal.aborted) break;
    }
    if (deleted > 0) logger.info({ threads: deleted }, "deleted threads past their TTL");
    return deleted;
  }

  /** Indexes the text of threads stored before search by text existed, a batch at a time; returns how many. */
  async indexMessageText(): Promise<number> {
    const { storage, logger } = this.#deps;
    let indexed = 0;
    for (;;) {
      const batch = await storage.checkpointer.indexMessageText(SWEEP_BATCH);
      indexed += batch;
      if (batch === 0 || this.#stopping.signal.aborted) break;
    }
    if (indexed > 0) logger.info({ threads: indexed }, "indexed the messages of threads of an earlier release, for search by text");
    return indexed;
  }

  async #run(): Promise<void> {
    const { signal } = this.#stopping;
    const { logger } = this.#deps;
    try {
      await backfillThreadValues(this.#deps, signal).catch((error: unknown) => {
        if (!signal.aborted) logger.error({ err: error }, "could not record the values of earlier threads for search");
      });
      await this.indexMessageText().catch((error: unknown) => {
        if (!signal.aborted) logger.error({ err: error }, "could not index the messages of earlier threads for search");
      });
      while (!signal.aborted) {
        await this.sweep().catch((error: unknown) => {
          if (!signal.aborted) logger.error({ err: error }, "thread TTL sweep failed");
        });
        // Not `ref`: a sweep to come never keeps the process alive.
        await sleep(this.#deps.intervalMs, undefined, { signal, ref: false });
      }
    } catch (error) {
      // Only `stop()` ends the wait early; anything else is logged, never an unhandled rejection.
      if (!signal.aborted) logger.error({ err: error }, "thread sweeper stopped");
    }
  }
}
