/**
 * Executes a run whose turn came: waits for its claim, runs the graph, turns the graph's output
 * into the run's events, and records how it ended.
 *
 * What a run leaves behind: on success, its checkpoints; on failure, nothing (the agent's runs
 * are atomic); when cancelled with `interrupt` (a user pressing Stop), the input messages it was
 * given and the part of the reply already streamed, marked as stopped (see partial-reply.ts), so
 * the thread keeps what the user saw; when cancelled with `rollback`, nothing, and its record is
 * deleted too.
 */
import type { RunnableConfig } from "@langchain/core/runnables";
import type { StreamMode as GraphStreamMode } from "@langchain/langgraph";
import { setTimeout as sleep } from "node:timers/promises";
import { AppError, NotFoundError } from "../../errors.js";
import { type Agent, runsSettled } from "../../graph/agent.js";
import { PartialReply, keepStoppedTurn } from "../../graph/partial-reply.js";
import type { RevertibleCheckpointer } from "../../storage/checkpointer.js";
import type { Logger } from "../../logger.js";
import type { DocumentIndex } from "../../retrieval/document-index.js";
import { requestedCollection, requireCollection } from "../run-collection.js";
import { StreamTranslator, graphModesFor } from "../run-stream.js";
import { scopedStore } from "../../storage/scoped-store.js";
import type { Storage } from "../../storage/storage.js";
import type { ThreadStatus } from "../../storage/threads.js";
import type { Webhooks } from "../webhooks.js";
import { currentValues, valuesProjection } from "../thread-values.js";
import { errorToWire } from "../wire.js";
import { ProtocolRecorder } from "../protocol/run-recorder.js";
import type { ThreadFeed } from "../protocol/thread-feed.js";
import type { Metrics } from "../metrics.js";
import { EventRelay } from "./event-relay.js";
import { modelMetricsHandler } from "./model-metrics.js";
import type { RunHandle, RunOutcome } from "./run-handle.js";
import { forkCheckpointId, graphInput, runConfig, toModes } from "./run-request.js";
import { callRunWebhook } from "./run-webhook.js";
import type { ThreadTitles } from "./thread-titles.js";
import { type QueueWork, waitForClaim } from "./thread-queue.js";
import { withModelCallHandlers } from "../../graph/model-call-config.js";

/** What execution needs: the agent and storage, and of the queue only whether other runs follow. */
export interface RunExecutionDeps {
  agent: Agent;
  checkpointer: RevertibleCheckpointer;
  storage: Storage;
  logger: Logger;
  documents?: Pick<DocumentIndex, "requireCollection">;
  webhooks: Webhooks;
  /** Where runs started through the agent streaming protocol publish their events. */
  feed: ThreadFeed;
  /** True while the thread has runs other than `except` running or queued (they own its status). */
  othersOn(threadId: string, except: RunHandle | undefined): boolean;
  /** Called as each run ends, after its outcome is out. */
  onEnded(handle: RunHandle): void;
  /** Titles threads after their first exchange (in the background); none when absent. */
  titles?: ThreadTitles;
  /** Where runs are counted and timed; nothing is recorded when absent. */
  metrics?: Metrics;
}

/** What the graph's own stream said about the run's end. */
interface GraphResult {
  /** The state after the run's last step. */
  finalValues: Record<string, unknown> | undefined;
  /** The run stopped at a breakpoint (`interrupt_before`/`interrupt_after` or `interrupt()`). */
  pausedAtBreakpoint: boolean;
}

/** Executes runs when the thread queue gives them their turn, and records how each ended. */
export class RunExecution implements QueueWork {
  constructor(private readonly deps: RunExecutionDeps) {}

