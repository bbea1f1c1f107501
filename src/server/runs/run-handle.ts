/**
 * A run as this process knows it: the handle a client waits on (`done`) or streams (`log`), from
 * its admission until a while after it ended (see run-registry.ts).
 */
import { AppError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { RunEventLog } from "../run-stream.js";
import type { RunCreate } from "../schemas.js";
import type { RunAssistant } from "./run-request.js";
import type { Run, RunStatus } from "../../storage/runs.js";
import type { ThreadStatus } from "../../storage/threads.js";

/** How a run ended: its status, and the thread's values or the error. */
export interface RunOutcome {
  status: RunStatus;
  values: Record<string, unknown> | null;
  error: { error: string; message: string } | null;
}

/** Why a run was aborted; `rollback` also deletes the run's record and keeps nothing of it. */
export type CancelAction = "interrupt" | "rollback";

/**
 * The last event of a cancelled run's streams (an `error` event, the official server's shape),
 * saying why it ended: `RunCancelled` (a cancel request, a newer run's multitask strategy, a
 * client gone with `on_disconnect: cancel`, the server shutting down) or `ThreadDeleted`.
 */
export interface CancelReason {
  error: "RunCancelled" | "ThreadDeleted";
  message: string;
}

/** The first cancel a run received: later ones change neither. */
export interface RunCancel {
  action: CancelAction;
  reason: CancelReason;
}

/**
 * Where a run is on its way; it only moves forward.
 * - `admitting`: in its thread's queue, but the database does not have its record yet, so it may
 *   not start (its admission may still fail);
 * - `queued`: admitted, waiting for its turn;
 * - `running`: its turn came: it waits for the thread's claim, then runs the graph;
 * - `recording`: the graph has finished and the outcome is being recorded: a cancel changes nothing.
 * Whether it has ended (`finished`) is apart: a run cancelled while queued ends at once, in place.
 */
export type RunPhase = "admitting" | "queued" | "running" | "recording";

/** Raised inside a run when it is cancelled, so its error path knows it was not a failure. */
export class RunCancelledError extends AppError {
  override readonly status = 409;
}

/** A run the manager knows: queued, running, or recently finished (kept for `join`). */
export class RunHandle {
  readonly log = new RunEventLog();
  readonly controller = new AbortController();
  readonly done: Promise<RunOutcome>;
  #phase: RunPhase = "admitting";
  #cancel: RunCancel | undefined;
  /** What the thread's status should be once this run is the last to end; derived when unset. */
  threadStatusAfter: Exclude<ThreadStatus, "busy"> | undefined;
  /** The thread's status was written when this run ended (it was the last on its thread). */
  statusSettled = false;
  /** The thread had a title when the run was admitted: none to generate after it (see thread-titles.ts). */
  threadTitled = false;
  finishedAt: number | undefined;
  /** When it was created, and when its graph started (`performance.now()`), for the metrics. */
  readonly createdAt = performance.now();
  startedAt: number | undefined;
  #settle!: (outcome: RunOutcome) => void;

  constructor(
    readonly run: Run,
    readonly body: RunCreate,
    /** Thread made for a stateless run, deleted when it ends. */
    readonly temporary: boolean,
    /** Who started it, when API keys are on. */
    readonly owner: string | undefined,
    /** The assistant's version it runs with, as it was when the run was admitted. */
    readonly assistant: RunAssistant,
    /** What the run logs goes here: the server's logger, bound to the run's and thread's ids. */
    readonly logger: Logger,
    /** Started through the agent streaming protocol: its events go to its thread's protocol stream too. */
    readonly protocol = false,
  ) {
    this.done = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  get phase(): RunPhase {
    return this.#phase;
  }

  /** The database has its record: it may start when its turn comes. */
  admitted(): void {
    if (this.#phase === "admitting") this.#phase = "queued";
  }

  /** Its turn came (see `RunPhase`). */
  began(): void {
    this.#phase = "running";
  }

  /** The graph has finished: from now on a cancel changes nothing. */
  graphFinished(): void {
    this.#phase = "recording";
  }

  /** Set once it was cancelled: why, and what to keep of it. */
  get cancel(): RunCancel | undefined {
    return this.#cancel;
  }

  /**
   * Cancels the run unless it has ended or its graph has finished (then returns false): records
   * the first cancel's action and reason and aborts its work with RunCancelledError.
   */
  requestCancel(action: CancelAction, reason: CancelReason): boolean {
    if (this.finished || this.#phase === "recording") return false;
    this.#cancel ??= { action, reason };
    this.controller.abort(new RunCancelledError(this.#cancel.reason.message));
    return true;
  }

  get finished(): boolean {
    return this.log.finished;
  }

  settle(outcome: RunOutcome): void {
    this.finishedAt = Date.now();
    this.log.finish();
    this.#settle(outcome);
  }
}
