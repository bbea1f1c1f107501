import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { type BaseMessage, SystemMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { randomUUID } from "node:crypto";
import { AppError, ModelNotConfiguredError, ModelProviderError } from "../errors.js";
import { resolveSystemPrompt } from "./configuration.js";
import type { AgentStateUpdate, AgentStateValue } from "./state.js";
import { countPinned } from "./trim-node.js";

/** Said wherever a run needs a model and none is configured. */
export const MODEL_NOT_CONFIGURED_MESSAGE =
  "No model provider is configured: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL " +
  "(any OpenAI-compatible server: Groq, Ollama, vLLM, LM Studio, ...)";

/** Settings of the model node. */
export interface ModelNodeOptions {
  /** The chat model; `undefined` makes every run fail with `ModelNotConfiguredError`. */
  model: BaseChatModel | undefined;
  /** Service default system prompt; `configurable.system_prompt` overrides it per run. */
  systemPrompt: string;
}

/** The messages one turn sends: system prompt, pinned system messages, then the window. */
export function buildPrompt(state: AgentStateValue, systemPrompt: string): BaseMessage[] {
  const pinned = countPinned(state.messages);
  const prompt: BaseMessage[] = systemPrompt === "" ? [] : [new SystemMessage(systemPrompt)];
  prompt.push(...state.messages.slice(0, pinned), ...state.messages.slice(Math.max(pinned, state.windowStart)));
  return prompt;
}

function statusOf(error: unknown): number | undefined {
  for (let current = error; current && typeof current === "object"; current = (current as Error).cause) {
    const status = (current as { status?: unknown }).status;
    if (typeof status === "number") return status;
  }
  return undefined;
}

/**
 * Turns whatever the provider client threw into a `ModelProviderError` that says what happened.
 * Cancellation is passed through untouched: it is the caller's doing, not the provider's.
 */
export function toModelError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted || error instanceof AppError) return error;
  if (error instanceof Error && error.name === "AbortError") return error;
  const providerStatus = statusOf(error);
  const reason = error instanceof Error ? error.message : String(error);
  const message =
    providerStatus === undefined
      ? `The model provider could not be reached or did not answer in time: ${reason}`
      : `The model provider answered HTTP ${providerStatus}: ${reason}`;
  return new ModelProviderError(message, { cause: error, providerStatus });
}

/**
 * Builds the model node: it sends the window chosen by the trim node and appends the reply.
 * A reply whose id is already in the thread (some OpenAI-compatible servers reuse ids) gets a
 * fresh one, because the messages reducer would otherwise overwrite the earlier message.
 */
export function createModelNode(options: ModelNodeOptions) {
  return async function modelNode(state: AgentStateValue, config?: RunnableConfig): Promise<AgentStateUpdate> {
    const { model } = options;
    if (!model) throw new ModelNotConfiguredError(MODEL_NOT_CONFIGURED_MESSAGE);
    const prompt = buildPrompt(state, resolveSystemPrompt(options.systemPrompt, config));
    let reply: BaseMessage;
    try {
      reply = await model.invoke(prompt, config);
    } catch (error) {
      throw toModelError(error, config?.signal);
    }
    if (reply.id === undefined || state.messages.some((message) => message.id === reply.id)) {
      // Serialisation reads the constructor arguments (lc_kwargs), not the field: set both,
      // or a checkpoint would store the message without the id the stream showed.
      const id = randomUUID();
      reply.id = id;
      reply.lc_kwargs.id = id;
    }
    return { messages: [reply] };
  };
}
