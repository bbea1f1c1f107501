// @ts-check
/**
 * Messages as the page shows them: their text, a chat's title. Pure functions, so they are tested
 * in Node as well as used by the page. (A chat's branches, the versions of its messages, are
 * worked out in history.js.)
 */

/**
 * @typedef {{ id?: string, type: string, content: unknown }} Message
 * @typedef {{ index: number, count: number, targets: string[] }} Versions
 *   `targets[k]` is the checkpoint that shows version k (oldest version first); `index` is the
 *   version shown now.
 */

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
 * A chat's title: its `title` metadata, else its `preview` (the first message, kept by this page), else the start of its first user message.
 * @param {{ metadata?: Record<string, unknown> | null, values?: { messages?: Message[] } | null }} thread
 * @returns {string}
 */
export function titleOf(thread) {
  const title = thread.metadata?.title;
  if (typeof title === "string" && title.trim() !== "") return title.trim();
  // A chat made here keeps its first message as `preview` until it has a title.
  const preview = thread.metadata?.preview;
  if (typeof preview === "string" && preview.trim() !== "") return preview.trim();
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
