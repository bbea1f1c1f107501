import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { RunnableConfig } from "@langchain/core/runnables";
import { END, START, StateGraph } from "@langchain/langgraph";
import type { BaseCheckpointSaver, BaseStore } from "@langchain/langgraph-checkpoint";
import { isRevertible } from "../storage/checkpointer.js";
import { CONFIG_KEY_CHECKPOINTER, withoutAppliedCommandWrites } from "./applied-writes.js";
import { createModelNode } from "./model-node.js";
import { DEFAULT_RETRY, type RetryOptions } from "./model-retry.js";
import { AgentState } from "./state.js";
import { createTrimNode } from "./trim-node.js";
import { type SummarizeNodeOptions, createSummarizeNode } from "./summarize-node.js";
import { type Summarize, createSummarizer } from "./summary.js";
import type { ChatModelFactory } from "./run-models.js";
import type { MemoryMode, ResolvedRunSettings } from "./run-settings.js";
import { registerAgent } from "./run-checks.js";
import { type RunSetupResolver, createRunSetupResolver } from "./run-setup.js";
import { type DocumentSearch, createSearchDocumentsTool } from "./search-documents-tool.js";
import { ToolNode, toolsCondition } from "@langchain/langgraph/prebuilt";
import { createMemoryTools } from "./memory-tools.js";
import type { MemoryWriter } from "./memory-writer.js";
import { DEFAULT_MEMORY_RECALL_K, type LongTermMemoryOptions, createMemoryWriter, memoryRunResolver, registerMemoryWriter } from "./agent-memory.js";

export { DEFAULT_MEMORY_RECALL_K, type LongTermMemoryOptions, memoryWritesSettled } from "./agent-memory.js";

// The checks a server makes before starting a run, on agents built here.
export { agentRunDefaults, assertHasModel, assertInputFits, assertRunSettings, titleModelOf } from "./run-checks.js";

/** Defaults used when `createAgent` is called without them (the service passes its config). */
export const AGENT_DEFAULTS = {
  systemPrompt: "You are a helpful assistant.",
  contextTokens: 16_384,
  maxOutputTokens: 1024,
  tokenizerModel: "gpt-4o-mini",
  temperature: 0,
  summaryTokens: 512,
} as const;

/**
 * The parts an agent is built from; tests and other entry points inject their own. The model
 * settings, budgets, memory mode and system prompt here are defaults: a run may set its own
 * (`configurable`, see `run-settings.ts`).
 */
export interface AgentOptions {
  /** Chat model for the default settings; without one, runs fail with an error naming OPENAI_API_KEY / OPENAI_BASE_URL. */
  model?: BaseChatModel;
  /**
   * Builds the chat model of a run whose model name, temperature or max tokens differ from the
   * defaults (see `run-models.ts`). Without one, such runs are refused.
   */
  modelFactory?: ChatModelFactory;
  /** Default model name (`MODEL`); also picks the default tokenizer. */
  modelName?: string;
  /** Default sampling temperature (`TEMPERATURE`). */
  temperature?: number;
  /** Where threads live. Without one the graph keeps no memory between invocations. */
  checkpointer?: BaseCheckpointSaver;
  /**
   * The graph's default long-term store (`config.store` in nodes) for invocations that bring
   * none: the server passes each run its owner's view, and `langgraph dev` swaps in its own.
   */
  store?: BaseStore;
  systemPrompt?: string;
  /** Prompt budget: system prompt + window + `maxOutputTokens` never exceed it. */
  contextTokens?: number;
  /** Reply room kept free in the budget; the model's max tokens. */
  maxOutputTokens?: number;
  /** Model name that picks the tokenizer (o200k_base or cl100k_base) of the default model; `modelName` when unset. */
  tokenizerModel?: string;
  /**
   * When runs write checkpoints unless the caller says otherwise: `exit` (default) writes one
   * per run, when it ends; `async`/`sync` one per step. A run's `durability` option wins.
   */
  durability?: Durability;
  /** How failed model calls are retried (defaults: 2 retries, 500 ms base, 20 s cap). */
  retry?: Partial<RetryOptions>;
  /** Default memory mode (`MEMORY_MODE`): "summary" when `summary` is given, else "window". */
  memoryMode?: MemoryMode;
  /** Summary memory settings, used by runs in summary mode; without them, defaults (512 tokens, the chat model). */
  summary?: SummaryMemoryOptions;
  /**
   * The user's documents: runs bound to a collection (`configurable.collection_id`) can call the
   * `search_documents` tool. Runs without a collection are exactly as without it.
   */
  documents?: DocumentSearch;
  /**
   * Long-term memory (`LONG_TERM_MEMORY`): in runs given a store (`config.store`, as LangGraph
   * passes it), the user's memories are recalled into the system prompt, new ones are extracted
   * after turns, and the model gets `save_memory` / `forget_memory`. A run or assistant turns it
   * off with `long_term_memory: false`. Unset: no memory at all.
   */
  longTermMemory?: LongTermMemoryOptions;
}

