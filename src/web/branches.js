// @ts-check
/**
 * Branches of a conversation, worked out from the thread's checkpoint history alone: editing a
 * user message forks from the checkpoint before it, so the versions of a message are the
 * different messages found at its position after the same earlier messages. Pure functions, so
 * they are tested in Node as well as used by the page.
 */

/**
 * @typedef {{ id?: string, type: string, content: unknown }} Message
 * @typedef {{ checkpointId: string, messages: Message[] }} Checkpoint  newest first in a history
 * @typedef {{ index: number, count: number, targets: string[] }} Versions
 *   `targets[k]` is the checkpoint that shows version k (oldest version first); `index` is the
 *   version shown now.
 */

/**
 * Whether `messages` begins with the first `length` messages of `prefix` (compared by id).
 * @param {Message[]} messages
 * @param {Message[]} prefix
 * @param {number} length
 */
export function startsWith(messages, prefix, length) {
  if (messages.length < length) return false;
  for (let index = 0; index < length; index += 1) {
    if (messages[index]?.id !== prefix[index]?.id) return false;
  }
  return true;
}

/**
 * The versions of the message at `position` of `shown`: each other message that followed the same
 * earlier messages somewhere in `history`, with the newest checkpoint that continues it.
 * @param {Checkpoint[]} history newest first
 * @param {Message[]} shown the messages on screen
 * @param {number} position
 * @returns {Versions}
 */
export function versionsAt(history, shown, position) {
  /** @type {Map<string, string>} message id → newest checkpoint holding it at `position` */
  const newest = new Map();
  /** @type {string[]} message ids, oldest first */
  const order = [];
  for (const checkpoint of history) {
    if (!startsWith(checkpoint.messages, shown, position) || checkpoint.messages.length <= position) continue;
    const id = checkpoint.messages[position]?.id ?? "";
    if (!newest.has(id)) newest.set(id, checkpoint.checkpointId);
    // History is newest first; the last time an id is met is its first appearance.
    const seen = order.indexOf(id);
    if (seen >= 0) order.splice(seen, 1);
    order.unshift(id);
  }
  const current = shown[position]?.id ?? "";
  if (!newest.has(current)) return { index: 0, count: 1, targets: [] };
  return { index: order.indexOf(current), count: order.length, targets: order.map((id) => /** @type {string} */ (newest.get(id))) };
}

/**
 * How to resend the user message at `position` with new text: from the newest checkpoint that
 * holds exactly the messages before it (`checkpointId`), or, when no such checkpoint exists (a
 * thread's first message, or history written in one piece), from the newest one that starts with
 * them, after removing the messages that follow (`remove`, their ids).
 * @param {Checkpoint[]} history newest first
 * @param {Message[]} shown
 * @param {number} position
 * @returns {{ checkpointId: string, remove: string[] } | null} null when the history holds no such point
 */
export function forkPoint(history, shown, position) {
  const candidates = history.filter((checkpoint) => startsWith(checkpoint.messages, shown, position));
  const exact = candidates.find((checkpoint) => checkpoint.messages.length === position);
  if (exact) return { checkpointId: exact.checkpointId, remove: [] };
  const longer = candidates[0];
  if (!longer) return null;
  return { checkpointId: longer.checkpointId, remove: longer.messages.slice(position).map((message) => message.id ?? "") };
}

/**
 * The text of a message's content, whether a string or content parts.
 * @param {unknown} content
 * @returns {string}
 */
export function textOf(content) {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (typeof part === "string" ? part : part && typeof part.text === "string" ? part.text : "")).join("");
  }
  return "";
}

/**
 * A chat's title: its `title` metadata, else the start of its first user message.
 * @param {{ metadata?: Record<string, unknown> | null, values?: { messages?: Message[] } | null }} thread
 * @returns {string}
 */
export function titleOf(thread) {
  const title = thread.metadata?.title;
  if (typeof title === "string" && title.trim() !== "") return title.trim();
  const first = thread.values?.messages?.find((message) => message.type === "human");
  return first ? shorten(textOf(first.content)) : "New chat";
}

/**
 * One line of at most `length` characters, cut at a word when it can be.
 * @param {string} text
 * @param {number} [length]
 */
export function shorten(text, length = 60) {
  const line = text.replace(/\s+/g, " ").trim();
  if (line.length <= length) return line || "New chat";
  // One character more than fits: a space there means the last word fits whole.
  const space = line.slice(0, length).lastIndexOf(" ");
  return `${space > length / 2 ? line.slice(0, space) : line.slice(0, length - 1)}…`;
}
