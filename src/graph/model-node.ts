import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { type BaseMessage, SystemMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { randomUUID } from "node:crypto";
import { AppError, ModelNotConfiguredError, ModelProviderError } from "../errors.js";
import type { StructuredToolInterface } from "@langchain/core/tools";
import { resolveSystemPrompt } from "./configuration.js";
import { collectionOf } from "./search-documents-tool.js";
import { modelCallConfig, withHandlers } from "./model-call-config.js";
import { isCachedReply, promptFingerprint } from "../storage/llm-cache.js";
import { type MemoryRun, promptWithMemories } from "./memory-recall.js";
import { DEFAULT_RETRY, type RetryOptions, isRetryable, retryAfterMs, retryDelayMs, sleep } from "./model-retry.js";
import type { AgentStateUpdate, AgentStateValue } from "./state.js";
import { SUMMARY_HEADING } from "./summary.js";
import { countPinned } from "./trim-node.js";
import { modelCallHandler } from "./model-call-handler.js";
import { deadline } from "./deadline.js";

/** Said wherever a run needs a model and none is configured. */
export const MODEL_NOT_CONFIGURED_MESSAGE =
  "No model provider is configured: set OPENAI_API_KEY (OpenAI) or OPENAI_BASE_URL " +
  "(any OpenAI-compatible server: Groq, Ollama, vLLM, LM Studio, ...)";

/** Settings of the model node. */
export interface ModelNodeOptions {
  /**
   * The chat model, or per run a function of the run's config giving it; `undefined` makes the
   * run fail with `ModelNotConfiguredError`.
   */
  model: BaseChatModel | undefined | ((config: RunnableConfig | undefined) => BaseChatModel | undefined);
  /** Whether a run sends the thread's summary (summary memory mode); always when unset. */
  sendsSummary?: (config: RunnableConfig | undefined) => boolean;
  /** Service default system prompt; `configurable.system_prompt` overrides it per run. */
  systemPrompt: string;
  /** How failed model calls are retried; the model client itself should not retry. */
  retry?: RetryOptions;
  /** Tools offered to the model in runs bound to a collection (`search_documents`). */
  tools?: StructuredToolInterface[];
  /** Long-term memory of a run, or undefined when it has none (off, or no store). */
  memory?: (config: RunnableConfig | undefined) => MemoryRun | undefined;
  /** Tools offered to the model in runs with long-term memory (`save_memory`, `forget_memory`). */
  memoryTools?: StructuredToolInterface[];
}

/**
 * The messages one turn sends: the system prompt (with the recalled long-term `memories`, and
 * the summary of earlier messages in summary mode), pinned system messages, then the window. With `withSummary` false (a window
 * mode run on a thread that has a summary from summary mode runs) the summary is not sent: the
 * window mode budget keeps no room for it.
 */
export function buildPrompt(state: AgentStateValue, systemPrompt: string, withSummary = true, memories = ""): BaseMessage[] {
  const pinned = countPinned(state.messages);
  // A summary lagging behind the window (its last update failed) is still true of what it covers;
  // one reaching into the window no longer matches the messages and is not sent.
  const summary = withSummary && state.summary && state.summary.upTo <= state.windowStart && state.summary.text !== "" ? `${SUMMARY_HEADING}${state.summary.text}` : "";
  const system = [systemPrompt, memories, summary].filter((part) => part !== "").join("\n\n");
  const prompt: BaseMessage[] = system === "" ? [] : [new SystemMessage(system)];
  prompt.push(...state.messages.slice(0, pinned), ...state.messages.slice(Math.max(pinned, state.windowStart)));
  return prompt;
}

/** The first value of `key` along the error's cause chain (LangChain wraps the client's errors). */
function fromCauses<T>(error: unknown, key: string, accept: (value: unknown) => value is T): T | undefined {
  for (let current = error, depth = 0; current && typeof current === "object" && depth < 5; current = (current as Error).cause, depth += 1) {
    const value = (current as Record<string, unknown>)[key];
    if (accept(value)) return value;
  }
  return undefined;
}
const isNumber = (value: unknown): value is number => typeof value === "number";

const CONNECTION_ERROR_NAMES = new Set(["APIConnectionError", "APIConnectionTimeoutError", "TimeoutError", "ConnectTimeoutError", "SocketError"]);
const CONNECTION_ERROR_CODES = new Set(["ECONNRESET", "ECONNREFUSED", "ETIMEDOUT", "EPIPE", "EAI_AGAIN", "ENOTFOUND", "UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT"]);

/** Whether an error says the connection to the provider failed, dropped or timed out. */
function isConnectionProblem(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === "object" && depth < 6; current = (current as Error).cause, depth += 1) {
    const { name, code, message } = current as { name?: unknown; code?: unknown; message?: unknown };
    if (typeof name === "string" && CONNECTION_ERROR_NAMES.has(name)) return true;
    if (typeof code === "string" && CONNECTION_ERROR_CODES.has(code)) return true;
    if (typeof message === "string" && /terminated|socket hang up|fetch failed|network|premature close|connection (error|reset|closed)/i.test(message)) return true;
  }
  return false;
}
const isHeaders = (value: unknown): value is Headers | Record<string, string> => typeof value === "object" && value !== null;

