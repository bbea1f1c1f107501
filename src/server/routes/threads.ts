import { v7 as uuid7 } from "@langchain/core/utils/uuid";
import type { BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { type Response, Router } from "express";
import { AppError, NotFoundError, ValidationError } from "../../errors.js";
import { ownerOf } from "../auth.js";
import type { AppDeps } from "../app-deps.js";
import { countThreads, currentValues, recordThreadValues, searchThreads, valuesProjection } from "../thread-values.js";
import {
  CheckpointPath,
  ThreadCount,
  ThreadCreate,
  ThreadHistory,
  ThreadHistoryQuery,
  ThreadPatch,
  ThreadPath,
  ThreadSearch,
  ThreadStateAtCheckpoint,
  ThreadStateUpdate,
  parseInput,
} from "../schemas.js";
import type { Thread } from "../../storage/threads.js";
import { checkpointOf, stateToWire, threadToWire, toWire } from "../wire.js";
import { prefersMinimal } from "../prefer.js";
import { checkStateBounds } from "../state-bounds.js";

/** Threads: CRUD, search, copy, state (read, update, at a checkpoint) and history. */
export function threadsRouter(deps: AppDeps): Router {
  const { agent, checkpointer, storage, runs } = deps;
  const router = Router();

  /** The thread, if it exists and the caller may see it; otherwise 404 (never 403: no hints). */
  const requireThread = async (threadId: string, response: Response): Promise<Thread> => {
    const thread = await storage.threads.getThread(threadId, ownerOf(response));
    if (!thread) throw new NotFoundError(`Thread ${threadId} not found`);
    return thread;
  };
  const valuesOf = async (threadId: string) =>
    (await agent.getState({ configurable: { thread_id: threadId } })).values as Record<string, unknown>;
  const toResponse = async (thread: Thread) => threadToWire(thread, await valuesOf(thread.threadId));
  /** Writes state; LangGraph's complaints about the update are the client's to fix (422). */
  const applyUpdate = async (config: RunnableConfig, values: Parameters<AppDeps["agent"]["updateState"]>[1], asNode: string | undefined) => {
    try {
      return await agent.updateState(config, values, asNode);
    } catch (error) {
      if (error instanceof AppError) throw error;
      throw new ValidationError(`The state update cannot be applied: ${(error as Error).message}`, { cause: error });
    }
  };
  router.post("/threads", async (request, response) => {
    const body = parseInput(ThreadCreate, request.body);
    const threadId = body.thread_id ?? uuid7();
    const ttlMinutes = body.ttl ?? deps.threadTtlMinutes;
    let thread = await storage.threads.createThread({ threadId, metadata: body.metadata ?? {}, owner: ownerOf(response), ttlMinutes });
    if (!thread) {
      if (body.if_exists === "do_nothing") {
        response.json(await toResponse(await requireThread(threadId, response)));
        return;
      }
      response.status(409).json({ detail: `Thread ${threadId} already exists` });
      return;
    }
    // A client-chosen id may have belonged to a deleted thread: nothing of it may come back.
    if (body.thread_id) await checkpointer.deleteThread(threadId);
    try {
      for (const [step, superstep] of (body.supersteps ?? []).entries()) {
        for (const [index, update] of superstep.updates.entries()) {
          const values = update.values ?? update.command?.update ?? {};
          if (!Array.isArray(values)) {
            const field = `supersteps.${step}.updates.${index}.${update.values ? "values" : "command.update"}`;
            checkStateBounds(messagesOf(await valuesOf(threadId)), values, field);
          }
          await applyUpdate({ configurable: { thread_id: threadId } }, values, update.as_node);
        }
      }
      if (body.supersteps?.length) await recordThreadValues(deps, threadId);
    } catch (error) {
      // All or nothing: a thread whose seeding failed is not created.
      await storage.threads.deleteThread(threadId);
      await checkpointer.deleteThread(threadId);
      throw error;
    }
    thread = await requireThread(threadId, response);
    response.json(await toResponse(thread));
  });

  router.post("/threads/search", async (request, response) => {
    const body = parseInput(ThreadSearch, request.body);
    const matches = await searchThreads(deps, {
      owner: ownerOf(response),
      metadata: body.metadata,
      status: body.status,
      ids: body.ids,
      values: body.values,
      text: body.query,
      limit: body.limit,
      offset: body.offset,
      sortBy: body.sort_by,
      sortOrder: body.sort_order,
    });
    const wantsValues = !body.select || body.select.includes("values");
    const items = await Promise.all(
      matches.map(async ({ thread, values }) => {
        const item: Record<string, unknown> = threadToWire(thread, wantsValues ? (values ?? (await valuesOf(thread.threadId))) : undefined);
        return body.select ? Object.fromEntries(Object.entries(item).filter(([key]) => body.select?.includes(key))) : item;
      }),
    );
    const next = body.offset + items.length;
    if (items.length === body.limit) response.setHeader("X-Pagination-Next", String(next));
    response.setHeader("X-Pagination-Total", String(items.length === body.limit ? next + 1 : next));
    response.json(items);
  });

  router.post("/threads/count", async (request, response) => {
    const body = parseInput(ThreadCount, request.body);
    response.json(await countThreads(deps, { owner: ownerOf(response), metadata: body.metadata, status: body.status, values: body.values, text: body.query }));
  });

  router.get("/threads/:thread_id", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    response.json(await toResponse(await requireThread(thread_id, response)));
  });

  router.patch("/threads/:thread_id", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    const body = parseInput(ThreadPatch, request.body);
    await requireThread(thread_id, response);
    const thread = await storage.threads.updateThread(thread_id, { metadata: body.metadata, ttlMinutes: body.ttl ?? undefined });
    if (!thread) throw new NotFoundError(`Thread ${thread_id} not found`);
    if (prefersMinimal(request)) response.status(204).setHeader("Preference-Applied", "return=minimal").end();
    else response.json(await toResponse(thread));
  });

  router.delete("/threads/:thread_id", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    await requireThread(thread_id, response);
    // The row goes first, so that no new run can start on the thread while its runs are cancelled.
    await storage.threads.deleteThread(thread_id);
    await runs.cancelThread(thread_id);
    await checkpointer.deleteThread(thread_id);
    response.status(204).end();
  });

  router.post("/threads/:thread_id/copy", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    const source = await requireThread(thread_id, response);
    // A run in progress may have written half a turn: copy a thread at rest, held as a run holds it.
    const copy = await runs.holdThread(thread_id, async () => {
      const copyId = uuid7();
      // The copy's values are its source's, and so is its TTL.
      const values = valuesProjection(await currentValues(agent, thread_id));
      const created = await storage.threads.createThread({ threadId: copyId, metadata: source.metadata, owner: ownerOf(response), ttlMinutes: source.ttlMinutes ?? undefined, values });
      await checkpointer.copyThread(thread_id, copyId);
      return created as Thread;
    });
    response.json(await toResponse(copy));
  });

  const stateAt = async (threadId: string, response: Response, checkpoint: Record<string, unknown> = {}) => {
    await requireThread(threadId, response);
    const config: RunnableConfig = { configurable: { thread_id: threadId, ...withoutEmpty(checkpoint) } };
    if (checkpoint.checkpoint_id && !(await checkpointer.getTuple(config))) {
      throw new NotFoundError(`Checkpoint ${String(checkpoint.checkpoint_id)} not found on thread ${threadId}`);
    }
    return stateToWire(await agent.getState(config));
  };

  router.get("/threads/:thread_id/state", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    response.json(await stateAt(thread_id, response));
  });

  router.get("/threads/:thread_id/state/:checkpoint_id", async (request, response) => {
    const { thread_id, checkpoint_id } = parseInput(CheckpointPath, request.params, "path");
    response.json(await stateAt(thread_id, response, { checkpoint_id }));
  });

  router.post("/threads/:thread_id/state/checkpoint", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    const body = parseInput(ThreadStateAtCheckpoint, request.body);
    response.json(await stateAt(thread_id, response, body.checkpoint));
  });

  router.post("/threads/:thread_id/state", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    const body = parseInput(ThreadStateUpdate, request.body);
    await requireThread(thread_id, response);
    const checkpoint = { ...withoutEmpty(body.checkpoint ?? {}), ...(body.checkpoint_id ? { checkpoint_id: body.checkpoint_id } : {}) };
    // Held as a run holds the thread, on every instance: a run and a state write never interleave.
    const config = await runs.holdThread(thread_id, async () => {
      let config: RunnableConfig = { configurable: { thread_id, ...checkpoint } };
      // Writing on top of a checkpoint that does not exist would silently start from nothing.
      if (checkpoint.checkpoint_id && !(await checkpointer.getTuple(config))) {
        throw new NotFoundError(`Checkpoint ${String(checkpoint.checkpoint_id)} not found on thread ${thread_id}`);
      }
      const updates = Array.isArray(body.values) ? body.values : [body.values ?? {}];
      // All are checked before any is written: a refused list writes nothing.
      let messages: BaseMessage[] | undefined = messagesOf((await agent.getState(config)).values);
      for (const [index, values] of updates.entries()) messages = checkStateBounds(messages, values, Array.isArray(body.values) ? `values.${index}` : "values");
      for (const values of updates) {
        // A thread paused before a node (interrupt_before, or a run stopped half-way) keeps its
        // pending step, as on the official server: LangGraph writes as the node that ran last, so
        // the edit is what the paused node sees when the run continues. Otherwise the update is
        // written as if the model node produced it: the thread then has nothing pending, and a run
        // with new input continues from it (this is how a conversation is seeded from history).
        const paused = body.as_node === undefined && (await agent.getState(config)).next.length > 0;
        config = await applyUpdate(config, values, body.as_node ?? (paused ? undefined : "model"));
      }
      return config;
    });
    await recordThreadValues(deps, thread_id);
    await storage.threads.updateThread(thread_id, {});
    runs.stateUpdates.publish(thread_id, { values: toWire(body.values ?? null), as_node: body.as_node ?? "model", checkpoint: checkpointOf(config) });
    response.json({ checkpoint: checkpointOf(config) });
  });

  const history = async (
    threadId: string,
    response: Response,
    options: { limit: number; before?: string; metadata?: Record<string, unknown>; checkpoint?: Record<string, unknown>; select?: readonly string[] },
  ) => {
    await requireThread(threadId, response);
    const states = [];
    const config = { configurable: { thread_id: threadId, checkpoint_ns: "", ...withoutEmpty(options.checkpoint ?? {}) } };
    const { select } = options;
    // Values not asked for are not converted either: they are most of the work on a long chat.
    const wantsValues = !select || select.includes("values");
    for await (const state of agent.getStateHistory(config, {
      limit: options.limit,
      before: options.before ? { configurable: { checkpoint_id: options.before } } : undefined,
      filter: options.metadata,
    })) {
      const entry: Record<string, unknown> = stateToWire(wantsValues ? state : { ...state, values: {} });
      states.push(select ? Object.fromEntries(Object.entries(entry).filter(([key]) => select.includes(key))) : entry);
    }
    return states;
  };

  router.post("/threads/:thread_id/history", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    const body = parseInput(ThreadHistory, request.body);
    const before =
      typeof body.before === "string"
        ? body.before
        : ((body.before as { configurable?: { checkpoint_id?: string }; checkpoint_id?: string } | null | undefined)?.configurable?.checkpoint_id ??
          (body.before as { checkpoint_id?: string } | null | undefined)?.checkpoint_id);
    response.json(await history(thread_id, response, { limit: body.limit, before, metadata: body.metadata, checkpoint: body.checkpoint, select: body.select }));
  });

  router.get("/threads/:thread_id/history", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    const query = parseInput(ThreadHistoryQuery, request.query, "query");
    response.json(await history(thread_id, response, query));
  });

  return router;
}

/** A state's messages (none before its first write). */
function messagesOf(values: unknown): BaseMessage[] {
  return (values as { messages?: BaseMessage[] }).messages ?? [];
}

/** Drops null/undefined/"" entries so they do not override LangGraph's defaults. */
function withoutEmpty(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== null && value !== undefined && value !== ""));
}
