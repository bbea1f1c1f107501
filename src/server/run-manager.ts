/**
 * Runs execute here, in process, one at a time per thread. A second run on a busy thread is
 * decided by its multitask strategy: `reject` (409), `enqueue` (runs after the current ones),
 * `interrupt` or `rollback` (cancel the current ones, then run).
 *
 * What a run leaves behind: on success, its checkpoints; on failure, nothing (the agent's runs
 * are atomic); when cancelled with `interrupt` (a user pressing Stop), the input messages it was
 * given, so the user's words stay in the thread; when cancelled with `rollback`, nothing, and its
 * record is deleted too.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import { setTimeout as sleep } from "node:timers/promises";
import { v7 as uuid7 } from "@langchain/core/utils/uuid";
import { Command, type StreamMode as GraphStreamMode } from "@langchain/langgraph";
import { AppError, NotFoundError, ShuttingDownError, ThreadBusyError } from "../errors.js";
import type { DocumentIndex } from "../retrieval/document-index.js";
import { coerceMessageLikeToMessage } from "@langchain/core/messages";
import { type Agent, assertHasModel, assertInputFits, runsSettled } from "../graph/agent.js";
import type { RevertibleCheckpointer } from "../storage/checkpointer.js";
import type { Logger } from "../logger.js";
import { ASSISTANT_ID, GRAPH_ID, resolveAssistantId } from "./assistants.js";
import { RunEventLog, StreamTranslator, graphModesFor } from "./run-stream.js";
import type { RunCreate, StreamMode } from "./schemas.js";
import { EventRelay } from "./event-relay.js";
import { bindCollection, requestedCollection, resolveRunCollection } from "./run-collection.js";
import { Webhooks } from "./webhooks.js";
import { type Run, type RunStatus, type Thread, type ThreadStatus, type ThreadStore, relaysRunEvents } from "../storage/thread-store.js";
import { errorToWire, runToWire, toWire } from "./wire.js";

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

/** A run the manager knows: queued, running, or recently finished (kept for `join`). */
export class RunHandle {
  readonly log = new RunEventLog();
  readonly controller = new AbortController();
  readonly done: Promise<RunOutcome>;
  cancelAction: CancelAction | undefined;
  /** Why it was cancelled; sent as its streams' last event. */
  cancelReason: CancelReason | undefined;
  started = false;
  /** The database has its record: until then it may not start (its admission may still fail). */
  admitted = false;
  /** Set once the graph has finished: from then on a cancel changes nothing. */
  graphFinished = false;
  /** The state after the run's last step, as streamed by the graph. */
  finalValues: Record<string, unknown> | undefined;
  /** The run stopped at a breakpoint (`interrupt_before`/`interrupt_after` or `interrupt()`). */
  pausedAtBreakpoint = false;
  /** What the thread's status should be once this run is the last to end; derived when unset. */
  threadStatusAfter: Exclude<ThreadStatus, "busy"> | undefined;
  /** The thread's status was written when this run ended (it was the last on its thread). */
  statusSettled = false;
  /** Cancelled while queued: when its turn comes, only its input is written to the thread. */
  keepInputOnly = false;
  finishedAt: number | undefined;
  #settle!: (outcome: RunOutcome) => void;

