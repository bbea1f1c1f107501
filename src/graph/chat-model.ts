import type { BaseCache } from "@langchain/core/caches";
import { ChatOpenAI, OpenAIEmbeddings } from "@langchain/openai";
import { type Config, hasModelProvider } from "../config.js";

/**
 * Local OpenAI-compatible servers (Ollama, vLLM, LM Studio) need no key, but the OpenAI client
 * refuses to start without one; this placeholder is what their docs suggest sending.
 */
const KEYLESS_PLACEHOLDER = "not-needed";

/**
 * The chat model the config describes, or `undefined` when no provider is configured (the
 * service still starts; runs then fail with a message naming the variables to set). With a
 * `cache`, LangChain answers identical calls from it instead of calling the provider.
 */
export function createChatModel(config: Config, cache?: BaseCache): ChatOpenAI | undefined {
  if (!hasModelProvider(config)) return undefined;
  return new ChatOpenAI({
    model: config.MODEL,
    temperature: config.TEMPERATURE,
    maxTokens: config.MAX_OUTPUT_TOKENS,
    apiKey: config.OPENAI_API_KEY ?? KEYLESS_PLACEHOLDER,
    // The model node retries (honouring Retry-After); the client must not retry on its own too.
    maxRetries: 0,
    timeout: config.MODEL_TIMEOUT_MS,
    configuration: config.OPENAI_BASE_URL ? { baseURL: config.OPENAI_BASE_URL } : {},
    ...(cache ? { cache } : {}),
  });
}

/**
 * The embeddings model of retrieval (`EMBEDDING_MODEL`), at the chat model's provider unless
 * `EMBEDDING_BASE_URL` names another; undefined when none is configured (full-text search only).
 */
export function createEmbeddings(config: Config): OpenAIEmbeddings | undefined {
  if (config.EMBEDDING_MODEL === undefined) return undefined;
  const baseURL = config.EMBEDDING_BASE_URL ?? config.OPENAI_BASE_URL;
  return new OpenAIEmbeddings({
    model: config.EMBEDDING_MODEL,
    apiKey: config.EMBEDDING_API_KEY ?? config.OPENAI_API_KEY ?? KEYLESS_PLACEHOLDER,
    maxRetries: 1,
    timeout: config.MODEL_TIMEOUT_MS,
    configuration: baseURL ? { baseURL } : {},
  });
}
