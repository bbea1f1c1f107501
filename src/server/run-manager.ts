/**
 * Runs execute here, in process, one at a time per thread. A second run on a busy thread is
 * decided by its multitask strategy: `reject` (409), `enqueue` (runs after the current ones),
 * `interrupt` or `rollback` (cancel the current ones, then run). A cancelled or failed run leaves
 * the thread at its last good checkpoint, because the agent's runs are atomic.
 */
import { v7 as uuid7 } from "@langchain/core/utils/uuid";
import { Command } from "@langchain/langgraph";
import { AppError, NotFoundError, ThreadBusyError } from "../errors.js";
import type { Agent } from "../graph/agent.js";
import type { RevertibleCheckpointer } from "../graph/checkpointer.js";
import type { Logger } from "../logger.js";
import { ASSISTANT_ID, GRAPH_ID, resolveAssistantId } from "./assistants.js";
import { RunEventLog, StreamTranslator, graphModesFor } from "./run-stream.js";
import type { RunCreate, StreamMode } from "./schemas.js";
import type { Run, RunStatus, ThreadStatus, ThreadStore } from "./storage/thread-store.js";
import { errorToWire, runToWire, toWire } from "./wire.js";

/** How a run ended: its status, and the thread's values or the error. */
export interface RunOutcome {
  status: RunStatus;
  values: Record<string, unknown> | null;
  error: { error: string; message: string } | null;
}

/** Why a run was aborted; `rollback` also deletes the run's record. */
type CancelAction = "interrupt" | "rollback";

/** A run the manager knows: queued, running, or recently finished (kept for `join`). */
export class RunHandle {
  readonly log = new RunEventLog();
  readonly controller = new AbortController();
  readonly done: Promise<RunOutcome>;
  cancelAction: CancelAction | undefined;
  started = false;
  #settle!: (outcome: RunOutcome) => void;

  constructor(
    readonly run: Run,
    readonly body: RunCreate,
    /** Thread made for a stateless run, deleted when it ends. */
    readonly temporary: boolean,
  ) {
    this.done = new Promise((resolve) => {
      this.#settle = resolve;
    });
  }

  get finished(): boolean {
    return this.log.finished;
  }

  settle(outcome: RunOutcome): void {
    this.log.finish();
    this.#settle(outcome);
  }
}

interface ThreadSlot {
  active: RunHandle | undefined;
  queue: RunHandle[];
}

/** How long a webhook may take to accept a run's result. */
const WEBHOOK_TIMEOUT_MS = 10_000;

/** Waits `ms`, or rejects when `signal` fires (a run cancelled before its delayed start). */
const delay = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });

/** Finished runs kept in memory so late `join` / `joinStream` calls can still replay them. */
const FINISHED_RUNS_KEPT = 200;

export interface RunManagerDeps {
  agent: Agent;
  checkpointer: RevertibleCheckpointer;
  store: ThreadStore;
  logger: Logger;
}

export class RunManager {
  readonly #deps: RunManagerDeps;
  readonly #slots = new Map<string, ThreadSlot>();
  readonly #handles = new Map<string, RunHandle>();

  constructor(deps: RunManagerDeps) {
    this.#deps = deps;
  }

  /** True while the thread has a run running or queued. */
  isBusy(threadId: string): boolean {
    const slot = this.#slots.get(threadId);
    return slot !== undefined && (slot.active !== undefined || slot.queue.length > 0);
  }

  /** The handle of a run this process knows about (running, queued or recently finished). */
  handle(runId: string): RunHandle | undefined {
    return this.#handles.get(runId);
  }

  /**
   * Creates a run on `threadId` (or on a temporary thread when `undefined`) and schedules it.
   * Throws NotFoundError (unknown thread or assistant) or ThreadBusyError (`reject` on a busy thread).
   */
  async create(threadId: string | undefined, body: RunCreate): Promise<RunHandle> {
    const { store } = this.#deps;
    const assistantId = resolveAssistantId(body.assistant_id);
    const temporary = threadId === undefined && (body.on_completion ?? "delete") === "delete";
    const id = threadId ?? uuid7();
    if (threadId === undefined || !(await store.getThread(id))) {
      if (threadId !== undefined && body.if_not_exists !== "create") throw new NotFoundError(`Thread ${id} not found`);
      await store.createThread({ threadId: id, metadata: { graph_id: GRAPH_ID, assistant_id: assistantId } });
    }

    // From the busy check to the reservation there is no await: two requests cannot both win.
    const slot = this.#slot(id);
    const busy = slot.active !== undefined || slot.queue.length > 0;
    if (busy && body.multitask_strategy === "reject") {
      const current = slot.active ?? slot.queue[0];
      throw new ThreadBusyError(
        `Thread ${id} is busy with run ${current?.run.runId}; wait for it, or set multitask_strategy to enqueue, interrupt or rollback`,
      );
    }
    const now = new Date();
    const run: Run = {
      runId: uuid7(),
      threadId: id,
      assistantId,
      status: "pending",
      metadata: body.metadata ?? {},
      kwargs: runKwargs(body),
      multitaskStrategy: body.multitask_strategy,
      createdAt: now,
      updatedAt: now,
    };
    const handle = new RunHandle(run, body, temporary);
    if (busy && (body.multitask_strategy === "interrupt" || body.multitask_strategy === "rollback")) {
      for (const other of [slot.active, ...slot.queue]) if (other) this.#abort(other, body.multitask_strategy);
    }
    slot.queue.push(handle);
    this.#handles.set(run.runId, handle);

    try {
      Object.assign(run, await store.createRun(run));
      const thread = await store.getThread(id);
      const metadata = thread?.metadata ?? {};
      await store.updateThread(id, {
        status: "busy",
        metadata: metadata.graph_id === undefined ? { graph_id: GRAPH_ID, assistant_id: assistantId } : {},
      });
    } catch (error) {
      slot.queue.splice(slot.queue.indexOf(handle), 1);
      this.#handles.delete(run.runId);
      throw error;
    }
    this.#pump(id);
    return handle;
  }

