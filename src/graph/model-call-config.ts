import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { RunnableConfig } from "@langchain/core/runnables";

/**
 * What LangChain treats as runnable config, and so leaves out of a response cache key.
 * LangGraph hands a node much more (`executionInfo` with the thread and checkpoint ids,
 * `writer`, `durability`, ...); LangChain would read those as call options of the model, and
 * as part of the key they would make every call unique. The model needs none of them.
 */
const MODEL_CALL_CONFIG_KEYS = ["callbacks", "tags", "metadata", "runName", "configurable", "recursionLimit", "maxConcurrency", "timeout"] as const;

/**
 * The `configurable` key of the callback handlers a run gives its model calls alone (see
 * `withModelCallHandlers`). Internal, as LangGraph's own `__` keys are: no API response shows it.
 */
const MODEL_CALL_HANDLERS = "__model_call_handlers";

/**
 * `config` whose model calls (replies and summaries) get `handlers` too. Handlers in a run's
 * `callbacks` would be called for every node, channel write and branch of the run, and make
 * LangChain track each of those as a run of its own (an id, a copy of the callback manager and
 * its metadata): a fifth of the CPU of a turn, for handlers that only listen to the model.
 */
export function withModelCallHandlers<T extends RunnableConfig>(config: T, handlers: readonly BaseCallbackHandler[]): T {
  return { ...config, configurable: { ...config.configurable, [MODEL_CALL_HANDLERS]: handlers } };
}

/** `config` with more callback handlers, keeping the ones LangGraph put there (token streaming). */
export function withHandlers(config: RunnableConfig | undefined, handlers: readonly BaseCallbackHandler[]): RunnableConfig {
  if (handlers.length === 0) return { ...config };
  const callbacks = config?.callbacks;
  if (callbacks === undefined) return { ...config, callbacks: [...handlers] };
  if (Array.isArray(callbacks)) return { ...config, callbacks: [...callbacks, ...handlers] };
  const copy = callbacks.copy();
  for (const handler of handlers) copy.addHandler(handler, false);
  return { ...config, callbacks: copy };
}

/** The part of a node's config that a model call takes, with the run's model call handlers. */
export function modelCallConfig(config: RunnableConfig): RunnableConfig {
  const handlers = config.configurable?.[MODEL_CALL_HANDLERS] as readonly BaseCallbackHandler[] | undefined;
  const withRunHandlers = handlers ? withHandlers(config, handlers) : config;
  const picked: Record<string, unknown> = {};
  for (const key of MODEL_CALL_CONFIG_KEYS) if (withRunHandlers[key] !== undefined) picked[key] = withRunHandlers[key];
  return picked as RunnableConfig;
}