/**
 * Turns whatever the provider client threw into a `ModelProviderError` that says what happened.
 * Cancellation is passed through untouched: it is the caller's doing, not the provider's.
 */
export function toModelError(error: unknown, signal: AbortSignal | undefined): unknown {
  if (signal?.aborted || error instanceof AppError) return error;
  if (error instanceof Error && error.name === "AbortError") return error;
  const providerStatus = fromCauses(error, "status", isNumber);
  const reason = error instanceof Error ? error.message : String(error);
  if (providerStatus === undefined && !isConnectionProblem(error)) {
    // Not an answer from the provider and not a network failure: the request could not even be
    // made (say, a malformed message). Retrying cannot help.
    return new ModelProviderError(`The model call failed before reaching the provider: ${reason}`, { cause: error, isRetryable: false });
  }
  const message =
    providerStatus === undefined
      ? `The model provider could not be reached or did not answer in time: ${reason}`
      : `The model provider answered HTTP ${providerStatus}: ${reason}`;
  return new ModelProviderError(message, {
    cause: error,
    providerStatus,
    retryAfterMs: retryAfterMs(fromCauses(error, "headers", isHeaders)),
    isRetryable: providerStatus === undefined ? true : undefined,
  });
}

/**
 * Calls the model, retrying failures that say they are retryable, after the provider's
 * `Retry-After` or an exponential backoff. A stream that breaks after its first token is not
 * retried: the client has seen those tokens, and a second answer would not match them.
 */
async function invokeWithRetry(model: BaseChatModel, prompt: BaseMessage[], config: RunnableConfig | undefined, retry: RetryOptions, tools?: StructuredToolInterface[]): Promise<BaseMessage> {
  for (let attempt = 0; ; attempt += 1) {
    let streamed = false;
    // Only what a client could have seen counts: a role-only first chunk carries no text.
    const watcher = modelCallHandler("model_call_retry_watch", {
      handleLLMNewToken: (token, _index, _runId, _parentRunId, _tags, fields) => {
        const chunk = fields?.chunk as { message?: { tool_call_chunks?: unknown[] } } | undefined;
        if (token !== "" || (chunk?.message?.tool_call_chunks?.length ?? 0) > 0) streamed = true;
      },
      // Where the run streams content blocks (LangGraph's v3 events, the agent streaming protocol).
      handleChatModelStreamEvent: (event) => {
        if (event.event === "content-block-delta") streamed = true;
      },
    });
    // Called off once the attempt settles: see deadline.ts.
    const timeout = retry.attemptTimeoutMs ? deadline(retry.attemptTimeoutMs, config?.signal) : undefined;
    const signal = timeout?.signal ?? config?.signal;
    // Tools go as call options, not bindTools: the model object stays the one the cache is on.
    const options: RunnableConfig & { promptFingerprint?: string; tools?: StructuredToolInterface[] } = {
      ...modelCallConfig(withHandlers(config, [watcher])),
      // Which attempt this is (from 1), for whoever listens to model calls: a retry says so.
      ...(attempt > 0 ? { metadata: { ...config?.metadata, model_call_attempt: attempt + 1 } } : {}),
      signal,
      ...(tools ? { tools } : {}),
    };
    if (model.cache) {
      // Our run id names the model call, so a reply answered from the cache can take the id
      // LangChain streamed it under (`run-<id>`); see `adoptCachedReplyId`.
      options.runId = randomUUID();
      // LangChain's cache prompt is a lossy rendering (images become "[image]"): key on the exact
      // messages too. Call options end up in the cache's llmString; the provider never sees them.
      options.promptFingerprint = promptFingerprint(prompt);
    }
    try {
      const reply = await model.invoke(prompt, options);
      if (options.runId !== undefined && isCachedReply(reply)) adoptCachedReplyId(reply, options.runId);
      return asPlainText(reply);
    } catch (error) {
      const timedOut = timeout?.timedOut === true && config?.signal?.aborted !== true;
      const failure = timedOut
        ? new ModelProviderError(`The model provider did not finish answering within ${retry.attemptTimeoutMs} ms (MODEL_TIMEOUT_MS)`, { cause: error, isRetryable: true })
        : toModelError(error, config?.signal);
      if (streamed || attempt >= retry.maxRetries || !isRetryable(failure) || config?.signal?.aborted) {
        if (failure instanceof ModelProviderError && attempt > 0) failure.message += ` (after ${attempt + 1} attempts)`;
        throw failure;
      }
      await sleep(retryDelayMs(failure, attempt, retry), config?.signal);
    } finally {
      timeout?.clear();
    }
  }
}

