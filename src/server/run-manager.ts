/**
 * Runs execute here, in process, one at a time per thread. This is the face routes and the
 * instance monitor use; the work is done by the parts in ./runs/:
 * - admission.ts: the checks before anything is written, then the run's record and queue place;
 * - thread-queue.ts: the per-thread lease and queue, state writes holding a thread, the claim;
 * - execution.ts: running the graph into the run's event log, Stop keeping the input, settling;
 * - run-handle.ts: what a client waits on or streams; run-registry.ts: the runs known by id;
 * - run-webhook.ts: the call to a finished run's webhook; join.ts and respond.ts: the HTTP side.
 * Cancelling is decided here, as it touches the queue and the execution both.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { NotFoundError, ShuttingDownError } from "../errors.js";
import type { Agent } from "../graph/agent.js";
import type { RevertibleCheckpointer } from "../storage/checkpointer.js";
import type { Logger } from "../logger.js";
import type { DocumentIndex } from "../retrieval/document-index.js";
import type { Metrics } from "./metrics.js";
import { ThreadFeed } from "./protocol/thread-feed.js";
import { RunAdmission, type RunPlan } from "./runs/admission.js";
import { RunExecution } from "./runs/execution.js";
import type { CancelAction, CancelReason, RunHandle } from "./runs/run-handle.js";
import { RunRegistry } from "./runs/run-registry.js";
import type { RunAssistant } from "./runs/run-request.js";
import { StateUpdates } from "./runs/state-updates.js";
import { ThreadQueue } from "./runs/thread-queue.js";
import { ThreadTitles } from "./runs/thread-titles.js";
import type { RunCreate } from "./schemas.js";
import type { Storage } from "../storage/storage.js";
import { Webhooks } from "./webhooks.js";

export type { RunPlan } from "./runs/admission.js";
export { type CancelAction, type CancelReason, RunCancelledError, RunHandle, type RunOutcome } from "./runs/run-handle.js";

/** What the run manager is built from; `instanceId`, `documents` and `webhooks` are optional. */
export interface RunManagerDeps {
  agent: Agent;
  checkpointer: RevertibleCheckpointer;
  storage: Storage;
  logger: Logger;
  /** This server instance, stamped on its runs so survivors can tell whose runs died with it. */
  instanceId?: string;
  /** Collections runs may be bound to: an unknown (or another owner's) collection is a 404. */
  documents?: Pick<DocumentIndex, "requireCollection">;
  /** Checks and calls runs' webhooks; public targets only when not given. */
  webhooks?: Webhooks;
  /** TTL in minutes of the threads runs create (`THREAD_TTL`). */
  threadTtlMinutes?: number;
  /** Title untitled threads after their first run (`TITLE_GENERATION`); off when unset. */
  titleGeneration?: boolean;
  /** Where runs and their model calls are counted and timed; nothing is recorded when unset. */
  metrics?: Metrics;
}

/** How often an idle protocol stream looks for events of runs on other instances. */
const PROTOCOL_POLL_MS = 100;

/** Creates, schedules, cancels and shuts down runs (see the module comment for its parts). */
export class RunManager {
  readonly #storage: Storage;
  readonly #registry = new RunRegistry();
  readonly #queue: ThreadQueue;
  readonly #execution: RunExecution;
  readonly #admission: RunAdmission;
  readonly #titles: ThreadTitles;
  /** Clients' state writes, for the thread streams that follow them. */
  readonly stateUpdates = new StateUpdates();
  /** The agent streaming protocol's events of each thread: runs publish them, streams follow them. */
  readonly feed: ThreadFeed;
  #closing = false;

