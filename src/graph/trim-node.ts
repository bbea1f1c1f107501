import type { BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ContextOverflowError, ValidationError } from "../errors.js";
import { resolveSystemPrompt } from "./configuration.js";
import type { AgentStateUpdate, AgentStateValue } from "./state.js";
import { REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, roleOf, type TokenCounter } from "./token-counter.js";

/** Where the window sent to the model starts, and what the whole prompt costs. */
export interface WindowSelection {
  /** Index of the first message of the window; messages before it (but pinned ones) are not sent. */
  start: number;
  /** Prompt tokens of system prompt + pinned messages + window + reply priming. */
  promptTokens: number;
}

/** Everything `selectWindow` needs besides the messages. */
export interface WindowBudget {
  /** Prompt tokens available: the context size less the room reserved for the reply. */
  budget: number;
  /** Tokens of the system prompt message (0 when there is none). */
  systemTokens: number;
  countMessage: (message: BaseMessage) => number;
}

const isHuman = (message: BaseMessage) => message.getType() === "human";

/**
 * System messages at the very start of a thread (e.g. a seeded persona) are pinned: they are
 * always sent, like the configured system prompt. Returns how many there are.
 */
export function countPinned(messages: readonly BaseMessage[]): number {
  let pinned = 0;
  while (pinned < messages.length && roleOf(messages[pinned] as BaseMessage) === "system") pinned += 1;
  return pinned;
}

/**
 * Chooses the longest suffix of the history that fits the budget and starts at a human message.
 * Starting at a human message means the window never opens on a tool result and never separates
 * an assistant's tool calls from their results, which always follow it before the next human turn.
 * It scans from the newest message back and stops at the first message that does not fit, so a
 * turn costs time in proportion to the window, not to the whole history.
 *
 * Throws `ValidationError` when there is no human message to answer, and `ContextOverflowError`
 * when the newest human message (with what follows it) cannot fit on its own.
 */
export function selectWindow(messages: readonly BaseMessage[], options: WindowBudget): WindowSelection {
  const { budget, countMessage } = options;
  const pinned = countPinned(messages);
  let tokens = REPLY_PRIMING_TOKENS + options.systemTokens;
  for (let index = 0; index < pinned; index += 1) tokens += countMessage(messages[index] as BaseMessage);

  let selection: WindowSelection | undefined;
  let index = messages.length - 1;
  for (; index >= pinned; index -= 1) {
    const message = messages[index] as BaseMessage;
    tokens += countMessage(message);
    if (tokens > budget) break;
    if (isHuman(message)) selection = { start: index, promptTokens: tokens };
  }
  if (selection) return selection;

  const newestHuman = messages.findLastIndex((message, position) => position >= pinned && isHuman(message));
  if (newestHuman === -1) throw new ValidationError("The thread has no user message for the model to answer");
  // Finish counting what the newest human turn needs, for an error message with real numbers.
  for (index -= 1; index >= newestHuman; index -= 1) tokens += countMessage(messages[index] as BaseMessage);
  throw new ContextOverflowError(
    `The newest message needs ${tokens} prompt tokens with the system prompt, but only ${budget} are available ` +
      `(CONTEXT_TOKENS less MAX_OUTPUT_TOKENS reserved for the reply). Shorten the message or raise CONTEXT_TOKENS.`,
  );
}

/** Settings of the trim node. */
export interface TrimNodeOptions {
  counter: TokenCounter;
  /** Service default system prompt; `configurable.system_prompt` overrides it per run. */
  systemPrompt: string;
  /** The model's context size the whole request must fit in (`CONTEXT_TOKENS`). */
  contextTokens: number;
  /** Room kept free for the reply (`MAX_OUTPUT_TOKENS`). */
  maxOutputTokens: number;
}

/** Tokens the system prompt costs as a message, or 0 when the prompt is empty and not sent. */
export function systemPromptTokens(counter: TokenCounter, prompt: string): number {
  return prompt === "" ? 0 : TOKENS_PER_MESSAGE + counter.countText("system") + counter.countText(prompt);
}

/**
 * Builds the trim node: it stores where the window starts and leaves the history untouched.
 * It writes nothing when the window has not moved.
 */
export function createTrimNode(options: TrimNodeOptions) {
  const { counter } = options;
  const budget = options.contextTokens - options.maxOutputTokens;
  return function trimNode(state: AgentStateValue, config?: RunnableConfig): AgentStateUpdate {
    const systemPrompt = resolveSystemPrompt(options.systemPrompt, config);
    const { start } = selectWindow(state.messages, {
      budget,
      systemTokens: systemPromptTokens(counter, systemPrompt),
      countMessage: (message) => counter.countMessage(message),
    });
    return start === state.windowStart ? {} : { windowStart: start };
  };
}