  async execute(handle: RunHandle): Promise<void> {
    const { storage, checkpointer, agent, metrics } = this.deps;
    const { run, body, logger } = handle;
    handle.began();
    const startedAt = performance.now();
    // With several instances, the events also go to the database for followers elsewhere.
    const relay = storage.runEvents ? new EventRelay(storage.runEvents, run.runId, logger) : undefined;
    if (relay) handle.log.onEvent((event) => relay.add(event));
    let outcome: RunOutcome;
    let recorder: ProtocolRecorder | undefined;
    // What the model streamed, kept should the run be stopped.
    const partial = new PartialReply();
    try {
      const { signal } = handle.controller;
      if (body.after_seconds) await sleep(body.after_seconds * 1000, undefined, { signal });
      // Checked again when used: the collection may have been deleted while the run waited.
      await requireCollection(this.deps.documents, requestedCollection(body), handle.owner);
      // Another instance may be running this thread: wait for the database to give us our turn.
      // The thread's newest checkpoint is recorded with the claim so that, should the process
      // die mid-run, the next start can undo what the run wrote.
      // (A thread deleted while the run waited in the queue fails it there, see `waitForClaim`.)
      await waitForClaim(storage, run, signal, () => checkpointer.headCheckpointId(run.threadId));
      run.status = "running";
      handle.startedAt = performance.now();
      metrics?.runQueueWait.observe((handle.startedAt - handle.createdAt) / 1000);
      handle.log.push("metadata", { run_id: run.runId, thread_id: run.threadId, attempt: 1 });
      if (handle.protocol) {
        // Numbered after the thread's last event: holding the claim, no other run publishes.
        recorder = new ProtocolRecorder(await this.deps.feed.publisher(run.threadId, run.runId), handle.assistant.graphId);
        recorder.started();
      }
      let result: GraphResult;
      try {
        result = await this.#stream(handle, partial, recorder);
      } finally {
        await runsSettled(agent, run.threadId);
      }
      handle.graphFinished();
      // Deleted meanwhile (perhaps through another instance): leave nothing of it behind.
      if (!handle.temporary && !(await storage.threads.threadExists(run.threadId))) {
        await checkpointer.deleteThread(run.threadId);
        throw new NotFoundError(`Thread ${run.threadId} was deleted while the run was going`);
      }
      const values = result.finalValues ?? ((await agent.getState({ configurable: { thread_id: run.threadId } })).values as Record<string, unknown>);
      handle.threadStatusAfter = result.pausedAtBreakpoint ? "interrupted" : "idle";
      outcome = { status: "success", values, error: null };
    } catch (error) {
      if (handle.cancel) {
        outcome = { status: "interrupted", values: lastValues(handle), error: null };
        // Its streams end saying why, rather than just stopping.
        handle.log.push("error", handle.cancel.reason);
        if (handle.cancel.action === "interrupt") await this.keepInput(handle, partial);
      } else {
        const payload = errorToWire(error);
        handle.log.push("error", payload);
        outcome = { status: "error", values: null, error: payload };
        handle.threadStatusAfter = "error";
        const level = error instanceof AppError && error.status < 500 ? "warn" : "error";
        logger[level]({ err: error }, "run failed");
      }
    }
    logger.info({ status: outcome.status, durationMs: Math.round(performance.now() - startedAt) }, "run finished");
    if (recorder) {
      const paused = handle.threadStatusAfter === "interrupted" || recorder.paused;
      if (outcome.status === "success") recorder.ended(paused ? "interrupted" : "completed");
      else if (outcome.status === "error") recorder.ended("failed", outcome.error?.message);
      else recorder.ended("interrupted");
    }
    // Every event is stored before the run is recorded as ended: a remote follower that sees the
    // end has all its events, and the thread's next run numbers its events after them.
    await Promise.all([relay?.close(), recorder?.close()]);
    if (recorder && handle.cancel?.action === "rollback") await this.#forgetEvents(handle);
    await this.finish(handle, outcome);
    // Only now, with the answer out and recorded: a title never delays it.
    this.deps.titles?.afterRun(handle, outcome);
  }

