import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { RunnableConfig } from "@langchain/core/runnables";
import { END, START, StateGraph } from "@langchain/langgraph";
import type { BaseCheckpointSaver } from "@langchain/langgraph-checkpoint";
import { isRevertible } from "./checkpointer.js";
import { createModelNode } from "./model-node.js";
import { AgentState } from "./state.js";
import { createTokenCounter } from "./token-counter.js";
import { createTrimNode } from "./trim-node.js";

/** Defaults used when `createAgent` is called without them (the service passes its config). */
export const AGENT_DEFAULTS = {
  systemPrompt: "You are a helpful assistant.",
  contextTokens: 16_384,
  maxOutputTokens: 1024,
  tokenizerModel: "gpt-4o-mini",
} as const;

/** The parts an agent is built from; tests and other entry points inject their own. */
export interface AgentOptions {
  /** Chat model; without one, runs fail with an error naming OPENAI_API_KEY / OPENAI_BASE_URL. */
  model?: BaseChatModel;
  /** Where threads live. Without one the graph keeps no memory between invocations. */
  checkpointer?: BaseCheckpointSaver;
  systemPrompt?: string;
  /** Prompt budget: system prompt + window + `maxOutputTokens` never exceed it. */
  contextTokens?: number;
  /** Reply room kept free in the budget; should match the model's max tokens. */
  maxOutputTokens?: number;
  /** Model name that picks the tokenizer (o200k_base or cl100k_base). */
  tokenizerModel?: string;
}

/** Builds the uncompiled graph: START → trim → model → END. */
export function buildAgentGraph(options: AgentOptions = {}) {
  const systemPrompt = options.systemPrompt ?? AGENT_DEFAULTS.systemPrompt;
  const trimNode = createTrimNode({
    counter: createTokenCounter(options.tokenizerModel ?? AGENT_DEFAULTS.tokenizerModel),
    systemPrompt,
    contextTokens: options.contextTokens ?? AGENT_DEFAULTS.contextTokens,
    maxOutputTokens: options.maxOutputTokens ?? AGENT_DEFAULTS.maxOutputTokens,
  });
  const modelNode = createModelNode({ model: options.model, systemPrompt });
  return new StateGraph(AgentState)
    .addNode("trim", trimNode)
    .addNode("model", modelNode)
    .addEdge(START, "trim")
    .addEdge("trim", "model")
    .addEdge("model", END);
}

/** The compiled agent: a LangGraph graph with `invoke`, `stream`, `getState`, `updateState`, ... */
export type Agent = ReturnType<typeof createAgent>;

/**
 * Builds the compiled agent. With a revertible checkpointer (the ones in `checkpointer.ts`),
 * every run is all-or-nothing: if it fails or is cancelled, the checkpoints it wrote are deleted,
 * so the thread is exactly as it was (no dangling user message, no half-written step).
 */
export function createAgent(options: AgentOptions = {}) {
  const graph = buildAgentGraph(options).compile({ checkpointer: options.checkpointer });
  makeRunsAtomic(graph);
  return graph;
}

type CompiledAgentGraph = ReturnType<ReturnType<typeof buildAgentGraph>["compile"]>;

/**
 * Wraps the graph's stream iterator, which every entry point (`invoke`, `stream`, `streamEvents`)
 * goes through, so that a run that does not finish is undone. The revert runs after the inner
 * iterator's `finally`, by which time LangGraph has awaited all of the run's checkpoint writes.
 */
function makeRunsAtomic(graph: CompiledAgentGraph): void {
  const streamIterator = graph._streamIterator.bind(graph);
  graph._streamIterator = async function* atomicStreamIterator(input, options) {
    const checkpointer = graph.checkpointer;
    const threadId = rootThreadId(options);
    if (!isRevertible(checkpointer) || threadId === undefined) {
      yield* streamIterator(input, options);
      return;
    }
    const head = await checkpointer.headCheckpointId(threadId);
    let finished = false;
    try {
      yield* streamIterator(input, options);
      finished = true;
    } finally {
      if (!finished) await checkpointer.revertThread(threadId, head);
    }
  };
}

/** The thread of a top-level run; `undefined` when the graph runs as a subgraph of another. */
function rootThreadId(options: Partial<RunnableConfig> | undefined): string | undefined {
  const configurable = options?.configurable;
  if (!configurable || "__pregel_read" in configurable) return undefined;
  if (configurable.checkpoint_ns) return undefined;
  const threadId: unknown = configurable.thread_id;
  return typeof threadId === "string" || typeof threadId === "number" ? String(threadId) : undefined;
}
