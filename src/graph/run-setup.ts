/**
 * What one run works with, from its `configurable` over the agent's defaults: its settings, the
 * trim node's budget, its chat model and its summary model. Every node asks here, so the budget
 * the trim node fits the window into is the one the model is called with.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import type { RunnableConfig } from "@langchain/core/runnables";
import { type ChatModelFactory, type ModelSettings, createModelSource } from "./run-models.js";
import { type ResolvedRunSettings, resolveRunSettings } from "./run-settings.js";
import { memoryReserveTokens } from "./long-term-memory.js";
import { summaryReserveTokens } from "./summary.js";
import { TITLE_MAX_TOKENS } from "./thread-title.js";
import { type TokenCounter, createTokenCounter, encodingForModel } from "./token-counter.js";
import type { TrimNodeOptions } from "./trim-node.js";

/** What the agent was built with, as run setups need it. */
export interface RunSetupOptions {
  /** The agent's defaults: what a run gets for every setting it does not name. */
  defaults: ResolvedRunSettings;
  /** Model name whose tokenizer counts for the default model (defaults to `defaults.model`). */
  tokenizerModel?: string;
  /** The chat model for the default model settings. */
  model?: BaseChatModel;
  /** The summary model for the default summary settings; the chat model when unset and there is no factory. */
  summaryModel?: BaseChatModel;
  /** Model name of summaries (`SUMMARY_MODEL`); the run's model when unset. */
  summaryModelName?: string;
  /** Builds models for other settings; without it runs cannot change model, temperature or max tokens. */
  modelFactory?: ChatModelFactory;
  /** The agent can search documents (see `TrimNodeOptions.retrieval`). */
  retrieval: boolean;
  /**
   * Long-term memory (`LONG_TERM_MEMORY`): memories recalled per model call; unset when the agent
   * has none, and then no run has it, whatever its `long_term_memory` says.
   */
  longTermMemory?: { recallK: number };
}

/** One run's setup (see the module comment). */
export interface RunSetup {
  settings: ResolvedRunSettings;
  /** Memories this run recalls per model call (`MEMORY_RECALL_K`); 0 when long-term memory is off for it. */
  recallK: number;
  /** The trim node's settings for this run (`summaryReserve` only in summary mode). */
  trim: TrimNodeOptions;
  /** The chat model for this run's model, temperature and max tokens; undefined without a provider. */
  model(): BaseChatModel | undefined;
  /** The model that writes this run's summaries (at most `summary_tokens` long). */
  summaryModel(): BaseChatModel | undefined;
  /** The model that titles the run's thread: the run's model, answering at most `TITLE_MAX_TOKENS`. */
  titleModel(): BaseChatModel | undefined;
}

/** Gives the setup of a run from its config; throws `ValidationError` for settings it cannot use. */
export type RunSetupResolver = (config: RunnableConfig | undefined) => RunSetup;

/** Builds the resolver of an agent's run setups. */
export function createRunSetupResolver(options: RunSetupOptions): RunSetupResolver {
  const { defaults, model, modelFactory } = options;
  const source = createModelSource(modelFactory);
  const defaultCounter = createTokenCounter(options.tokenizerModel ?? defaults.model);
  const counters = new Map<string, TokenCounter>([[defaultCounter.encoding, defaultCounter]]);
  // A run of another model counts with that model's tokenizer; one counter per encoding.
  const counterFor = (modelName: string): TokenCounter => {
    if (modelName === defaults.model) return defaultCounter;
    const encoding = encodingForModel(modelName);
    let counter = counters.get(encoding);
    if (!counter) {
      counter = createTokenCounter(modelName);
      counters.set(encoding, counter);
    }
    return counter;
  };
  const chatSettings = (settings: ResolvedRunSettings): ModelSettings => ({ model: settings.model, temperature: settings.temperature, maxTokens: settings.max_tokens });
  // Summaries are bookkeeping, not the reply: written at the service's temperature whatever the run's.
  const summarySettings = (settings: ResolvedRunSettings): ModelSettings => ({
    model: options.summaryModelName ?? settings.model,
    temperature: defaults.temperature,
    maxTokens: settings.summary_tokens,
  });
  const defaultChat = chatSettings(defaults);
  const defaultSummary = summarySettings(defaults);

  return (config) => {
    const settings = resolveRunSettings(config?.configurable ?? {}, defaults);
    const counter = counterFor(settings.model);
    const recallK = options.longTermMemory && settings.long_term_memory ? options.longTermMemory.recallK : 0;
    return {
      settings,
      recallK,
      trim: {
        counter,
        systemPrompt: defaults.system_prompt,
        contextTokens: settings.context_tokens,
        maxOutputTokens: settings.max_tokens,
        summaryReserve: settings.memory_mode === "summary" ? summaryReserveTokens(counter, settings.summary_tokens) : undefined,
        retrieval: options.retrieval,
        memoryReserve: recallK > 0 ? memoryReserveTokens(counter, recallK) : undefined,
      },
      model: () => (model ? source.modelFor(chatSettings(settings), model, defaultChat) : undefined),
      summaryModel: () => {
        if (!model) return undefined;
        // Without a factory the summary length is held by truncation alone (see `createSummarizer`).
        if (!modelFactory) return options.summaryModel ?? model;
        return source.modelFor(summarySettings(settings), options.summaryModel, defaultSummary);
      },
      titleModel: () => {
        if (!model) return undefined;
        // Without a factory the run's own model answers, its answer cut by `cleanTitle`.
        if (!modelFactory) return model;
        // Bookkeeping, like summaries: at the service's temperature whatever the run's.
        return source.modelFor({ model: settings.model, temperature: defaults.temperature, maxTokens: TITLE_MAX_TOKENS }, undefined, defaultChat);
      },
    };
  };
}