  constructor(deps: RunManagerDeps) {
    this.#storage = deps.storage;
    const webhooks = deps.webhooks ?? new Webhooks();
    // A database that relays run events is shared by instances: their runs' protocol events are
    // found there, so an idle protocol stream looks at it now and then.
    this.feed = new ThreadFeed({ store: deps.storage.threadEvents, logger: deps.logger, pollMs: deps.storage.runEvents ? PROTOCOL_POLL_MS : undefined });
    this.#titles = new ThreadTitles({ agent: deps.agent, storage: deps.storage, enabled: deps.titleGeneration ?? false });
    this.#execution = new RunExecution({
      ...deps,
      titles: this.#titles,
      feed: this.feed,
      webhooks,
      othersOn: (threadId, except) => this.#queue.othersOn(threadId, except),
      onEnded: () => this.#registry.forgetOldRuns(),
    });
    this.#queue = new ThreadQueue(deps.storage, this.#execution);
    this.#admission = new RunAdmission({
      ...deps,
      webhooks,
      queue: this.#queue,
      registry: this.#registry,
      cancel: (handle, action, why) => this.#abort(handle, action, why),
    });
  }

  /** True while the thread has a run running or queued, or a state write holds it. */
  isBusy(threadId: string): boolean {
    return this.#queue.isBusy(threadId);
  }

  /**
   * Runs `work` (a state write, a copy) holding the thread as a run does, here and for other
   * instances: ThreadBusyError while a run is queued or running; a run that arrives meanwhile
   * is refused with `reject` and otherwise waits until `work` has ended.
   */
  async holdThread<T>(threadId: string, work: () => Promise<T>): Promise<T> {
    this.#assertOpen();
    return this.#queue.hold(threadId, work);
  }

  /** The handle of a run this process knows about (running, queued or recently finished). */
  handle(runId: string): RunHandle | undefined {
    return this.#registry.get(runId);
  }

  /** The runs this process has queued or running. */
  unfinished(): RunHandle[] {
    return this.#registry.unfinished();
  }

  /**
   * Throws what a run of `body` would fail with before doing anything (an unknown assistant, a
   * message too long for the context, a prompt variable with no value), so that a refused run
   * leaves nothing behind: no thread, no record.
   */
  validate(body: RunCreate, owner: string | undefined, threadId?: string): Promise<RunAssistant> {
    return this.#admission.validate(body, owner, threadId);
  }

  /**
   * Every check a run of `body` on `threadId` (a temporary thread when `undefined`) must pass,
   * writing nothing (see RunAdmission.check). A batch checks every run before starting any, so a
   * refused batch leaves nothing behind.
   */
  async check(threadId: string | undefined, body: RunCreate, owner: string | undefined): Promise<RunPlan> {
    this.#assertOpen();
    return this.#admission.check(threadId, body, owner);
  }

  /**
   * Creates a run on `threadId` (or on a temporary thread when `undefined`) and schedules it.
   * Throws NotFoundError (unknown thread, checkpoint, assistant or collection), ValidationError
   * (a bad request or webhook) or ThreadBusyError (`reject` on a busy thread); a refused run
   * leaves nothing behind.
   */
  async create(threadId: string | undefined, body: RunCreate, owner?: string): Promise<RunHandle> {
    return this.start(await this.check(threadId, body, owner));
  }

  /**
   * Starts a run `check` accepted: creates its thread if needed, then admits and schedules it.
   * A thread created here is deleted again when the run is refused after all.
   */
  async start(plan: RunPlan): Promise<RunHandle> {
    this.#assertOpen();
    return this.#admission.start(plan);
  }

  /**
   * Cancels a queued or running run; cancelling one that already finished changes nothing
   * (as with the official server). Throws NotFoundError for a run that does not exist.
   */
  async cancel(threadId: string, runId: string, action: CancelAction): Promise<RunHandle | undefined> {
    const handle = this.#registry.get(runId);
    if (handle && handle.run.threadId === threadId) {
      this.#abort(handle, action);
      return handle;
    }
    const run = await this.#storage.runs.getRun(threadId, runId);
    if (!run) throw new NotFoundError(`Run ${runId} not found on thread ${threadId}`);
    // Running on another instance: it sees the request on its next heartbeat.
    if (run.status === "pending" || run.status === "running") await this.#storage.runs.requestCancel(runId, action);
    return undefined;
  }

  /** Cancels everything on a thread and waits until it is idle (before deleting it). */
  async cancelThread(threadId: string): Promise<void> {
    const handles = this.#queue.runsOn(threadId);
    if (handles.length === 0) return;
    for (const handle of handles) {
      this.#abort(handle, "rollback", undefined, { error: "ThreadDeleted", message: `Thread ${threadId} was deleted; run ${handle.run.runId} was cancelled` });
    }
    await Promise.all(handles.map((handle) => handle.done));
  }

  /**
   * Waits up to `graceMs` for unfinished runs, then cancels what is left (keeping their input,
   * as a Stop would). Returns how many runs had to be cancelled.
   */
  async shutdown(graceMs: number): Promise<number> {
    this.#closing = true;
    const pending = this.#registry.unfinished();
    const graceOver = new AbortController();
    const grace = sleep(graceMs, undefined, { signal: graceOver.signal }).catch(() => undefined);
    await Promise.race([Promise.all(pending.map((handle) => handle.done)), grace]);
    graceOver.abort();
    const left = pending.filter((handle) => !handle.finished);
    for (const handle of left) this.#abort(handle, "interrupt", "the server is shutting down");
    await Promise.all(left.map((handle) => handle.done));
    // Let the last status writes land before the caller closes the database.
    await this.#queue.drained();
    await this.#titles.stop();
    return left.length;
  }

  /** Resolves once the thread titles being generated after runs are stored or given up (see runs/thread-titles.ts). */
  titlesSettled(): Promise<void> {
    return this.#titles.settled();
  }

  #assertOpen(): void {
    if (this.#closing) throw new ShuttingDownError("The server is shutting down; try again shortly");
  }

  /** Cancels a run; `why` completes the message of its streams' last event, `reason` replaces it. */
  #abort(handle: RunHandle, action: CancelAction, why?: string, reason?: CancelReason): void {
    const message = `Run ${handle.run.runId} was cancelled (${action})${why ? `: ${why}` : ""}`;
    if (!handle.requestCancel(action, reason ?? { error: "RunCancelled", message })) return;
    // A queued run never started: settle it now rather than when its turn comes. Stopped with
    // `interrupt`, it stays in the queue so that its user message is still kept at its place
    // there, and the thread keeps the order in which people wrote.
    if (!this.#queue.isQueued(handle)) return;
    if (!(action === "interrupt" && handle.body.input?.messages?.length && !handle.temporary)) this.#queue.withdraw(handle);
    handle.log.push("error", handle.cancel?.reason);
    void this.#execution.finish(handle, { status: "interrupted", values: null, error: null }).finally(() => this.#queue.pump(handle.run.threadId));
  }
}
