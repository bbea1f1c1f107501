/**
 * The chat model of each run: the one the agent was built with when the run keeps the default
 * model name, temperature and max tokens, else one built for the run's settings.
 *
 * Why model objects per settings rather than call options: `@langchain/openai`'s ChatOpenAI takes
 * `model`, `temperature` and `maxTokens` from the instance only (its `invocationParams` reads
 * `this.model`, `this.temperature`, `this.maxTokens`; no call option overrides them), so a run
 * with other settings needs a client made with them. The composition's factory gives each the
 * service's response cache, whose key holds these settings, so runs with different settings
 * never share an answer. Building a client is cheap but not free: the last few are kept.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { ValidationError } from "../errors.js";

/** What a chat model is built with, per run. */
export interface ModelSettings {
  /** The model name sent to the provider. */
  model: string;
  temperature: number;
  /** Longest reply, in tokens. */
  maxTokens: number;
}

/** Builds a chat model for `settings` (the composition's: ChatOpenAI on the service's provider and cache). */
export type ChatModelFactory = (settings: ModelSettings) => BaseChatModel;

/** How many models built for run settings are kept; the least recently used goes first. */
const KEPT_MODELS = 16;

/** The `configurable` key of each model setting, for error messages. */
const SETTING_KEYS: Record<keyof ModelSettings, string> = { model: "model", temperature: "temperature", maxTokens: "max_tokens" };

const keyOf = (settings: ModelSettings) => JSON.stringify([settings.model, settings.temperature, settings.maxTokens]);

/** Gives the model for a run's settings (see the module comment). */
export interface ModelSource {
  /**
   * The model for `settings`: `fixed` when the settings are `fixedSettings` (or when there is no
   * factory and `fixed` must serve every run), else the factory's, kept for later runs. Throws
   * `ValidationError` naming the setting when there is no factory and the settings differ.
   */
  modelFor(settings: ModelSettings, fixed: BaseChatModel | undefined, fixedSettings: ModelSettings): BaseChatModel | undefined;
}

/** A model source on `factory` (none: only the models the agent was built with are used). */
export function createModelSource(factory: ChatModelFactory | undefined): ModelSource {
  const built = new Map<string, BaseChatModel>();
  return {
    modelFor(settings, fixed, fixedSettings) {
      const key = keyOf(settings);
      if (fixed && key === keyOf(fixedSettings)) return fixed;
      if (!factory) {
        if (!fixed) return undefined;
        const changed = (Object.keys(SETTING_KEYS) as Array<keyof ModelSettings>).find((name) => settings[name] !== fixedSettings[name]) ?? "model";
        throw new ValidationError(`configurable.${SETTING_KEYS[changed]} cannot be changed per run: this agent was built with one fixed model`);
      }
      let model = built.get(key);
      if (model) built.delete(key);
      else model = factory(settings);
      built.set(key, model);
      if (built.size > KEPT_MODELS) built.delete(built.keys().next().value as string);
      return model;
    },
  };
}
