/**
 * Admission: the checks a run must pass before anything is written (`check`), then its thread,
 * its record and its place in the thread's queue (`start`). A second run on a busy thread is
 * decided by its multitask strategy: `reject` (409), `enqueue` (runs after the current ones),
 * `interrupt` or `rollback` (cancel the current ones, then run).
 */
import { coerceMessageLikeToMessage } from "@langchain/core/messages";
import { v7 as uuid7 } from "@langchain/core/utils/uuid";
import { NotFoundError, ThreadBusyError } from "../../errors.js";
import { type Agent, assertHasModel, assertInputFits, assertRunSettings } from "../../graph/agent.js";
import type { RevertibleCheckpointer } from "../../storage/checkpointer.js";
import type { DocumentIndex } from "../../retrieval/document-index.js";
import type { Logger } from "../../logger.js";
import { resolveRunAssistant } from "../assistants.js";
import { bindCollection, requireCollection, resolveRunCollection } from "../run-collection.js";
import type { RunCreate } from "../schemas.js";
import type { Run } from "../../storage/runs.js";
import type { Storage } from "../../storage/storage.js";
import type { Thread } from "../../storage/threads.js";
import type { Webhooks } from "../webhooks.js";
import { type CancelAction, RunHandle } from "./run-handle.js";
import type { RunRegistry } from "./run-registry.js";
import { type RunAssistant, forkCheckpointId, runConfigurable, runKwargs } from "./run-request.js";
import type { ThreadQueue } from "./thread-queue.js";

/** A run request that passed `check`: everything `start` needs, nothing written yet. */
export interface RunPlan {
  threadId: string;
  /** The request, bound to the one collection that was checked. */
  body: RunCreate;
  /** The assistant's version in use when the run was checked: the run keeps it, even queued. */
  assistant: RunAssistant;
  /** The thread, or `null` when `start` creates it (a temporary thread, or `if_not_exists: create`). */
  thread: Thread | null;
  temporary: boolean;
  owner: string | undefined;
  /** Started through the agent streaming protocol (see RunHandle.protocol). */
  protocol?: boolean;
}

/** What admission needs: storage, the checks, and the queue and registry it puts runs in. */
export interface RunAdmissionDeps {
  agent: Agent;
  checkpointer: RevertibleCheckpointer;
  storage: Storage;
  /** Each run logs through a child of it (see RunHandle.logger). */
  logger: Logger;
  /** This server instance, stamped on its runs so survivors can tell whose runs died with it. */
  instanceId?: string;
  documents?: Pick<DocumentIndex, "requireCollection">;
  webhooks: Webhooks;
  queue: ThreadQueue;
  registry: RunRegistry;
  /** Cancels a run that a newer one replaces (`interrupt`, `rollback`); `why` ends its message. */
  cancel(handle: RunHandle, action: CancelAction, why: string): void;
  /** TTL in minutes of the threads runs create (`THREAD_TTL`), as of those created with POST /threads. */
  threadTtlMinutes?: number;
}

/** What a run stamps on its thread's metadata: its graph and assistant, as on the official server. */
const stampOf = (assistant: RunAssistant) => ({ graph_id: assistant.graphId, assistant_id: assistant.assistantId });

const BUSY_HINT = "wait for it, or set multitask_strategy to enqueue, interrupt or rollback";

/** Checks run requests and admits them into their thread's queue (see the module comment). */
export class RunAdmission {
  #lastQueuedAt = 0;

  constructor(private readonly deps: RunAdmissionDeps) {}

  /**
   * Throws what a run of `body` would fail with before doing anything (an assistant `owner` may
   * not see, a message too long for the context, a prompt variable with no value, a run setting
   * it cannot use); returns its assistant.
   */
  async validate(body: RunCreate, owner: string | undefined, threadId = "validation"): Promise<RunAssistant> {
    const assistant = await resolveRunAssistant(this.deps.storage.assistants, body.assistant_id, owner);
    assertHasModel(this.deps.agent);
    const configurable = runConfigurable(threadId, body, assistant, owner);
    // A bad setting (configurable.temperature, ...) is a 422 naming it, before anything is created.
    assertRunSettings(this.deps.agent, configurable);
    if (body.input?.messages?.length) {
      const messages = body.input.messages.map((message) => coerceMessageLikeToMessage(message as never));
      assertInputFits(this.deps.agent, messages, { configurable });
    }
    return assistant;
  }

