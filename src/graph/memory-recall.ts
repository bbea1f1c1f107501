/**
 * Recall: before a model call, the user's memories most relevant to their latest message go into
 * the system prompt, as many as the prompt budget leaves room for, best-ranked first.
 */
import type { BaseMessage } from "@langchain/core/messages";
import type { BaseStore } from "@langchain/langgraph-checkpoint";
import { fitMemorySection, memoryLine, searchMemories } from "./long-term-memory.js";
import { REPLY_PRIMING_TOKENS, type TokenCounter } from "./token-counter.js";

/** Long-term memory as one model call of a run has it. */
export interface MemoryRun {
  store: BaseStore;
  user: string;
  /** Most memories recalled (`MEMORY_RECALL_K`). */
  recallK: number;
  counter: TokenCounter;
  /** Prompt tokens available: context_tokens less max_tokens. */
  budget: number;
  /** Told when the store cannot be searched; the call goes on without memories. */
  onError?: (error: unknown) => void;
  /** Called when the turn's reply is produced (see `MemoryWriter.note`). */
  noteTurn(messages: readonly BaseMessage[]): void;
}

/** Prompt tokens of a request with these messages. */
const promptTokens = (counter: TokenCounter, prompt: readonly BaseMessage[]) =>
  prompt.reduce((sum, message) => sum + counter.countMessage(message), REPLY_PRIMING_TOKENS);

/**
 * The prompt with the recalled memories: `build(section)` makes the prompt with a memory section
 * ("" for none), and the largest section of best-ranked memories whose prompt is within
 * `run.budget` is used. A store that fails to answer costs the memories, not the turn.
 */
export async function promptWithMemories(run: MemoryRun, query: string, build: (section: string) => BaseMessage[]): Promise<BaseMessage[]> {
  let lines: string[];
  try {
    lines = (await searchMemories(run.store, run.user, query, run.recallK)).map((memory) => memoryLine(run.counter, memory));
  } catch (error) {
    run.onError?.(error);
    return build("");
  }
  let chosen: BaseMessage[] | undefined;
  fitMemorySection(lines, (section) => {
    const prompt = build(section);
    if (promptTokens(run.counter, prompt) > run.budget) return false;
    chosen = prompt;
    return true;
  });
  return chosen ?? build("");
}