  /** A run rolled back leaves nothing behind, its protocol events included. */
  async #forgetEvents(handle: RunHandle): Promise<void> {
    try {
      await this.deps.storage.threadEvents.deleteRunEvents(handle.run.threadId, handle.run.runId);
    } catch (error) {
      handle.logger.warn({ err: error }, "could not delete the protocol events of a run rolled back");
    }
  }

  /** Runs the graph and turns its output into the run's events (and the protocol's, with a recorder). */
  async #stream(handle: RunHandle, partial: PartialReply, recorder?: ProtocolRecorder): Promise<GraphResult> {
    const { agent, metrics } = this.deps;
    const { run, body } = handle;
    const result: GraphResult = { finalValues: undefined, pausedAtBreakpoint: false };
    const requested = toModes(body.stream_mode);
    const translator = new StreamTranslator(requested);
    // Hear every token the model streams, whichever modes the client asked for; and the model
    // calls' times, tokens and failures, for the metrics. Given to the model calls alone (see
    // `withModelCallHandlers`).
    const handlers = metrics ? [partial.handler, modelMetricsHandler(metrics, { startedAt: handle.startedAt ?? performance.now(), signal: handle.controller.signal })] : [partial.handler];
    const options = {
      ...withModelCallHandlers(runConfig(run, body, handle.assistant, handle.owner), handlers),
      // The graph's `config.store`: the owner's view, whatever namespace or user_id the run names.
      store: scopedStore(this.deps.storage.store, handle.owner),
      // "values" always: the last one is the run's result, which spares reading the state back,
      // and LangGraph emits a pause (a breakpoint, `interrupt()`) there as `{__interrupt__}` too.
      streamMode: [...new Set<GraphStreamMode>([...graphModesFor(requested), "values"])],
      signal: handle.controller.signal,
    };
    const input = graphInput(body) as Parameters<Agent["stream"]>[0];
    const publish = (mode: GraphStreamMode, payload: unknown) => {
      const interrupted = payload !== null && typeof payload === "object" && "__interrupt__" in payload;
      if (interrupted && (mode === "values" || mode === "updates")) result.pausedAtBreakpoint = true;
      else if (mode === "values") result.finalValues = payload as Record<string, unknown>;
      for (const [event, data] of translator.translate(mode, payload)) handle.log.push(event, data);
    };
    if (recorder) {
      // The protocol's events, from LangGraph's own v3 stream; the root's values and updates
      // also feed the run's log, which `join` and `/runs/{id}/stream` read.
      for await (const event of await agent.streamEvents(input, { ...options, version: "v3" })) {
        recorder.record(event);
        if (event.params.namespace.length > 0) continue;
        if (event.method === "values") publish("values", event.params.data);
        else if (event.method === "updates") {
          const update = event.params.data as { node?: string; values?: unknown };
          if (update.node !== undefined) publish("updates", { [update.node]: update.values });
        }
      }
      return result;
    }
    if (!requested.includes("events")) {
      const stream = await agent.stream(input, options);
      for await (const [mode, payload] of stream as AsyncIterable<[GraphStreamMode, unknown]>) publish(mode, payload);
      return result;
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
    return result;
  }

  /**
   * After a Stop (`interrupt`), the run was undone; the user's own messages are written back so
   * they stay in the thread (on the branch the run was on), followed by the part of the reply the
   * model had streamed (`partial`), marked as stopped; with nothing streamed, as a finished turn
   * with no reply.
   */
  async keepInput(handle: RunHandle, partial?: PartialReply): Promise<void> {
    const input = handle.body.input?.messages;
    if (!input?.length || handle.temporary) return;
    const { agent, storage } = this.deps;
    try {
      if (!(await storage.threads.threadExists(handle.run.threadId))) return;
      const checkpointId = forkCheckpointId(handle.body);
      const config: RunnableConfig = { configurable: { thread_id: handle.run.threadId, ...(checkpointId ? { checkpoint_id: checkpointId } : {}) } };
      await keepStoppedTurn(agent, config, input, partial);
    } catch (error) {
      handle.logger.error({ err: error }, "could not keep the input of a cancelled run");
    }
  }

  /**
   * Records how a run ended (a run cancelled with `rollback` is deleted), frees a temporary
   * thread or settles the thread's status when no other run holds it, then resolves `done` and
   * calls the run's webhook.
   */
  async finish(handle: RunHandle, outcome: RunOutcome): Promise<void> {
    const { storage, checkpointer } = this.deps;
    const { run, logger } = handle;
    run.status = outcome.status;
    this.deps.metrics?.runEnded(outcome.status, handle.startedAt);
    try {
      const forget = handle.cancel?.action === "rollback" && outcome.status === "interrupted";
      if (handle.temporary) {
        await storage.runs.endRun({ ...run, forget }, {});
        await storage.threads.deleteThread(run.threadId);
        await checkpointer.deleteThread(run.threadId);
      } else {
        // The thread's status and values are recorded with the run's end, in one transaction,
        // before `done` resolves: whoever awaited the run reads the thread's final status and
        // can search by its values. When other runs follow, the next one owns the status.
        const values = await this.valuesAfter(handle, outcome);
        const settle = this.deps.othersOn(run.threadId, handle) ? undefined : await this.#threadStatusAfter(run.threadId, handle);
        await storage.runs.endRun({ ...run, forget }, { settle, values });
        handle.statusSettled = settle !== undefined;
      }
    } catch (error) {
      logger.error({ err: error }, "could not record the end of a run");
    } finally {
      handle.settle(outcome);
      this.deps.onEnded(handle);
    }
    if (handle.body.webhook) void callRunWebhook(this.deps.webhooks, handle.body.webhook, handle, outcome);
  }

  /**
   * The thread's values projection for search (see thread-values.ts) after a run: those it ended
   * with, or after a cancel what the revert left; none after a failure, which changed nothing
   * (runs are atomic).
   */
  async valuesAfter(handle: RunHandle, outcome: RunOutcome): Promise<Record<string, unknown> | undefined> {
    if (outcome.status === "error") return undefined;
    try {
      const values = outcome.status === "success" && outcome.values ? outcome.values : await currentValues(this.deps.agent, handle.run.threadId);
      return valuesProjection(values);
    } catch (error) {
      handle.logger.error({ err: error }, "could not read the thread's values");
      return undefined;
    }
  }

  /**
   * An idle thread is `error` after a failed run, `interrupted` at a breakpoint, else `idle`;
   * `values`, when given, are recorded with the status (or alone, when a run holds the thread).
   */
  async settleThreadStatus(threadId: string, last: RunHandle | undefined, values?: Record<string, unknown>): Promise<void> {
    const { storage, logger } = this.deps;
    try {
      if (last?.temporary) return;
      const status = await this.#threadStatusAfter(threadId, last);
      if (status === undefined) return;
      // A run may have been queued meanwhile; it owns the status now.
      if (!this.deps.othersOn(threadId, last)) await storage.runs.settleThreadStatus(threadId, status, values);
      else if (values) await storage.threads.setThreadValues(threadId, values);
    } catch (error) {
      logger.error({ err: error, threadId }, "could not update the thread's status");
    }
  }

  /** The status an idle thread takes after `last` (see `settleThreadStatus`); `undefined` once the thread is gone. */
  async #threadStatusAfter(threadId: string, last: RunHandle | undefined): Promise<ThreadStatus | undefined> {
    if (last?.threadStatusAfter !== undefined) return last.threadStatusAfter;
    // After a cancel the state is what the revert left: read it.
    if (!(await this.deps.storage.threads.threadExists(threadId))) return undefined;
    return (await this.deps.agent.getState({ configurable: { thread_id: threadId } })).next.length > 0 ? "interrupted" : "idle";
  }
}


/** The values of the last `values` event a run published, if any. */
function lastValues(handle: RunHandle): Record<string, unknown> | null {
  return (handle.log.lastRaw("values") as Record<string, unknown> | undefined) ?? null;
}
