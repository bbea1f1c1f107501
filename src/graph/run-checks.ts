/**
 * The checks made before a run starts, so a server can answer 4xx at once instead of starting a
 * run doomed to fail. They know the agents `createAgent` built (`registerAgent`).
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ContextOverflowError, ModelNotConfiguredError } from "../errors.js";
import { resolveSystemPrompt } from "./configuration.js";
import { MODEL_NOT_CONFIGURED_MESSAGE } from "./model-node.js";
import { type ResolvedRunSettings, parseRunSettings, resolveRunSettings } from "./run-settings.js";
import type { RunSetupResolver } from "./run-setup.js";
import { COUNTED_EXACTLY, REPLY_PRIMING_TOKENS, tokensNeeded } from "./token-counter.js";
import { systemPromptTokens } from "./trim-node.js";

/** What the checks need to know of an agent. */
export interface RegisteredAgent {
  setup: RunSetupResolver;
  defaults: ResolvedRunSettings;
  /** False: every run would fail, as no model provider is configured. */
  hasModel: boolean;
}

/** The run setups and defaults of each agent `createAgent` built, for checks made before a run starts. */
const setups = new WeakMap<object, RegisteredAgent>();

/** Makes `agent` known to the checks. */
export function registerAgent(agent: object, registered: RegisteredAgent): void {
  setups.set(agent, registered);
}

/** Throws `ModelNotConfiguredError` when `agent` has no model, before a run is started in vain. */
export function assertHasModel(agent: object): void {
  if (setups.get(agent)?.hasModel === false) throw new ModelNotConfiguredError(MODEL_NOT_CONFIGURED_MESSAGE);
}

/** The settings a run of `agent` gets for what it does not set (the service's configuration). */
export function agentRunDefaults(agent: object): ResolvedRunSettings | undefined {
  return setups.get(agent)?.defaults;
}

/**
 * The model that titles the thread of a run of `agent` with `config` (see thread-title.ts);
 * `undefined` when there is no provider, or for an agent not built by `createAgent`.
 */
export function titleModelOf(agent: object, config: RunnableConfig): BaseChatModel | undefined {
  const known = setups.get(agent);
  return known?.hasModel ? known.setup(config).titleModel() : undefined;
}

/**
 * Throws `ValidationError` (naming the field and its rule) when a run of `agent` with this
 * `configurable` could not use its settings: a malformed value, or a combination with the
 * agent's defaults that leaves no room (see `resolveRunSettings`).
 */
export function assertRunSettings(agent: object, configurable: Record<string, unknown>): void {
  const known = setups.get(agent);
  if (known) resolveRunSettings(configurable, known.defaults);
  else parseRunSettings(configurable);
}

/**
 * Throws what the run would fail with, before it starts: `ValidationError` for a setting it
 * cannot use or a system prompt variable with no value, `ContextOverflowError` when the new
 * messages alone cannot fit the run's budget. Lets a server answer 4xx at once instead of
 * starting a run doomed to fail.
 */
export function assertInputFits(agent: object, messages: readonly BaseMessage[], config: RunnableConfig): void {
  const known = setups.get(agent);
  if (!known || messages.length === 0) return;
  const options = known.setup(config).trim;
  const systemPrompt = resolveSystemPrompt(options.systemPrompt, config, { retrieval: options.retrieval });
  // In summary mode the newest turn must leave room for the summary beside it.
  const budget = options.contextTokens - options.maxOutputTokens - (options.summaryReserve ?? 0);
  const promptTokens = REPLY_PRIMING_TOKENS + systemPromptTokens(options.counter, systemPrompt);
  // Most inputs are far below the budget: their byte lengths say so without tokenising them
  // (the trim node counts them anyway, once they have their ids).
  if (promptTokens + messages.reduce((sum, message) => sum + options.counter.countMessageAtMost(message), 0) <= budget) return;
  // 1 MB of text is not worth seconds of CPU to count exactly (see countMessageWithin).
  const needed = promptTokens + messages.reduce((sum, message) => sum + options.counter.countMessageWithin(message, COUNTED_EXACTLY * budget), 0);
  if (needed > budget) {
    throw new ContextOverflowError(
      `The new messages need ${tokensNeeded(needed, budget)} prompt tokens with the system prompt, but only ${budget} are available ` +
        `(context_tokens less max_tokens reserved for the reply: CONTEXT_TOKENS and MAX_OUTPUT_TOKENS unless the run sets them). Shorten them or raise context_tokens.`,
    );
  }
}