  /**
   * Every check a run of `body` on `threadId` (a temporary thread when `undefined`) must pass,
   * writing nothing: `validate`, the thread (404 unless it exists or `if_not_exists` is `create`),
   * the checkpoint it forks from, its collection (404 unless `owner`'s) and its webhook (422).
   */
  async check(threadId: string | undefined, body: RunCreate, owner: string | undefined): Promise<RunPlan> {
    const { storage, checkpointer } = this.deps;
    const id = threadId ?? uuid7();
    const assistant = await this.validate(body, owner, id);
    if (body.webhook) await this.deps.webhooks.check(body.webhook);
    const temporary = threadId === undefined && (body.on_completion ?? "delete") === "delete";
    const thread = threadId === undefined ? null : await storage.threads.getThread(id, owner);
    if (!thread && threadId !== undefined && body.if_not_exists !== "create") throw new NotFoundError(`Thread ${id} not found`);
    // Forking from a checkpoint that does not exist would silently start from an empty thread;
    // a thread still to be created has none (leftovers of a deleted one do not count).
    const checkpointId = forkCheckpointId(body);
    if (checkpointId && !(thread && (await checkpointer.getTuple({ configurable: { thread_id: id, checkpoint_ns: "", checkpoint_id: checkpointId } })))) {
      throw new NotFoundError(`Checkpoint ${checkpointId} not found on thread ${id}`);
    }
    // The collection is decided once, here, from the request and the thread's metadata, and
    // checked before a thread is created for the run. The run carries exactly that collection
    // from now on: a later change of the thread's metadata does not reach a queued run.
    const collectionId = resolveRunCollection(body, thread?.metadata, assistant);
    await requireCollection(this.deps.documents, collectionId, owner);
    return { threadId: id, body: bindCollection(body, collectionId), assistant, thread, temporary, owner };
  }

  /**
   * Starts a run `check` accepted: creates its thread if needed, then admits and queues it.
   * A thread created here is deleted again when the run is refused after all (a busy thread,
   * another instance's run, a database error).
   */
  async start(plan: RunPlan): Promise<RunHandle> {
    const { storage, checkpointer } = this.deps;
    let { thread } = plan;
    if (thread) return this.#admit(plan, thread);
    thread = await storage.threads.createThread({ threadId: plan.threadId, metadata: stampOf(plan.assistant), owner: plan.owner, ttlMinutes: this.deps.threadTtlMinutes });
    // The id is taken by a thread its caller may not see: to them it does not exist.
    if (!thread) throw new NotFoundError(`Thread ${plan.threadId} not found`);
    // A deleted thread of the same id must not come back through leftover checkpoints.
    await checkpointer.deleteThread(plan.threadId);
    try {
      return await this.#admit(plan, thread);
    } catch (error) {
      await storage.threads.deleteThread(plan.threadId);
      await checkpointer.deleteThread(plan.threadId);
      throw error;
    }
  }

  async #admit(plan: RunPlan, thread: Thread): Promise<RunHandle> {
    const { storage, queue, registry } = this.deps;
    const { threadId: id, body, assistant, temporary, owner } = plan;
    const strategy = body.multitask_strategy;
    // From the busy check to the reservation there is no await: two requests cannot both win.
    const busy = queue.isBusy(id);
    if (busy && strategy === "reject") {
      const current = queue.current(id);
      throw new ThreadBusyError(`Thread ${id} is busy with ${current ? `run ${current.run.runId}` : "a state update"}; ${BUSY_HINT}`);
    }
    const run = this.#newRun(id, assistant.assistantId, body);
    const logger = this.deps.logger.child({ runId: run.runId, threadId: run.threadId });
    const handle = new RunHandle(run, body, temporary, owner, assistant, logger, plan.protocol);
    handle.threadTitled = typeof thread.metadata.title === "string";
    if (busy && (strategy === "interrupt" || strategy === "rollback")) {
      const why = `run ${run.runId} was started on the thread with multitask_strategy ${strategy}`;
      for (const other of queue.runsOn(id)) this.deps.cancel(other, strategy, why);
    }
    queue.enqueue(handle);
    registry.add(handle);

    try {
      // The database decides for every instance: another one may hold this thread right now.
      // Like the official server, every run stamps its graph and assistant on the thread, so lists
      // filtered by either (Studio's) show threads created with other metadata or none.
      const stamp = stampOf(assistant);
      const stamped = thread.metadata.graph_id === stamp.graph_id && thread.metadata.assistant_id === stamp.assistant_id;
      const admitted = await storage.runs.admitRun(run, { exclusive: strategy === "reject", threadBusy: { metadata: stamped ? {} : stamp } });
      if ("busyWith" in admitted) throw new ThreadBusyError(`Thread ${id} is busy with run ${admitted.busyWith}; ${BUSY_HINT}`);
      Object.assign(run, admitted.run);
      handle.admitted();
      // interrupt / rollback also reach runs that other instances execute on this thread.
      if (strategy === "interrupt" || strategy === "rollback") {
        for (const other of admitted.others) if (!registry.has(other)) await storage.runs.requestCancel(other, strategy);
      }
    } catch (error) {
      queue.withdraw(handle);
      registry.delete(run.runId);
      queue.pump(id);
      throw error;
    }
    queue.pump(id);
    return handle;
  }

  /** A pending run's record. */
  #newRun(threadId: string, assistantId: string, body: RunCreate): Run {
    // Taken now, in queue order, and strictly increasing: it orders the queue across instances.
    this.#lastQueuedAt = Math.max(Date.now(), this.#lastQueuedAt + 1);
    const now = new Date(this.#lastQueuedAt);
    return {
      runId: uuid7(),
      threadId,
      instanceId: this.deps.instanceId,
      assistantId,
      status: "pending",
      metadata: body.metadata ?? {},
      kwargs: runKwargs(body),
      multitaskStrategy: body.multitask_strategy,
      createdAt: now,
      updatedAt: now,
    };
  }
}
