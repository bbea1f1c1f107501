/**
 * What a run request becomes: the graph's input and config, the stream modes, and what the run's
 * record keeps of it. Pure functions of the request.
 */
import { Command } from "@langchain/langgraph";
import { ASSISTANT_ID, GRAPH_ID } from "../assistants.js";
import { requestedCollection } from "../run-collection.js";
import type { RunCreate, StreamMode } from "../schemas.js";
import type { Run } from "../../storage/runs.js";

/** The checkpoint a run forks from, named by `checkpoint_id` or `checkpoint`. */
export function forkCheckpointId(body: RunCreate): string | undefined {
  return body.checkpoint_id ?? body.checkpoint?.checkpoint_id ?? undefined;
}

/** The API stream modes a run produces: `values` when none are asked for. */
export function toModes(streamMode: RunCreate["stream_mode"]): StreamMode[] {
  if (streamMode === undefined) return ["values"];
  return Array.isArray(streamMode) ? (streamMode.length > 0 ? streamMode : ["values"]) : [streamMode];
}

/** What the run record keeps of the request, as the official server's `kwargs`. */
export function runKwargs(body: RunCreate): Record<string, unknown> {
  return {
    input: body.input ?? null,
    command: body.command ?? null,
    config: body.config ?? {},
    context: body.context ?? {},
    stream_mode: toModes(body.stream_mode),
    interrupt_before: body.interrupt_before ?? null,
    interrupt_after: body.interrupt_after ?? null,
    checkpoint_id: forkCheckpointId(body) ?? null,
    on_disconnect: body.on_disconnect,
    if_not_exists: body.if_not_exists,
  };
}

/** The graph's input: a `Command` when the request has one, else its input. */
export function graphInput(body: RunCreate): unknown {
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
export function runConfigurable(threadId: string, body: RunCreate): Record<string, unknown> {
  const checkpointId = forkCheckpointId(body);
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

/** The graph's config for `run`: its `configurable`, limits, breakpoints and metadata. */
export function runConfig(run: Run, body: RunCreate) {
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
