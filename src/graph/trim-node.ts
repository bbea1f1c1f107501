import type { BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { ContextOverflowError, ValidationError } from "../errors.js";
import { resolveSystemPrompt } from "./configuration.js";
import { storeOf } from "./long-term-memory.js";
import type { AgentStateUpdate, AgentStateValue } from "./state.js";
import { COUNTED_EXACTLY, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE, roleOf, tokensNeeded, type TokenCounter } from "./token-counter.js";

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
    `The newest message needs ${tokensNeeded(tokens, budget)} prompt tokens with the system prompt, but only ${budget} are available ` +
      `(context_tokens less max_tokens reserved for the reply: CONTEXT_TOKENS and MAX_OUTPUT_TOKENS unless the run sets them). Shorten the message or raise context_tokens.`,
  );
}

/** Settings of the trim node. */
export interface TrimNodeOptions {
  counter: TokenCounter;
  /** Service default system prompt; `configurable.system_prompt` overrides it per run. */
  systemPrompt: string;
  /** The model's context size the whole request must fit in (`context_tokens`, `CONTEXT_TOKENS`). */
  contextTokens: number;
  /** Room kept free for the reply (`max_tokens`, `MAX_OUTPUT_TOKENS`). */
  maxOutputTokens: number;
  /**
   * Summary memory mode: tokens kept free for the summary of what the window dropped (see
   * `summaryReserveTokens`). Unset: window mode, where the dropped messages are simply not sent.
   */
  summaryReserve?: number;
  /** The agent can search documents: runs bound to a collection get the tool's instructions. */
  retrieval?: boolean;
  /**
   * Long-term memory on: tokens kept free for the memories the model node recalls into the system
   * prompt (see `memoryReserveTokens`), in runs that have a store. Only while the newest turn fits
   * beside it: memories never make a turn fail; the model node sends those that fit.
   */
  memoryReserve?: number;
}

/**
 * The window chosen with `reserve` tokens kept free for recalled memories. When the newest turn
 * does not fit beside that much, the room is halved until it does (down to none): the turn goes
 * first, and memories get what is left.
 */
function withMemoryRoom(reserve: number, budget: number, windowStart: (room: number) => number): number {
  for (let room = reserve; ; room = Math.floor(room / 2)) {
    try {
      return windowStart(budget - room);
    } catch (error) {
      if (room === 0 || !(error instanceof ContextOverflowError)) throw error;
    }
  }
}

/**
 * In summary mode a window that has to move moves back to this share of its budget, so that the
 * next few turns fit without moving it again: one summary call every few turns, not every turn.
 */
export const SUMMARY_WINDOW_REFILL = 0.75;

/** Tokens the system prompt costs as a message, or 0 when the prompt is empty and not sent. */
export function systemPromptTokens(counter: TokenCounter, prompt: string): number {
  return prompt === "" ? 0 : TOKENS_PER_MESSAGE + counter.countText("system") + counter.countText(prompt);
}

/**
 * Builds the trim node: it stores where the window starts and leaves the history untouched.
 * It writes nothing when the window has not moved. `options` may be given per run (a function
 * of the run's config): the budget of a run is its own `context_tokens` and `max_tokens`.
 */
export function createTrimNode(options: TrimNodeOptions | ((config: RunnableConfig | undefined) => TrimNodeOptions)) {
  return function trimNode(state: AgentStateValue, config?: RunnableConfig): AgentStateUpdate {
    const run = typeof options === "function" ? options(config) : options;
    const { counter, summaryReserve } = run;
    const budget = run.contextTokens - run.maxOutputTokens;
    // A message far larger than the budget can never be in the window: knowing that costs a
    // few budgets' worth of tokenising, where an exact count of a megabyte (one put into the
    // thread with a state update) would hold the event loop for seconds.
    const countMessage = (message: BaseMessage) => counter.countMessageWithin(message, COUNTED_EXACTLY * budget);
    const systemTokens = systemPromptTokens(counter, resolveSystemPrompt(run.systemPrompt, config, { retrieval: run.retrieval }));
    const windowStart = (room: number) =>
      summaryReserve === undefined ? selectWindow(state.messages, { budget: room, systemTokens, countMessage }).start : summaryWindowStart(state, room, summaryReserve, systemTokens, countMessage);
    const start = withMemoryRoom(run.memoryReserve !== undefined && storeOf(config) !== undefined ? run.memoryReserve : 0, budget, windowStart);
    return start === state.windowStart ? {} : { windowStart: start };
  };
}

/**
 * The window in summary mode. While the whole history fits and nothing was summarised yet, it
 * is the whole history. Otherwise room is kept for the summary; the window stays where it is for
 * as long as it fits, and when it must move it moves back to `SUMMARY_WINDOW_REFILL` of the room.
 */
function summaryWindowStart(state: AgentStateValue, budget: number, reserve: number, systemTokens: number, countMessage: (message: BaseMessage) => number): number {
  const { messages, windowStart } = state;
  const pinned = countPinned(messages);
  if (state.summary === null) {
    const whole = selectWindow(messages, { budget, systemTokens, countMessage });
    if (whole.start === pinned) return whole.start;
  }
  const room = budget - reserve;
  const fitting = selectWindow(messages, { budget: room, systemTokens, countMessage });
  const stillFits = windowStart >= fitting.start && windowStart < messages.length && isHuman(messages[windowStart] as BaseMessage);
  if (stillFits) return windowStart;
  try {
    return Math.max(fitting.start, selectWindow(messages, { budget: Math.floor(room * SUMMARY_WINDOW_REFILL), systemTokens, countMessage }).start);
  } catch (error) {
    // The newest turn alone is larger than the refill share: the longest window that fits will do.
    if (error instanceof ContextOverflowError) return fitting.start;
    throw error;
  }
}
