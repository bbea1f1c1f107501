/**
 * Starts the runs of crons when they are due. Every instance polls; each occurrence is claimed in
 * the database (its next run date moved on only if it still is the one seen), so it starts once
 * however many instances share the database. Missed occurrences are not replayed: a cron that
 * was due while no instance ran starts one run when polled again, then continues from the next
 * time after now, as the official server's scheduler does. After its `end_time`, nothing starts.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "../logger.js";
import type { Cron } from "../storage/crons.js";
import type { Storage } from "../storage/storage.js";
import { nextOccurrence } from "./cron-schedule.js";
import type { RunManager } from "./run-manager.js";
import { RunCreate, parseInput } from "./schemas.js";

/** Most due crons taken in one poll; the rest are taken on the next one. */
const DUE_BATCH = 100;

/**
 * The run request an occurrence of `cron` makes: its payload, and for a stateless cron what
 * becomes of the run's thread (`on_run_completed`).
 */
export function cronRunRequest(cron: Pick<Cron, "payload" | "threadId" | "onRunCompleted">): RunCreate {
  return parseInput(RunCreate, { ...cron.payload, ...(cron.threadId === null ? { on_completion: cron.onRunCompleted ?? "delete" } : {}) });
}

export interface CronSchedulerDeps {
  storage: Storage;
  runs: Pick<RunManager, "create">;
  logger: Logger;
  /** Interval between polls for due crons (`CRON_POLL_MS`). */
  pollMs: number;
}

/** Polls for due crons and starts their runs; `stop()` before the run manager shuts down. */
export class CronScheduler {
  readonly #deps: CronSchedulerDeps;
  readonly #stopping = new AbortController();
  #loop: Promise<void> | undefined;

  constructor(deps: CronSchedulerDeps) {
    this.#deps = deps;
  }

  /** Starts polling in the background; a failed poll is logged and the next one comes. */
  start(): void {
    this.#loop ??= this.#poll();
  }

  /** Stops polling and waits for a poll under way; no run starts after it returns. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#loop;
  }

  async #poll(): Promise<void> {
    const { signal } = this.#stopping;
    while (!signal.aborted) {
      await this.startDue().catch((error: unknown) => this.#deps.logger.error({ err: error }, "polling for due crons failed"));
      // Unref'd: a caller that forgets stop() still lets the process exit.
      await sleep(this.#deps.pollMs, undefined, { signal, ref: false }).catch(() => undefined);
    }
  }

  /** Starts the due occurrences this instance wins; returns how many runs it started. */
  async startDue(now = new Date()): Promise<number> {
    const { storage, logger } = this.#deps;
    let started = 0;
    for (const cron of await storage.crons.dueCrons(now, DUE_BATCH)) {
      if (this.#stopping.signal.aborted) break;
      const seen = cron.nextRunDate as Date;
      let next: Date | null = null;
      try {
        next = nextOccurrence(cron.schedule, cron.timezone, now, cron.endTime);
      } catch (error) {
        // Validated when written; should one be unreadable after all, it is retired, not retried every poll.
        logger.error({ err: error, cronId: cron.cronId, schedule: cron.schedule }, "cron schedule cannot be read; the cron will not run again");
      }
      const claimed = await storage.crons.claimOccurrence(cron.cronId, seen, next);
      // Another instance started it, or the cron was changed or disabled meanwhile.
      if (!claimed) continue;
      // Due before its end but seen only after: retired without a run.
      if (cron.endTime && seen.getTime() > cron.endTime.getTime()) continue;
      if (await this.#start(claimed)) started += 1;
    }
    return started;
  }

  /** Starts one occurrence's run as POST /runs would; a refusal is logged, never fatal. */
  async #start(cron: Cron): Promise<boolean> {
    const { runs, logger } = this.#deps;
    try {
      const handle = await runs.create(cron.threadId ?? undefined, cronRunRequest(cron), cron.owner ?? undefined);
      logger.info({ cronId: cron.cronId, runId: handle.run.runId, threadId: handle.run.threadId }, "cron started a run");
      return true;
    } catch (error) {
      logger.warn({ err: error, cronId: cron.cronId, threadId: cron.threadId }, "cron could not start its run");
      return false;
    }
  }
}
