import type { RunnableConfig } from "@langchain/core/runnables";

/**
 * What LangChain treats as runnable config, and so leaves out of a response cache key.
 * LangGraph hands a node much more (`executionInfo` with the thread and checkpoint ids,
 * `writer`, `durability`, ...); LangChain would read those as call options of the model, and
 * as part of the key they would make every call unique. The model needs none of them.
 */
const MODEL_CALL_CONFIG_KEYS = ["callbacks", "tags", "metadata", "runName", "configurable", "recursionLimit", "maxConcurrency", "timeout"] as const;

/** The part of a node's config that a model call takes. */
export function modelCallConfig(config: RunnableConfig): RunnableConfig {
  const picked: Record<string, unknown> = {};
  for (const key of MODEL_CALL_CONFIG_KEYS) if (config[key] !== undefined) picked[key] = config[key];
  return picked as RunnableConfig;
}
