/**
 * The floor's agent: LangGraph alone, the service's graph (`createAgent`, long-term memory as
 * the server has it by default) on `MemorySaver` and `InMemoryStore`, its `ChatOpenAI` calling
 * the model at `baseUrl`. Both floors of the real-path bench use it: in the bench's process, and
 * behind a bare HTTP server (http-floor.ts).
 */
import { HumanMessage } from "@langchain/core/messages";
import { InMemoryStore, MemorySaver } from "@langchain/langgraph";
import { loadConfig } from "../src/config.js";
import { createChatModel } from "../src/graph/chat-model.js";
import { createAgent } from "../src/graph/agent.js";

export function createFloorAgent(baseUrl: string) {
  const config = loadConfig({ OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: "bench", MODEL: "gpt-4o-mini", LOG_LEVEL: "silent" });
  const agent = createAgent({
    model: createChatModel(config),
    checkpointer: new MemorySaver(),
    store: new InMemoryStore(),
    longTermMemory: { enabled: config.LONG_TERM_MEMORY === "on", recallK: config.MEMORY_RECALL_K },
    modelName: config.MODEL,
    temperature: config.TEMPERATURE,
    systemPrompt: config.SYSTEM_PROMPT,
    contextTokens: config.CONTEXT_TOKENS,
    maxOutputTokens: config.MAX_OUTPUT_TOKENS,
    tokenizerModel: config.MODEL,
    retry: { maxRetries: config.MODEL_MAX_RETRIES, attemptTimeoutMs: config.MODEL_TIMEOUT_MS },
  });
  return {
    agent,
    /** One turn of `threadId`: the user's `text`, the model's reply; the thread's values after it. */
    turn: (threadId: string, text: string) => agent.invoke({ messages: [new HumanMessage(text)] }, { configurable: { thread_id: threadId } }),
  };
}