/** Content blocks that hold nothing a plain-text reply loses: its text, and tool calls (kept in `tool_calls`). */
const PLAIN_BLOCKS = new Set(["text", "tool_call", "tool_call_chunk"]);

/**
 * A reply streamed as content blocks (LangChain does so when the run streams the protocol's
 * content-block events) stored as the plain text the other paths store: one shape in the thread
 * whichever client streamed the turn, for every client that reads `content` as a string (and for
 * the provider's own conversion of the next turn's history). Replies with other blocks
 * (reasoning, images) are kept as they are.
 */
function asPlainText(reply: BaseMessage): BaseMessage {
  const { content } = reply;
  if (!Array.isArray(content) || !content.every((block) => typeof block === "object" && PLAIN_BLOCKS.has(block.type))) return reply;
  const text = content.map((block) => (block.type === "text" && typeof block.text === "string" ? block.text : "")).join("");
  reply.content = text;
  reply.lc_kwargs.content = text;
  // `output_version: "v1"` tells LangChain the content is blocks; plain text is the default version.
  const { output_version: _version, ...metadata } = (reply.response_metadata ?? {}) as Record<string, unknown>;
  reply.response_metadata = metadata;
  reply.lc_kwargs.response_metadata = metadata;
  return reply;
}

/**
 * Gives a reply from the cache the id of this call's stream. On a hit LangChain streams the whole
 * text as one token, which LangGraph's "messages" mode emits under `run-<runId>`; with the same
 * id the final message is recognised as already streamed instead of arriving a second time, and
 * clients that join chunks by id see one reply. The stored id belonged to the call that filled
 * the cache (another thread), so it is not kept. A reply with tool calls gets a fresh id instead:
 * the streamed token carried only text, so the complete message must still be emitted.
 */
function adoptCachedReplyId(reply: BaseMessage, runId: string): void {
  const toolCalls = (reply as { tool_calls?: unknown[] }).tool_calls ?? [];
  const id = toolCalls.length > 0 ? randomUUID() : `run-${runId}`;
  reply.id = id;
  reply.lc_kwargs.id = id;
}

/** Models whose provider refused a request for offering tools: offered none again in this process. */
const withoutToolCalling = new WeakSet<BaseChatModel>();

/** Whether a failed call says the model or server does not take tools (HTTP 400/404/422/501 naming them). */
function rejectsTools(error: unknown): boolean {
  if (!(error instanceof ModelProviderError) || error.providerStatus === undefined) return false;
  return [400, 404, 422, 501].includes(error.providerStatus) && /tool|function/i.test(error.message);
}

/**
 * Builds the model node: it sends the window chosen by the trim node and appends the reply.
 * A reply whose id is already in the thread (some OpenAI-compatible servers reuse ids) gets a
 * fresh one, because the messages reducer would otherwise overwrite the earlier message.
 */
export function createModelNode(options: ModelNodeOptions) {
  return async function modelNode(state: AgentStateValue, config?: RunnableConfig): Promise<AgentStateUpdate> {
    const model = typeof options.model === "function" ? options.model(config) : options.model;
    if (!model) throw new ModelNotConfiguredError(MODEL_NOT_CONFIGURED_MESSAGE);
    const retrieval = options.tools !== undefined && collectionOf(config) !== undefined;
    const systemPrompt = resolveSystemPrompt(options.systemPrompt, config, { retrieval });
    const withSummary = options.sendsSummary?.(config) ?? true;
    const memory = options.memory?.(config);
    const prompt = memory
      ? await promptWithMemories(memory, state.messages.findLast((message) => message.getType() === "human")?.text ?? "", (section) => buildPrompt(state, systemPrompt, withSummary, section))
      : buildPrompt(state, systemPrompt, withSummary);
    const documentTools = retrieval ? (options.tools ?? []) : [];
    const memoryTools = memory && !withoutToolCalling.has(model) ? (options.memoryTools ?? []) : [];
    const tools = [...documentTools, ...memoryTools];
    const retry = options.retry ?? DEFAULT_RETRY;
    let reply: BaseMessage;
    try {
      reply = await invokeWithRetry(model, prompt, config, retry, tools.length > 0 ? tools : undefined);
    } catch (error) {
      // A model that cannot call tools still has memory: recall and extraction need no tools.
      if (memoryTools.length === 0 || !rejectsTools(error)) throw error;
      withoutToolCalling.add(model);
      reply = await invokeWithRetry(model, prompt, config, retry, documentTools.length > 0 ? documentTools : undefined);
    }
    if (memory && ((reply as { tool_calls?: unknown[] }).tool_calls?.length ?? 0) === 0) memory.noteTurn([...state.messages, reply]);
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
