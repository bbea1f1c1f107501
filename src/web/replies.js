// @ts-check
/**
 * The replies of a conversation as the page treats them: whether a chat got any, which one
 * Regenerate redoes, and which were cut short by Stop (the server keeps what was streamed, marked
 * `response_metadata.stopped`).
 */
import { textOf } from "./branches.js";
import { REGENERATE_ICON, icon } from "./icons.js";

/**
 * @typedef {import("./branches.js").Message & { tool_calls?: unknown[], response_metadata?: Record<string, unknown> }} Message
 */

/**
 * A reply the page shows: an AI message with text, or one that called tools.
 * @param {Message} message
 */
const isReply = (message) => message.type === "ai" && (textOf(message.content) !== "" || (message.tool_calls?.length ?? 0) > 0);

/**
 * Whether the model said anything in these messages.
 * @param {Message[]} messages
 */
export const hasReply = (messages) => messages.some(isReply);

/** @type {WeakMap<Message[], number>} the last reply's position, per list drawn */
const lastReplies = new WeakMap();

/**
 * The position of the reply Regenerate redoes: the last AI message with text, when no user
 * message follows it; -1 when there is none.
 * @param {Message[]} messages
 * @returns {number}
 */
export function lastReply(messages) {
  // Asked once per message drawn: the answer is kept for the list.
  let position = lastReplies.get(messages);
  if (position === undefined) {
    position = -1;
    for (let index = messages.length - 1; index >= 0; index -= 1) {
      const message = /** @type {Message} */ (messages[index]);
      if (message.type === "human") break;
      if (message.type === "ai" && textOf(message.content) !== "") {
        position = index;
        break;
      }
    }
    lastReplies.set(messages, position);
  }
  return position;
}

/**
 * Whether Stop cut this reply short.
 * @param {Message} message
 */
export const isStopped = (message) => message.response_metadata?.stopped === true;

/**
 * The small "stopped" label under a reply that Stop cut short, or null.
 * @param {Message} message
 * @returns {HTMLElement | null}
 */
export function stoppedLabel(message) {
  if (!isStopped(message)) return null;
  const label = document.createElement("span");
  label.className = "reply-stopped";
  label.textContent = "stopped";
  label.title = "You stopped this reply: this is the part written before";
  return label;
}

/** Regenerate's icon (see icons.js). */
export const regenerateIcon = () => icon(REGENERATE_ICON);