/** Summary memory mode (`MEMORY_MODE=summary`, or `configurable.memory_mode` per run). */
export interface SummaryMemoryOptions {
  /** Longest summary, in tokens; kept free in the prompt budget (`SUMMARY_TOKENS`); runs may set `summary_tokens`. */
  summaryTokens: number;
  /** The model that writes summaries for the default settings; the agent's model when unset (and no factory). */
  model?: BaseChatModel;
  /** Model name of summaries (`SUMMARY_MODEL`), for the models the factory builds; the run's model when unset. */
  modelName?: string;
  /** Told when a summary call fails (the turn goes on; the next turn retries). */
  onError?: SummarizeNodeOptions["onError"];
}

/** LangGraph's checkpoint durability modes. */
export type Durability = "exit" | "async" | "sync";

/** The defaults a run's settings fall back to, from the agent's options. */
function runDefaults(options: AgentOptions): ResolvedRunSettings {
  return {
    system_prompt: options.systemPrompt ?? AGENT_DEFAULTS.systemPrompt,
    model: options.modelName ?? options.tokenizerModel ?? AGENT_DEFAULTS.tokenizerModel,
    temperature: options.temperature ?? AGENT_DEFAULTS.temperature,
    max_tokens: options.maxOutputTokens ?? AGENT_DEFAULTS.maxOutputTokens,
    context_tokens: options.contextTokens ?? AGENT_DEFAULTS.contextTokens,
    memory_mode: options.memoryMode ?? (options.summary ? "summary" : "window"),
    summary_tokens: options.summary?.summaryTokens ?? AGENT_DEFAULTS.summaryTokens,
    long_term_memory: hasLongTermMemory(options),
  };
}

const hasLongTermMemory = (options: AgentOptions) => options.longTermMemory !== undefined && options.longTermMemory.enabled !== false;

function runSetupResolver(options: AgentOptions): RunSetupResolver {
  return createRunSetupResolver({
    defaults: runDefaults(options),
    tokenizerModel: options.tokenizerModel,
    model: options.model,
    summaryModel: options.summary?.model,
    summaryModelName: options.summary?.modelName,
    modelFactory: options.modelFactory,
    retrieval: options.documents !== undefined,
    longTermMemory: hasLongTermMemory(options) ? { recallK: options.longTermMemory?.recallK ?? DEFAULT_MEMORY_RECALL_K } : undefined,
  });
}

/**
 * Builds the uncompiled graph: START → trim → model → END; with a model, a summarize node that
 * runs in summary mode sits between trim and model (a run's memory mode picks the path), and
 * with documents or long-term memory a tools node that the model may route to, whose results go back through trim
 * (the window must still fit) to the model.
 */
export function buildAgentGraph(options: AgentOptions = {}, setup: RunSetupResolver = runSetupResolver(options), writer: MemoryWriter = createMemoryWriter(options.longTermMemory, options.retry?.attemptTimeoutMs)) {
  const systemPrompt = options.systemPrompt ?? AGENT_DEFAULTS.systemPrompt;
  const documentTools = options.documents ? [createSearchDocumentsTool(options.documents)] : undefined;
  const memoryTools = hasLongTermMemory(options) ? createMemoryTools() : undefined;
  const tools = documentTools || memoryTools ? [...(documentTools ?? []), ...(memoryTools ?? [])] : undefined;
  const summaryMode = (config: RunnableConfig | undefined) => setup(config).settings.memory_mode === "summary";
  const modelNode = createModelNode({
    model: options.model ? (config) => setup(config).model() : undefined,
    sendsSummary: summaryMode,
    systemPrompt,
    retry: { ...DEFAULT_RETRY, ...options.retry },
    tools: documentTools,
    memory: memoryTools ? memoryRunResolver(options.longTermMemory, setup, writer) : undefined,
    memoryTools,
  });
  const builder = new StateGraph(AgentState).addNode("trim", createTrimNode((config) => setup(config).trim));
  // Each run's summaries: its summary model, its summary length and its context.
  const summarize: Summarize = (previous, dropped, config) => {
    const run = setup(config);
    const model = run.summaryModel() as BaseChatModel;
    const { counter, contextTokens } = run.trim;
    return createSummarizer({ model, counter, summaryTokens: run.settings.summary_tokens, contextTokens, timeoutMs: options.retry?.attemptTimeoutMs })(previous, dropped, config);
  };
  // Added before "model" so that drawings list the nodes in the order they run.
  if (options.model) builder.addNode("summarize", createSummarizeNode({ summarize, onError: options.summary?.onError }));
  const graph = builder.addNode("model", modelNode).addEdge(START, "trim");
  if (!options.model) graph.addEdge("trim", "model");
  else {
    // One static type for every shape: callers address nodes by name only through the API
    // (`as_node`, stream metadata), where "summarize" and "tools" are more valid names.
    const withSummary = graph as unknown as StateGraph<typeof AgentState, typeof AgentState.State, typeof AgentState.Update, "trim" | "summarize" | "model">;
    withSummary.addConditionalEdges("trim", (_state, config) => (summaryMode(config) ? "summarize" : "model"), ["summarize", "model"]).addEdge("summarize", "model");
  }
  if (tools) graph.addNode("tools", new ToolNode(tools)).addConditionalEdges("model", toolsCondition, ["tools", END]).addEdge("tools", "trim");
  else graph.addEdge("model", END);
  return graph;
}

