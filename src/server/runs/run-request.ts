/**
 * What a run request becomes: the graph's input and config, the stream modes, and what the run's
 * record keeps of it. Pure functions of the request.
 */
import { Command } from "@langchain/langgraph";
import { assistantCollection, requestedCollection } from "../run-collection.js";
import type { RunCreate, StreamMode } from "../schemas.js";
import type { Assistant } from "../../storage/assistants.js";
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

/** The settings of the assistant a run uses: the defaults under the run's own. */
export type RunAssistant = Pick<Assistant, "assistantId" | "graphId" | "config" | "context">;

/**
 * What the graph's nodes see as `configurable`: the assistant's config and context, under the
 * run's config and context (each later layer wins a key; reserved keys, which could redirect
 * the run or switch off its undo, are dropped from all four), the one collection chosen for the
 * run (for a created run, the checked one `bindCollection` left in its request), its thread
 * and the checkpoint it forks from, which only the request's `checkpoint_id`/`checkpoint` may name.
 * With API keys, `user_id` (whose long-term memory the graph uses) is the key's `owner` unless a
 * layer names one; whichever user it names, the run's store stays the owner's (`scopedStore`).
 */
export function runConfigurable(threadId: string, body: RunCreate, assistant: RunAssistant, owner?: string): Record<string, unknown> {
  const checkpointId = forkCheckpointId(body);
  const collectionId = requestedCollection(body) ?? assistantCollection(assistant);
  const layers = [assistant.config.configurable as Record<string, unknown> | undefined, assistant.context, body.config?.configurable, body.context];
  const merged = Object.assign({}, ...layers.map(clientKeys)) as Record<string, unknown>;
  delete merged.collection_id;
  return {
    ...(owner === undefined ? {} : { user_id: owner }),
    ...merged,
    ...(collectionId === undefined ? {} : { collection_id: collectionId }),
    thread_id: threadId,
    ...(checkpointId ? { checkpoint_id: checkpointId } : {}),
  };
}

/**
 * The graph's config for `run`: its `configurable`, limits and tags (the run's, else its
 * assistant's), breakpoints and metadata, which names the run's real assistant and its graph.
 * `owner` is the API key's (see `runConfigurable`); the caller adds the run's `store`.
 */
export function runConfig(run: Run, body: RunCreate, assistant: RunAssistant, owner?: string) {
  const defaults = assistant.config as { recursion_limit?: unknown; tags?: unknown };
  const recursionLimit = body.config?.recursion_limit ?? (typeof defaults.recursion_limit === "number" ? defaults.recursion_limit : undefined);
  const tags = body.config?.tags ?? (Array.isArray(defaults.tags) ? (defaults.tags as string[]) : undefined);
  return {
    configurable: runConfigurable(run.threadId, body, assistant, owner),
    ...(recursionLimit ? { recursionLimit } : {}),
    ...(tags ? { tags } : {}),
    ...(body.interrupt_before ? { interruptBefore: body.interrupt_before } : {}),
    ...(body.interrupt_after ? { interruptAfter: body.interrupt_after } : {}),
    ...(body.durability ? { durability: body.durability } : {}),
    metadata: { ...body.metadata, run_id: run.runId, thread_id: run.threadId, assistant_id: assistant.assistantId, graph_id: assistant.graphId },
  };
}
