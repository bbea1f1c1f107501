/**
 * Each server instance beats a heartbeat into the storage and, on the same beat, settles the runs
 * of instances that stopped beating (crashed or killed): their half-written turns are undone,
 * the runs marked `error`, the threads freed. With one instance this is start-up recovery; with
 * several on one PostgreSQL, the survivors clean up after the dead.
 */
import { randomUUID } from "node:crypto";
import type { Agent } from "../graph/agent.js";
import type { RevertibleCheckpointer } from "../storage/checkpointer.js";
import type { Logger } from "../logger.js";
import type { RunStatus } from "../storage/runs.js";
import type { Storage } from "../storage/storage.js";
import { recordThreadValues } from "./thread-values.js";

/** Relayed run events are kept this long, for late joiners on other instances. */
const RELAYED_EVENTS_KEPT_MS = 5 * 60_000;
/** An instance is presumed dead after missing this many heartbeats. */
const MISSED_BEATS = 3;

export interface InstanceMonitorDeps {
  storage: Storage;
  checkpointer: RevertibleCheckpointer;
  agent: Agent;
  logger: Logger;
  /** Interval between heartbeats (`INSTANCE_HEARTBEAT_MS`). */
  heartbeatMs: number;
}

/** Who carries out cancels that other instances asked for. */
export interface CancelHandler {
  cancel(threadId: string, runId: string, action: "interrupt" | "rollback"): Promise<unknown>;
}

export class InstanceMonitor {
  /** This instance's id, stamped on every run it starts. */
  readonly id = randomUUID();
  readonly #deps: InstanceMonitorDeps;
  #timer: NodeJS.Timeout | undefined;
  #beat: Promise<void> = Promise.resolve();
  /** Set once the run manager exists; it carries out cancels asked on other instances. */
  cancels: CancelHandler | undefined;

  constructor(deps: InstanceMonitorDeps) {
    this.#deps = deps;
  }

  /** Beats once, settles what dead instances left, then keeps beating in the background. */
  async start(): Promise<void> {
    // Not inside the tick, whose errors are only logged: a refusal must stop the server.
    await this.#deps.storage.instances.registerInstance(this.id, { pid: process.pid, staleMs: this.#staleMs });
    await this.#tick();
    this.#timer = setInterval(() => {
      // One beat at a time: a slow database must not pile them up.
      this.#beat = this.#beat.then(() => this.#tick());
    }, this.#deps.heartbeatMs);
    this.#timer.unref();
  }

  /**
   * Stops beating and removes this instance, so no survivor mistakes a clean stop for a crash;
   * the last one to stop empties the relayed run events, which only live instances could serve.
   */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#beat;
    const { storage, logger } = this.#deps;
    await storage.instances.removeInstance(this.id);
    await storage.runEvents?.clearIfNoInstanceLeft(this.#staleMs).catch((error: unknown) => logger.warn({ err: error }, "could not empty the relayed run events"));
  }

  /** How long an instance may stay silent before it is presumed dead. */
  get #staleMs(): number {
    return this.#deps.heartbeatMs * MISSED_BEATS;
  }

  async #tick(): Promise<void> {
    const { storage, checkpointer, agent, logger } = this.#deps;
    try {
      await storage.instances.heartbeat(this.id);
      await settleAbandonedRuns(storage, checkpointer, agent, logger, { self: this.id, staleMs: this.#staleMs });
      await storage.runEvents?.pruneRunEvents(RELAYED_EVENTS_KEPT_MS);
      for (const request of this.cancels ? await storage.runs.cancelRequests(this.id) : []) {
        await this.cancels?.cancel(request.threadId, request.runId, request.action).catch(() => undefined);
      }
    } catch (error) {
      logger.error({ err: error }, "heartbeat failed");
    }
  }
}

/**
 * Settles the runs dead instances left unfinished. A run whose final checkpoint was written had
 * finished: it is marked `success`. Any other run that started is undone back to where its thread
 * was when it started, so no half-written turn remains, and marked `error`; runs that never
 * started are marked `error` too. Threads that no live run holds are freed.
 *
 * Each run is taken before its thread is undone, so only one survivor undoes it, and while that
 * one does, the run still holds its thread: no queued run can start there and lose its turn.
 */
export async function settleAbandonedRuns(
  storage: Storage,
  checkpointer: RevertibleCheckpointer,
  agent: Agent,
  logger: Logger,
  options: { self: string; staleMs: number },
): Promise<void> {
  const abandoned = await storage.runs.takeAbandonedRuns(options);
  const outcomes: Array<{ runId: string; status: RunStatus }> = [];
  try {
    for (const run of abandoned) {
      if (run.headCheckpointId === undefined) {
        outcomes.push({ runId: run.runId, status: "error" });
        continue;
      }
      const head = run.headCheckpointId ?? undefined;
      const newest = await checkpointer.headCheckpointId(run.threadId);
      const wroteSomething = newest !== undefined && newest !== head;
      const finished = wroteSomething && (await agent.getState({ configurable: { thread_id: run.threadId } })).next.length === 0;
      if (wroteSomething && !finished) await checkpointer.revertThread(run.threadId, head);
      // A run that finished had no chance to record its thread's values for search.
      if (finished) await recordThreadValues({ agent, storage }, run.threadId);
      outcomes.push({ runId: run.runId, status: finished ? "success" : "error" });
    }
  } finally {
    // Settled ones are closed even if a later one failed (that one stays this instance's, settled
    // when it is abandoned again). Also frees threads left `busy` by a process that stopped
    // between a run's end and its thread's update.
    await storage.runs.closeAbandonedRuns(outcomes);
  }
  if (outcomes.length === 0) return;
  logger.warn(
    { runs: outcomes.length, failed: outcomes.filter((outcome) => outcome.status === "error").length },
    "settled runs left unfinished by a previous process",
  );
}