  constructor(
    readonly run: Run,
    readonly body: RunCreate,
    /** Thread made for a stateless run, deleted when it ends. */
    readonly temporary: boolean,
    /** Who started it, when API keys are on. */
    readonly owner: string | undefined,
  ) {
    this.done = new Promise((resolve) => {
      this.#settle = resolve;
    });
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

/** A run request that passed `RunManager.check`: everything `start` needs, nothing written yet. */
export interface RunPlan {
  threadId: string;
  /** The request, bound to the one collection that was checked. */
  body: RunCreate;
  assistantId: string;
  /** The thread, or `null` when `start` creates it (a temporary thread, or `if_not_exists: create`). */
  thread: Thread | null;
  temporary: boolean;
  owner: string | undefined;
}

interface ThreadSlot {
  active: RunHandle | undefined;
  queue: RunHandle[];
  /** The run that ended last, which decides the thread's status once idle. */
  last: RunHandle | undefined;
  /** A state write or copy holds the thread (`holdThread`): runs wait for it, or are refused. */
  held: boolean;
}

/** Finished runs stay joinable this long, and at most this many: their event logs can be large. */
const FINISHED_RUN_TTL_MS = 60_000;
const FINISHED_RUNS_KEPT = 50;
/** How often a run waiting for another instance to free its thread asks again. */
const CLAIM_POLL_MS = 50;

export interface RunManagerDeps {
  agent: Agent;
  checkpointer: RevertibleCheckpointer;
  store: ThreadStore;
  logger: Logger;
  /** This server instance, stamped on its runs so survivors can tell whose runs died with it. */
  instanceId?: string;
  /** Collections runs may be bound to: an unknown (or another owner's) collection is a 404. */
  documents?: Pick<DocumentIndex, "requireCollection">;
  /** Checks and calls runs' webhooks; public targets only when not given. */
  webhooks?: Webhooks;
}

export class RunManager {
  readonly #deps: RunManagerDeps;
  readonly #webhooks: Webhooks;
  readonly #slots = new Map<string, ThreadSlot>();
  readonly #handles = new Map<string, RunHandle>();
  /** Thread status updates still being written; shutdown waits for them. */
  readonly #settling = new Set<Promise<void>>();
  #closing = false;
  #lastQueuedAt = 0;

  constructor(deps: RunManagerDeps) {
    this.#deps = deps;
    this.#webhooks = deps.webhooks ?? new Webhooks();
  }

  /** True while the thread has a run running or queued. */
  isBusy(threadId: string): boolean {
    const slot = this.#slots.get(threadId);
    return slot !== undefined && (slot.active !== undefined || slot.queue.length > 0 || slot.held);
  }

  /**
   * Runs `work` (a state write, a copy) holding the thread as a run does, here and for other
   * instances: ThreadBusyError while a run is queued or running; a run that arrives meanwhile
   * is refused with `reject` and otherwise waits until `work` has ended.
   */
  async holdThread<T>(threadId: string, work: () => Promise<T>): Promise<T> {
    if (this.#closing) throw new ShuttingDownError("The server is shutting down; try again shortly");
    const slot = this.#slot(threadId);
    if (this.isBusy(threadId)) throw new ThreadBusyError(`Thread ${threadId} has a run in progress; update its state when the run ends`);
    slot.held = true;
    try {
      const held = await this.#deps.store.holdThread(threadId, work);
      if ("busyWith" in held) throw new ThreadBusyError(`Thread ${threadId} has a run in progress (${held.busyWith}); update its state when the run ends`);
      return held.value;
    } finally {
      slot.held = false;
      // Runs queued meanwhile start now; with none, the thread's status is the writer's to set.
      if (slot.queue.length > 0) this.#pump(threadId);
      else if (!slot.active) this.#slots.delete(threadId);
    }
  }

  /** The handle of a run this process knows about (running, queued or recently finished). */
  handle(runId: string): RunHandle | undefined {
    return this.#handles.get(runId);
  }

  /**
   * Throws what a run of `body` would fail with before doing anything (unknown assistant, a
   * message too long for the context, a prompt variable with no value), so that a refused run
   * leaves nothing behind: no thread, no record.
   */
  validate(body: RunCreate, threadId = "validation"): string {
    const assistantId = resolveAssistantId(body.assistant_id);
    assertHasModel(this.#deps.agent);
    if (body.input?.messages?.length) {
      const messages = body.input.messages.map((message) => coerceMessageLikeToMessage(message as never));
      assertInputFits(this.#deps.agent, messages, { configurable: runConfigurable(threadId, body) });
    }
    return assistantId;
  }

  /**
   * Every check a run of `body` on `threadId` (a temporary thread when `undefined`) must pass,
   * writing nothing: `validate`, the thread (404 unless it exists or `if_not_exists` is `create`),
   * the checkpoint it forks from, its collection (404 unless `owner`'s) and its webhook (422).
   * A batch checks every run before starting any, so a refused batch leaves nothing behind.
   */
  async check(threadId: string | undefined, body: RunCreate, owner: string | undefined): Promise<RunPlan> {
    if (this.#closing) throw new ShuttingDownError("The server is shutting down; try again shortly");
    const { store, checkpointer } = this.#deps;
    const id = threadId ?? uuid7();
    const assistantId = this.validate(body, id);
    if (body.webhook) await this.#webhooks.check(body.webhook);
    const temporary = threadId === undefined && (body.on_completion ?? "delete") === "delete";
    const thread = threadId === undefined ? null : await store.getThread(id, owner);
    if (!thread && threadId !== undefined && body.if_not_exists !== "create") throw new NotFoundError(`Thread ${id} not found`);
    // Forking from a checkpoint that does not exist would silently start from an empty thread;
    // a thread still to be created has none (leftovers of a deleted one do not count).
    const checkpointId = body.checkpoint_id ?? body.checkpoint?.checkpoint_id ?? undefined;
    if (checkpointId && !(thread && (await checkpointer.getTuple({ configurable: { thread_id: id, checkpoint_ns: "", checkpoint_id: checkpointId } })))) {
      throw new NotFoundError(`Checkpoint ${checkpointId} not found on thread ${id}`);
    }
    // The collection is decided once, here, from the request and the thread's metadata, and
    // checked before a thread is created for the run. The run carries exactly that collection
    // from now on: a later change of the thread's metadata does not reach a queued run.
    const collectionId = resolveRunCollection(body, thread?.metadata);
    await this.#requireCollection(collectionId, owner);
    return { threadId: id, body: bindCollection(body, collectionId), assistantId, thread, temporary, owner };
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
   * A thread created here is deleted again when the run is refused after all (a busy thread,
   * another instance's run, a database error).
   */
  async start(plan: RunPlan): Promise<RunHandle> {
    if (this.#closing) throw new ShuttingDownError("The server is shutting down; try again shortly");
    const { store, checkpointer } = this.#deps;
    let { thread } = plan;
    if (thread) return this.#admit(plan, thread);
    thread = await store.createThread({ threadId: plan.threadId, metadata: { graph_id: GRAPH_ID, assistant_id: plan.assistantId }, owner: plan.owner });
    // The id is taken by a thread its caller may not see: to them it does not exist.
    if (!thread) throw new NotFoundError(`Thread ${plan.threadId} not found`);
    // A deleted thread of the same id must not come back through leftover checkpoints.
    await checkpointer.deleteThread(plan.threadId);
    try {
      return await this.#admit(plan, thread);
    } catch (error) {
      await store.deleteThread(plan.threadId);
      await checkpointer.deleteThread(plan.threadId);
      throw error;
    }
  }

  async #admit(plan: RunPlan, thread: Thread): Promise<RunHandle> {
    const { store } = this.#deps;
    const { threadId: id, body, assistantId, temporary, owner } = plan;
    // From the busy check to the reservation there is no await: two requests cannot both win.
    const slot = this.#slot(id);
    const busy = slot.active !== undefined || slot.queue.length > 0 || slot.held;
    if (busy && body.multitask_strategy === "reject") {
      const current = slot.active ?? slot.queue[0];
      throw new ThreadBusyError(
        `Thread ${id} is busy with ${current ? `run ${current.run.runId}` : "a state update"}; wait for it, or set multitask_strategy to enqueue, interrupt or rollback`,
      );
    }
    // Taken now, in queue order, and strictly increasing: it orders the queue across instances.
    this.#lastQueuedAt = Math.max(Date.now(), this.#lastQueuedAt + 1);
    const now = new Date(this.#lastQueuedAt);
    const run: Run = {
      runId: uuid7(),
      threadId: id,
      instanceId: this.#deps.instanceId,
      assistantId,
      status: "pending",
      metadata: body.metadata ?? {},
      kwargs: runKwargs(body),
      multitaskStrategy: body.multitask_strategy,
      createdAt: now,
      updatedAt: now,
    };
    const handle = new RunHandle(run, body, temporary, owner);
    if (busy && (body.multitask_strategy === "interrupt" || body.multitask_strategy === "rollback")) {
      const why = `run ${run.runId} was started on the thread with multitask_strategy ${body.multitask_strategy}`;
      for (const other of [slot.active, ...slot.queue]) if (other) this.#abort(other, body.multitask_strategy, why);
    }
    slot.queue.push(handle);
    this.#handles.set(run.runId, handle);

    try {
      // The database decides for every instance: another one may hold this thread right now.
      const admitted = await store.admitRun(run, { exclusive: body.multitask_strategy === "reject" });
      if ("busyWith" in admitted) {
        throw new ThreadBusyError(
          `Thread ${id} is busy with run ${admitted.busyWith}; wait for it, or set multitask_strategy to enqueue, interrupt or rollback`,
        );
      }
      Object.assign(run, admitted.run);
      handle.admitted = true;
      // interrupt / rollback also reach runs that other instances execute on this thread.
      if (body.multitask_strategy === "interrupt" || body.multitask_strategy === "rollback") {
        for (const other of admitted.others) if (!this.#handles.has(other)) await store.requestCancel(other, body.multitask_strategy);
      }
      // Like the official server, every run stamps its graph and assistant on the thread, so lists
      // filtered by either (Studio's) show threads created with other metadata or none.
      const stamped = thread.metadata.graph_id === GRAPH_ID && thread.metadata.assistant_id === assistantId;
      await store.updateThread(id, { status: "busy", metadata: stamped ? {} : { graph_id: GRAPH_ID, assistant_id: assistantId } });
    } catch (error) {
      if (slot.queue.includes(handle)) slot.queue.splice(slot.queue.indexOf(handle), 1);
      this.#handles.delete(run.runId);
      this.#pump(id);
      throw error;
    }
    this.#pump(id);
    return handle;
  }

  /**
   * Cancels a queued or running run; cancelling one that already finished changes nothing
   * (as with the official server). Throws NotFoundError for a run that does not exist.
   */
  async cancel(threadId: string, runId: string, action: CancelAction): Promise<RunHandle | undefined> {
    const handle = this.#handles.get(runId);
    if (handle && handle.run.threadId === threadId) {
      this.#abort(handle, action);
      return handle;
    }
    const run = await this.#deps.store.getRun(threadId, runId);
    if (!run) throw new NotFoundError(`Run ${runId} not found on thread ${threadId}`);
    // Running on another instance: it sees the request on its next heartbeat.
    if (run.status === "pending" || run.status === "running") await this.#deps.store.requestCancel(runId, action);
    return undefined;
  }

  /** Cancels everything on a thread and waits until it is idle (before deleting it). */
  async cancelThread(threadId: string): Promise<void> {
    const slot = this.#slots.get(threadId);
    if (!slot) return;
    const handles = [slot.active, ...slot.queue].filter((handle): handle is RunHandle => handle !== undefined);
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
    const pending = [...this.#handles.values()].filter((handle) => !handle.finished);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(pending.map((handle) => handle.done)), grace]);
    clearTimeout(timer);
    const left = pending.filter((handle) => !handle.finished);
    for (const handle of left) this.#abort(handle, "interrupt", "the server is shutting down");
    await Promise.all(left.map((handle) => handle.done));
    // Let the last status writes land before the caller closes the database.
    while (this.#settling.size > 0 || [...this.#slots.values()].some((slot) => slot.active)) {
      await Promise.all([...this.#settling]);
      await new Promise((resolve) => setImmediate(resolve));
    }
    return left.length;
  }

  #slot(threadId: string): ThreadSlot {
    let slot = this.#slots.get(threadId);
    if (!slot) {
      slot = { active: undefined, queue: [], last: undefined, held: false };
      this.#slots.set(threadId, slot);
    }
    return slot;
  }

  /** Throws NotFoundError unless `collectionId` (when there is one) is `owner`'s. */
  async #requireCollection(collectionId: string | undefined, owner: string | undefined): Promise<void> {
    if (collectionId !== undefined) await this.#deps.documents?.requireCollection(collectionId, owner);
  }

  /** Cancels a run; `why` completes the message of its streams' last event, `reason` replaces it. */
  #abort(handle: RunHandle, action: CancelAction, why?: string, reason?: CancelReason): void {
    if (handle.finished || handle.graphFinished) return;
    handle.cancelAction ??= action;
    handle.cancelReason ??= reason ?? { error: "RunCancelled", message: `Run ${handle.run.runId} was cancelled (${action})${why ? `: ${why}` : ""}` };
    handle.controller.abort(new RunCancelledError(handle.cancelReason.message));
    // A queued run never started: settle it now rather than when its turn comes. Stopped with
    // `interrupt`, its user message is still kept, at its place in the queue, so the thread
    // keeps the order in which people wrote.
    const slot = this.#slots.get(handle.run.threadId);
    if (!handle.started && slot?.queue.includes(handle)) {
      if (action === "interrupt" && handle.body.input?.messages?.length && !handle.temporary) handle.keepInputOnly = true;
      else slot.queue.splice(slot.queue.indexOf(handle), 1);
      handle.log.push("error", handle.cancelReason);
      void this.#finish(handle, { status: "interrupted", values: null, error: null }).finally(() => this.#pump(handle.run.threadId));
    }
  }

  /** Starts the next queued run of a thread; when none is left, settles the thread's status. */
  #pump(threadId: string): void {
    const slot = this.#slots.get(threadId);
    // A run still being admitted starts when its admission ends (it pumps then).
    if (!slot || slot.active || slot.held || (slot.queue[0] && !slot.queue[0].admitted)) return;
    const next = slot.queue.shift();
    if (!next) {
      this.#slots.delete(threadId);
      // Usually the last run wrote the status before it settled; this covers queues emptied by cancels.
      if (!slot.last?.statusSettled) {
        const settling = this.#settleThreadStatus(threadId, slot.last);
        this.#settling.add(settling);
        void settling.finally(() => this.#settling.delete(settling));
      }
      return;
    }
    slot.active = next;
    const work = next.keepInputOnly ? this.#keepInput(next) : this.#execute(next);
    void work.finally(() => {
      slot.active = undefined;
      slot.last = next;
      this.#pump(threadId);
    });
  }

  /** True while the thread has runs other than `except` running or queued. */
  #othersOn(threadId: string, except: RunHandle | undefined): boolean {
    const slot = this.#slots.get(threadId);
    if (!slot) return false;
    return (slot.active !== undefined && slot.active !== except) || slot.queue.some((handle) => handle !== except);
  }

  /** An idle thread is `error` after a failed run, `interrupted` at a breakpoint, else `idle`. */
  async #settleThreadStatus(threadId: string, last: RunHandle | undefined): Promise<void> {
    const { agent, store, logger } = this.#deps;
    try {
      if (last?.temporary) return;
      let status = last?.threadStatusAfter;
      if (status === undefined) {
        // After a cancel the state is what the revert left: read it.
        if (!(await store.getThread(threadId))) return;
        status = (await agent.getState({ configurable: { thread_id: threadId } })).next.length > 0 ? "interrupted" : "idle";
      }
      // A run may have been queued meanwhile; it owns the status now.
      if (!this.#othersOn(threadId, last)) await store.settleThreadStatus(threadId, status);
    } catch (error) {
      logger.error({ err: error, threadId }, "could not update the thread's status");
    }
  }

  async #execute(handle: RunHandle): Promise<void> {
    const { store, logger } = this.#deps;
    const { run, body } = handle;
    handle.started = true;
    const startedAt = performance.now();
    // With several instances, the events also go to the database for followers elsewhere.
    const relay = relaysRunEvents(store) ? new EventRelay(store, run.runId, logger) : undefined;
    if (relay) handle.log.onEvent((event) => relay.add(event));
    let outcome: RunOutcome;
    try {
      if (body.after_seconds) await sleep(body.after_seconds * 1000, undefined, { signal: handle.controller.signal });
      // The thread may have been deleted while the run waited in the queue.
      if (!handle.temporary && !(await store.getThread(run.threadId))) throw new NotFoundError(`Thread ${run.threadId} was deleted`);
      // Checked again when used: the collection may have been deleted while the run waited.
      await this.#requireCollection(requestedCollection(body), handle.owner);
      // Another instance may be running this thread: wait for the database to give us our turn.
      while (!(await store.claimRun(run.runId, run.threadId))) await sleep(CLAIM_POLL_MS, undefined, { signal: handle.controller.signal });
      run.status = "running";
      // Recorded so that, should the process die mid-run, the next start can undo what it wrote.
      const headCheckpointId = await this.#deps.checkpointer.headCheckpointId(run.threadId);
      await store.setRunStatus(run.runId, "running", { headCheckpointId });
      handle.log.push("metadata", { run_id: run.runId, thread_id: run.threadId, attempt: 1 });
      try {
        await this.#stream(handle);
      } finally {
        await runsSettled(this.#deps.agent, run.threadId);
      }
      handle.graphFinished = true;
      // Deleted meanwhile (perhaps through another instance): leave nothing of it behind.
      if (!handle.temporary && !(await store.getThread(run.threadId))) {
        await this.#deps.checkpointer.deleteThread(run.threadId);
        throw new NotFoundError(`Thread ${run.threadId} was deleted while the run was going`);
      }
      const values = handle.finalValues ?? ((await this.#deps.agent.getState({ configurable: { thread_id: run.threadId } })).values as Record<string, unknown>);
      handle.threadStatusAfter = handle.pausedAtBreakpoint ? "interrupted" : "idle";
      outcome = { status: "success", values, error: null };
    } catch (error) {
      if (handle.cancelAction) {
        outcome = { status: "interrupted", values: lastValues(handle), error: null };
        // Its streams end saying why, rather than just stopping.
        handle.log.push("error", handle.cancelReason);
        if (handle.cancelAction === "interrupt") await this.#keepInput(handle);
      } else {
        const payload = errorToWire(error);
        handle.log.push("error", payload);
        outcome = { status: "error", values: null, error: payload };
        handle.threadStatusAfter = "error";
        const level = error instanceof AppError && error.status < 500 ? "warn" : "error";
        logger[level]({ err: error, runId: run.runId, threadId: run.threadId }, "run failed");
      }
    }
    logger.info(
      { runId: run.runId, threadId: run.threadId, status: outcome.status, durationMs: Math.round(performance.now() - startedAt) },
      "run finished",
    );
    // Every event is stored before the run is recorded as ended: a remote follower that sees the
    // end has all its events.
    await relay?.close();
    await this.#finish(handle, outcome);
  }

  /** Runs the graph and turns its output into the run's events. */
  async #stream(handle: RunHandle): Promise<void> {
    const { agent } = this.#deps;
    const { run, body } = handle;
    const requested = toModes(body.stream_mode);
    const translator = new StreamTranslator(requested);
    // "values" always: the last one is the run's result, which spares reading the state back;
    // "updates" always: an `__interrupt__` update says the run paused at a breakpoint.
    const options = {
      ...runConfig(run, body),
      streamMode: [...new Set<GraphStreamMode>([...graphModesFor(requested), "values", "updates"])],
      signal: handle.controller.signal,
    };
    const input = graphInput(body) as Parameters<Agent["stream"]>[0];
    const publish = (mode: GraphStreamMode, payload: unknown) => {
      const interrupted = payload !== null && typeof payload === "object" && "__interrupt__" in payload;
      if (interrupted && (mode === "values" || mode === "updates")) handle.pausedAtBreakpoint = true;
      else if (mode === "values") handle.finalValues = payload as Record<string, unknown>;
      for (const [event, data] of translator.translate(mode, payload)) handle.log.push(event, data);
    };
    if (!requested.includes("events")) {
      const stream = await agent.stream(input, options);
      for await (const [mode, payload] of stream as AsyncIterable<[GraphStreamMode, unknown]>) publish(mode, payload);
      return;
    }
    // "events" needs every LangChain callback event; the graph's own chunks come through as
    // on_chain_stream events of the run itself.
    for await (const event of agent.streamEvents(input, { ...options, version: "v2", runId: run.runId })) {
      if (event.event === "on_chain_stream" && event.run_id === run.runId) {
        const [mode, payload] = event.data.chunk as [GraphStreamMode, unknown];
        publish(mode, payload);
      } else {
        handle.log.push("events", event);
      }
    }
  }

  /**
   * After a Stop (`interrupt`), the run was undone; the user's own messages are written back so
   * they stay in the thread (on the branch the run was on), as a finished turn with no reply.
   */
  async #keepInput(handle: RunHandle): Promise<void> {
    const messages = handle.body.input?.messages;
    if (!messages?.length || handle.temporary) return;
    const { agent, store, logger } = this.#deps;
    try {
      if (!(await store.getThread(handle.run.threadId))) return;
      const checkpointId = handle.body.checkpoint_id ?? handle.body.checkpoint?.checkpoint_id ?? undefined;
      const config: RunnableConfig = { configurable: { thread_id: handle.run.threadId, ...(checkpointId ? { checkpoint_id: checkpointId } : {}) } };
      await agent.updateState(config, { messages }, "model");
    } catch (error) {
      logger.error({ err: error, runId: handle.run.runId }, "could not keep the input of a cancelled run");
    }
  }

  async #finish(handle: RunHandle, outcome: RunOutcome): Promise<void> {
    const { store, checkpointer, logger } = this.#deps;
    const { run } = handle;
    run.status = outcome.status;
    try {
      if (handle.cancelAction === "rollback" && outcome.status === "interrupted") await store.deleteRun(run.threadId, run.runId);
      else await store.setRunStatus(run.runId, outcome.status);
      if (handle.temporary) {
        await store.deleteThread(run.threadId);
        await checkpointer.deleteThread(run.threadId);
      } else if (!this.#othersOn(run.threadId, handle)) {
        // Before `done` resolves: whoever awaited the run reads the thread's final status.
        await this.#settleThreadStatus(run.threadId, handle);
        handle.statusSettled = true;
      }
    } catch (error) {
      logger.error({ err: error, runId: run.runId }, "could not record the end of a run");
    } finally {
      handle.settle(outcome);
      this.#forgetOldRuns();
    }
    if (handle.body.webhook) void this.#callWebhook(handle, outcome);
  }

  /**
   * POSTs the finished run and its outcome to the run's webhook, checking its target again (see
   * webhooks.ts); failures are only logged.
   */
  async #callWebhook(handle: RunHandle, outcome: RunOutcome): Promise<void> {
    const url = handle.body.webhook as string;
    try {
      const status = await this.#webhooks.post(url, { ...runToWire(handle.run), values: toWire(outcome.values), error: outcome.error });
      if (status >= 300 && status < 400) this.#deps.logger.warn({ runId: handle.run.runId, status }, "webhook answered with a redirect, which is not followed");
      else if (status >= 400) this.#deps.logger.warn({ runId: handle.run.runId, status }, "webhook answered with an error");
    } catch (error) {
      this.#deps.logger.warn({ err: error, runId: handle.run.runId }, "webhook call failed");
    }
  }

  /** Drops finished runs older than the TTL, and the oldest beyond the count limit. */
  #forgetOldRuns(): void {
    const now = Date.now();
    const finished = [...this.#handles.values()].filter((handle) => handle.finishedAt !== undefined);
    const excess = finished.length - FINISHED_RUNS_KEPT;
    for (const [index, handle] of finished.entries()) {
      if (index < excess || now - (handle.finishedAt as number) > FINISHED_RUN_TTL_MS) this.#handles.delete(handle.run.runId);
    }
  }
}

/** Raised inside a run when it is cancelled, so its error path knows it was not a failure. */
export class RunCancelledError extends AppError {
  override readonly status = 409;
}

/** The values of the last `values` event a run published, if any. */
function lastValues(handle: RunHandle): Record<string, unknown> | null {
  return (handle.log.lastRaw("values") as Record<string, unknown> | undefined) ?? null;
}

function toModes(streamMode: RunCreate["stream_mode"]): StreamMode[] {
  if (streamMode === undefined) return ["values"];
  return Array.isArray(streamMode) ? (streamMode.length > 0 ? streamMode : ["values"]) : [streamMode];
}

/** What the run record keeps of the request, as the official server's `kwargs`. */
function runKwargs(body: RunCreate): Record<string, unknown> {
  return {
    input: body.input ?? null,
    command: body.command ?? null,
    config: body.config ?? {},
    context: body.context ?? {},
    stream_mode: toModes(body.stream_mode),
    interrupt_before: body.interrupt_before ?? null,
    interrupt_after: body.interrupt_after ?? null,
    checkpoint_id: body.checkpoint_id ?? body.checkpoint?.checkpoint_id ?? null,
    on_disconnect: body.on_disconnect,
    if_not_exists: body.if_not_exists,
  };
}

function graphInput(body: RunCreate): unknown {
  if (body.command) {
    const { update, resume, goto } = body.command;
    return new Command({ update: update as Record<string, unknown> | undefined, resume, goto: goto as string | string[] | undefined });
  }
  return body.input ?? null;
}

/** `configurable` keys a client may not set: LangGraph's own (`__*`) and the thread/checkpoint address. */
const RESERVED_KEY = /^(__|checkpoint_|thread_id$)/;
const clientKeys = (record: Record<string, unknown> | null | undefined) =>
  Object.fromEntries(Object.entries(record ?? {}).filter(([key]) => !RESERVED_KEY.test(key)));

/**
 * What the graph's nodes see as `configurable`: the run's config and context (minus reserved
 * keys, which could redirect the run or switch off its undo), the one collection the request
 * names (for a created run, the checked one `bindCollection` left in it), its thread and the
 * checkpoint it forks from, which only the request's `checkpoint_id`/`checkpoint` may name.
 */
function runConfigurable(threadId: string, body: RunCreate): Record<string, unknown> {
  const checkpointId = body.checkpoint_id ?? body.checkpoint?.checkpoint_id ?? undefined;
  const collectionId = requestedCollection(body);
  const { collection_id: _fromConfig, ...configurable } = clientKeys(body.config?.configurable);
  const { collection_id: _fromContext, ...context } = clientKeys(body.context);
  return {
    ...configurable,
    ...context,
    ...(collectionId === undefined ? {} : { collection_id: collectionId }),
    thread_id: threadId,
    ...(checkpointId ? { checkpoint_id: checkpointId } : {}),
  };
}

function runConfig(run: Run, body: RunCreate) {
  return {
    configurable: runConfigurable(run.threadId, body),
    ...(body.config?.recursion_limit ? { recursionLimit: body.config.recursion_limit } : {}),
    ...(body.config?.tags ? { tags: body.config.tags } : {}),
    ...(body.interrupt_before ? { interruptBefore: body.interrupt_before } : {}),
    ...(body.interrupt_after ? { interruptAfter: body.interrupt_after } : {}),
    ...(body.durability ? { durability: body.durability } : {}),
    metadata: { ...body.metadata, run_id: run.runId, thread_id: run.threadId, assistant_id: ASSISTANT_ID, graph_id: GRAPH_ID },
  };
}