/** The compiled agent: a LangGraph graph with `invoke`, `stream`, `getState`, `updateState`, ... */
export type Agent = ReturnType<typeof createAgent>;

/**
 * Builds the compiled agent. With a revertible checkpointer (the ones in `checkpointer.ts`),
 * every run is all-or-nothing: if it fails or is cancelled, the checkpoints it wrote are deleted,
 * so the thread is exactly as it was (no dangling user message, no half-written step).
 */
export function createAgent(options: AgentOptions = {}) {
  const setup = runSetupResolver(options);
  const writer = createMemoryWriter(options.longTermMemory, options.retry?.attemptTimeoutMs);
  const graph = buildAgentGraph(options, setup, writer).compile({ checkpointer: options.checkpointer, store: options.store });
  registerMemoryWriter(graph, writer);
  makeRunsAtomic(graph, options.durability ?? "exit");
  registerAgent(graph, { setup, defaults: runDefaults(options), hasModel: options.model !== undefined });
  return graph;
}

type CompiledAgentGraph = ReturnType<ReturnType<typeof buildAgentGraph>["compile"]>;

/**
 * Wraps the graph's stream iterator, which every entry point (`invoke`, `stream`, `streamEvents`)
 * goes through, so that a run that does not finish is undone. The revert runs after the inner
 * iterator's `finally`, by which time LangGraph has awaited all of the run's checkpoint writes.
 */
function makeRunsAtomic(graph: CompiledAgentGraph, durability: Durability): void {
  const streamIterator = graph._streamIterator.bind(graph);
  graph._streamIterator = async function* atomicStreamIterator(input, runOptions) {
    const checkpointer = graph.checkpointer;
    const threadId = rootThreadId(runOptions);
    // A subgraph run inherits its parent's durability; only top-level runs get our default.
    let options = threadId === undefined || runOptions?.durability !== undefined || runOptions?.checkpointDuring !== undefined ? runOptions : { ...runOptions, durability };
    // Lent to this run only: what it already applied is not kept as pending (see applied-writes.ts).
    if (threadId !== undefined && typeof checkpointer === "object" && options?.durability === "exit") {
      options = { ...options, configurable: { ...options.configurable, [CONFIG_KEY_CHECKPOINTER]: withoutAppliedCommandWrites(checkpointer) } };
    }
    if (!isRevertible(checkpointer) || threadId === undefined) {
      yield* streamIterator(input, options);
      return;
    }
    const ended = trackRun(graph, threadId);
    try {
      const head = await checkpointer.headCheckpointId(threadId);
      let finished = false;
      try {
        yield* streamIterator(input, options);
        finished = true;
      } finally {
        if (!finished) await checkpointer.revertThread(threadId, head);
      }
      // Only once the run has succeeded may old checkpoints go: a failed run reverts to `head`.
      await checkpointer.pruneThread(threadId);
    } finally {
      ended();
    }
  };
}

/** Per graph and thread: promises of runs that have not fully ended yet. */
const unsettledRuns = new WeakMap<object, Map<string, Set<Promise<void>>>>();

function trackRun(graph: object, threadId: string): () => void {
  let threads = unsettledRuns.get(graph);
  if (!threads) {
    threads = new Map();
    unsettledRuns.set(graph, threads);
  }
  const runs = threads.get(threadId) ?? new Set<Promise<void>>();
  threads.set(threadId, runs);
  let end!: () => void;
  const ended = new Promise<void>((resolve) => {
    end = resolve;
  });
  runs.add(ended);
  return () => {
    runs.delete(ended);
    if (runs.size === 0 && threads.get(threadId) === runs) threads.delete(threadId);
    end();
  };
}

/**
 * Resolves once every run of `threadId` on `agent` has fully ended: its checkpoints written, or
 * reverted if it failed. A cancelled stream stops yielding at once, before that happens, so
 * whoever starts the thread's next run (or writes to it) waits for this first.
 */
export async function runsSettled(agent: object, threadId: string): Promise<void> {
  const runs = unsettledRuns.get(agent)?.get(threadId);
  if (runs) await Promise.all([...runs]);
}

/** The thread of a top-level run; `undefined` when the graph runs as a subgraph of another. */
function rootThreadId(options: Partial<RunnableConfig> | undefined): string | undefined {
  const configurable = options?.configurable;
  if (!configurable || "__pregel_read" in configurable) return undefined;
  if (configurable.checkpoint_ns) return undefined;
  const threadId: unknown = configurable.thread_id;
  return typeof threadId === "string" || typeof threadId === "number" ? String(threadId) : undefined;
}
