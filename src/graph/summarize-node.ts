import type { RunnableConfig } from "@langchain/core/runnables";
import type { AgentStateUpdate, AgentStateValue } from "./state.js";
import type { Summarize } from "./summary.js";
import { countPinned } from "./trim-node.js";

/** Settings of the summarize node. */
export interface SummarizeNodeOptions {
  summarize: Summarize;
  /** Told when a summary call fails; the turn goes on without it. */
  onError?: (error: unknown, context: { threadId: unknown; upTo: number; windowStart: number }) => void;
}

/**
 * Builds the summarize node (summary memory mode): when the trim node moved the window past what
 * the summary covers, it folds the newly dropped messages into the summary. It makes no model
 * call when the window has not moved. A failed call never fails the turn: the old summary stays,
 * and since it still lags behind the window, the next turn tries again.
 */
export function createSummarizeNode(options: SummarizeNodeOptions) {
  return async function summarizeNode(state: AgentStateValue, config?: RunnableConfig): Promise<AgentStateUpdate> {
    const pinned = countPinned(state.messages);
    const { windowStart, summary } = state;
    // A summary reaching past the window no longer matches the messages (they were edited or
    // removed): start again from the messages themselves.
    const current = summary && summary.upTo >= pinned && summary.upTo <= windowStart ? summary : null;
    const from = current?.upTo ?? pinned;
    if (windowStart <= from) return current === summary ? {} : { summary: null };
    try {
      const text = await options.summarize(current?.text ?? null, state.messages.slice(from, windowStart), config);
      return { summary: { text, upTo: windowStart } };
    } catch (error) {
      if (config?.signal?.aborted) throw error;
      options.onError?.(error, { threadId: config?.configurable?.thread_id, upTo: from, windowStart });
      return current === summary ? {} : { summary: current };
    }
  };
}
