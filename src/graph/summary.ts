/**
 * Summary memory: a running summary of the messages the trim node dropped from the window, kept
 * in the thread's state and sent with the system prompt, so facts from long ago are not forgotten.
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { type BaseMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { modelCallConfig } from "./model-call-config.js";
import { type TokenCounter, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, roleOf } from "./token-counter.js";
import { withDeadline } from "./deadline.js";

/** Introduces the summary to the model, inside the system context. */
export const SUMMARY_HEADING = "Summary of the earlier part of this conversation (those messages are no longer shown):\n";

/** What the summary model is asked to do; the stub model in tests recognises this text. */
export const SUMMARY_INSTRUCTIONS =
  "You maintain the running summary of a conversation between a user and an assistant. " +
  "Given the current summary and messages that follow it, write the new summary: keep every fact " +
  "the user gave about themselves, their goals, decisions and open questions; be concise; write " +
  "only the summary.";

/** Settings of the summariser. */
export interface SummarizerOptions {
  /** The model that writes summaries (`SUMMARY_MODEL`, else the chat model). */
  model: BaseChatModel;
  counter: TokenCounter;
  /** Longest summary, in tokens (`SUMMARY_TOKENS`); longer answers are cut. */
  summaryTokens: number;
  /** The summary model's context; one call's input and output fit in it. */
  contextTokens: number;
  /** Time one summary call may take. */
  timeoutMs?: number;
}

/** Writes the new summary from the old one and the messages that just left the window. */
export type Summarize = (previous: string | null, dropped: readonly BaseMessage[], config?: RunnableConfig) => Promise<string>;

/**
 * Tokens the summary can add to a prompt: its heading and at most `summaryTokens` of text, as a
 * system message of its own (an upper bound: the model node joins it to the system prompt).
 */
export function summaryReserveTokens(counter: TokenCounter, summaryTokens: number): number {
  return TOKENS_PER_MESSAGE + counter.countText("system") + counter.countText(SUMMARY_HEADING) + summaryTokens;
}

/** One line of transcript per message: `user: ...`, `assistant: ...`, tool calls named. */
function transcriptLine(message: BaseMessage): string {
  const role = roleOf(message);
  const calls = (message as { tool_calls?: Array<{ name: string; args?: unknown }> }).tool_calls ?? [];
  const called = calls.map((call) => ` [called ${call.name}(${JSON.stringify(call.args ?? {})})]`).join("");
  return `${role}: ${message.text}${called}`;
}

/**
 * Builds the summariser. Dropped messages are folded in batches that fit the summary model's
 * context with the current summary, so a long stretch (a thread switched to summary mode late)
 * costs several calls rather than one call too large to make; a single message too long for a
 * batch is cut.
 */
export function createSummarizer(options: SummarizerOptions): Summarize {
  const { counter, summaryTokens } = options;
  const fixed = REPLY_PRIMING_TOKENS + 2 * TOKENS_PER_MESSAGE + counter.countText("system") + counter.countText("user") + counter.countText(SUMMARY_INSTRUCTIONS) + 32;
  const inputBudget = options.contextTokens - summaryTokens - fixed;

  const call = async (previous: string | null, lines: string[], config?: RunnableConfig): Promise<string> => {
    const request = `Current summary:\n${previous ?? "(none yet)"}\n\nMessages to add:\n${lines.join("\n")}`;
    const summarize = (signal: AbortSignal | undefined) =>
      options.model.invoke([new SystemMessage(SUMMARY_INSTRUCTIONS), new HumanMessage(request)], {
        ...(config ? modelCallConfig(config) : {}),
        signal,
        // Summary tokens are not the reply: keep them out of the client's token stream.
        tags: [...(config?.tags ?? []), "nostream"],
        runName: "summarize",
      });
    const reply = options.timeoutMs ? await withDeadline(options.timeoutMs, config?.signal, summarize) : await summarize(config?.signal);
    return counter.truncate(reply.text.trim(), summaryTokens);
  };

  return async (previous, dropped, config) => {
    let summary = previous;
    let batch: string[] = [];
    let batchTokens = 0;
    for (const message of dropped) {
      const room = inputBudget - counter.countText(summary ?? "");
      let line = transcriptLine(message);
      // A line whose bytes (a bound on its tokens) may not fit is cut first: truncate reads only
      // what it keeps, where counting a message of a megabyte whole would take seconds.
      if (Buffer.byteLength(line, "utf8") + 1 > room) line = counter.truncate(line, Math.max(1, room - 1));
      const tokens = Math.min(room, counter.countText(line) + 1);
      if (batch.length > 0 && batchTokens + tokens > room) {
        summary = await call(summary, batch, config);
        batch = [];
        batchTokens = 0;
      }
      batch.push(line);
      batchTokens += tokens;
    }
    if (batch.length > 0) summary = await call(summary, batch, config);
    return summary ?? "";
  };
}