  /**
   * Cancels a queued or running run. `rollback` also deletes its record. Throws NotFoundError for
   * an unknown run and ThreadBusyError-like 409 for one that already finished.
   */
  async cancel(threadId: string, runId: string, action: CancelAction): Promise<RunHandle> {
    const handle = this.#handles.get(runId);
    if (!handle || handle.run.threadId !== threadId) {
      const run = await this.#deps.store.getRun(threadId, runId);
      if (!run) throw new NotFoundError(`Run ${runId} not found on thread ${threadId}`);
      throw new RunFinishedError(`Run ${runId} is ${run.status}; only pending or running runs can be cancelled`);
    }
    if (handle.finished) throw new RunFinishedError(`Run ${runId} is ${handle.run.status}; only pending or running runs can be cancelled`);
    this.#abort(handle, action);
    return handle;
  }

  /** Cancels everything on a thread and waits until it is idle (before deleting it). */
  async cancelThread(threadId: string): Promise<void> {
    const slot = this.#slots.get(threadId);
    if (!slot) return;
    const handles = [slot.active, ...slot.queue].filter((handle): handle is RunHandle => handle !== undefined);
    for (const handle of handles) this.#abort(handle, "interrupt");
    await Promise.all(handles.map((handle) => handle.done));
  }

  /**
   * Stops taking part: waits up to `graceMs` for running runs, then cancels what is left.
   * Returns how many runs had to be cancelled.
   */
  async shutdown(graceMs: number): Promise<number> {
    const pending = [...this.#handles.values()].filter((handle) => !handle.finished);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([Promise.all(pending.map((handle) => handle.done)), grace]);
    clearTimeout(timer);
    const left = pending.filter((handle) => !handle.finished);
    for (const handle of left) this.#abort(handle, "interrupt");
    await Promise.all(left.map((handle) => handle.done));
    return left.length;
  }

  #slot(threadId: string): ThreadSlot {
    let slot = this.#slots.get(threadId);
    if (!slot) {
      slot = { active: undefined, queue: [] };
      this.#slots.set(threadId, slot);
    }
    return slot;
  }

  #abort(handle: RunHandle, action: CancelAction): void {
    if (handle.finished) return;
    handle.cancelAction ??= action;
    handle.controller.abort(new RunCancelledError(`Run ${handle.run.runId} was cancelled (${action})`));
    // A queued run never started: settle it now rather than when its turn comes.
    const slot = this.#slots.get(handle.run.threadId);
    if (!handle.started && slot && slot.queue.includes(handle)) {
      slot.queue.splice(slot.queue.indexOf(handle), 1);
      void this.#finish(handle, { status: "interrupted", values: null, error: null }).then(() => this.#pump(handle.run.threadId));
    }
  }

  /** Starts the next queued run of a thread if none is running. */
  #pump(threadId: string): void {
    const slot = this.#slots.get(threadId);
    if (!slot || slot.active) return;
    const next = slot.queue.shift();
    if (!next) {
      this.#slots.delete(threadId);
      return;
    }
    slot.active = next;
    void this.#execute(next).finally(() => {
      slot.active = undefined;
      this.#pump(threadId);
    });
  }

  async #execute(handle: RunHandle): Promise<void> {
    const { agent, store, logger } = this.#deps;
    const { run, body } = handle;
    handle.started = true;
    const startedAt = performance.now();
    const requested: StreamMode[] = toModes(body.stream_mode);
    const translator = new StreamTranslator(requested);
    const threadConfig = { configurable: { thread_id: run.threadId } };
    let outcome: RunOutcome;
    try {
      if (body.after_seconds) await delay(body.after_seconds * 1000, handle.controller.signal);
      run.status = "running";
      await store.setRunStatus(run.runId, "running");
      handle.log.push("metadata", { run_id: run.runId, thread_id: run.threadId, attempt: 1 });
      const stream = await agent.stream(graphInput(body) as Parameters<Agent["stream"]>[0], {
        ...runConfig(run, body),
        streamMode: graphModesFor(requested),
        signal: handle.controller.signal,
      });
      for await (const [mode, payload] of stream as AsyncIterable<[Parameters<StreamTranslator["translate"]>[0], unknown]>) {
        for (const [event, data] of translator.translate(mode, payload)) handle.log.push(event, data);
      }
      const state = await agent.getState(threadConfig);
      outcome = { status: "success", values: state.values as Record<string, unknown>, error: null };
      await store.updateThread(run.threadId, { status: this.#statusAfter(handle, state.next.length > 0 ? "interrupted" : "idle") });
    } catch (error) {
      if (handle.cancelAction) {
        outcome = { status: "interrupted", values: null, error: null };
      } else {
        const payload = errorToWire(error);
        handle.log.push("error", payload);
        outcome = { status: "error", values: null, error: payload };
        const level = error instanceof AppError && error.status < 500 ? "warn" : "error";
        logger[level]({ err: error, runId: run.runId, threadId: run.threadId }, "run failed");
      }
      await store.updateThread(run.threadId, { status: this.#statusAfter(handle, outcome.status === "error" ? "error" : "idle") });
    }
    logger.info({ runId: run.runId, threadId: run.threadId, status: outcome.status, durationMs: Math.round(performance.now() - startedAt) }, "run finished");
    await this.#finish(handle, outcome);
  }

  async #finish(handle: RunHandle, outcome: RunOutcome): Promise<void> {
    const { store, checkpointer } = this.#deps;
    const { run } = handle;
    run.status = outcome.status;
    try {
      if (handle.cancelAction === "rollback") await store.deleteRun(run.threadId, run.runId);
      else await store.setRunStatus(run.runId, outcome.status);
      if (handle.temporary) {
        await store.deleteThread(run.threadId);
        await checkpointer.deleteThread(run.threadId);
      }
    } finally {
      handle.settle(outcome);
      this.#remember(handle);
    }
    if (handle.body.webhook) await this.#callWebhook(handle, outcome);
  }

  /** POSTs the finished run and its outcome to the run's webhook; failures are only logged. */
  async #callWebhook(handle: RunHandle, outcome: RunOutcome): Promise<void> {
    const url = handle.body.webhook as string;
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ ...runToWire(handle.run), values: toWire(outcome.values), error: outcome.error }),
        signal: AbortSignal.timeout(WEBHOOK_TIMEOUT_MS),
      });
      if (!response.ok) this.#deps.logger.warn({ runId: handle.run.runId, status: response.status }, "webhook answered with an error");
    } catch (error) {
      this.#deps.logger.warn({ err: error, runId: handle.run.runId }, "webhook call failed");
    }
  }

  /** The thread's status once `handle` ends: busy while more runs are queued. */
  #statusAfter(handle: RunHandle, status: Exclude<ThreadStatus, "busy">): ThreadStatus {
    const slot = this.#slots.get(handle.run.threadId);
    return slot !== undefined && slot.queue.length > 0 ? "busy" : status;
  }

  #remember(handle: RunHandle): void {
    // Map iteration order is insertion order: drop the oldest finished handles first.
    let finished = 0;
    for (const candidate of this.#handles.values()) if (candidate.finished) finished += 1;
    for (const [runId, candidate] of this.#handles) {
      if (finished <= FINISHED_RUNS_KEPT) break;
      if (candidate.finished && candidate !== handle) {
        this.#handles.delete(runId);
        finished -= 1;
      }
    }
  }
}

/** Raised inside a run when it is cancelled, so its error path knows it was not a failure. */
export class RunCancelledError extends AppError {
  override readonly status = 409;
}

/** The run to cancel has already finished. */
export class RunFinishedError extends AppError {
  override readonly status = 409;
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

function runConfig(run: Run, body: RunCreate) {
  const checkpointId = body.checkpoint_id ?? body.checkpoint?.checkpoint_id ?? undefined;
  return {
    configurable: {
      ...body.config?.configurable,
      ...body.context,
      thread_id: run.threadId,
      ...(checkpointId ? { checkpoint_id: checkpointId } : {}),
    },
    ...(body.config?.recursion_limit ? { recursionLimit: body.config.recursion_limit } : {}),
    ...(body.config?.tags ? { tags: body.config.tags } : {}),
    ...(body.interrupt_before ? { interruptBefore: body.interrupt_before } : {}),
    ...(body.interrupt_after ? { interruptAfter: body.interrupt_after } : {}),
    ...(body.durability ? { durability: body.durability } : {}),
    metadata: { ...body.metadata, run_id: run.runId, thread_id: run.threadId, assistant_id: ASSISTANT_ID, graph_id: GRAPH_ID },
  };
}
