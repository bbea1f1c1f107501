// @ts-check
/**
 * The page's address says which chat is open: `#thread=<id>`, or no fragment for a new chat.
 * Opening a chat from the page adds an entry to the browser's history, so Back and Forward
 * walk through the chats; Back, Forward and an edited fragment are told to the page, which
 * opens the chat they name. A fragment rather than a path: the server serves one page at `/`.
 */

/**
 * The chat a fragment names, or null.
 * @param {string} hash `location.hash`, with or without its "#"
 * @returns {string | null}
 */
export function threadOfHash(hash) {
  const id = new URLSearchParams(hash.replace(/^#/, "")).get("thread");
  return id === null || id.trim() === "" ? null : id.trim();
}

/** The chat the address names now, or null. */
export const threadInAddress = () => threadOfHash(location.hash);

/**
 * The chat the page last put in the address or was told of, so that each change is told once
 * (Back to another fragment fires both popstate and hashchange).
 * @type {string | null}
 */
let known = null;

/**
 * Puts `threadId` (null: a new chat) in the address. A different chat gets a new history entry,
 * so Back returns to the one before; `replace` changes the current entry instead (a chat just
 * created from the new chat on screen, or one that could not be opened).
 * @param {string | null} threadId
 * @param {{ replace?: boolean }} [options]
 */
export function showInAddress(threadId, { replace = false } = {}) {
  known = threadId;
  if (threadInAddress() === threadId) return;
  const url = threadId === null ? location.pathname + location.search : `#thread=${encodeURIComponent(threadId)}`;
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
}

/**
 * Calls `onChange` with the chat the address names whenever the user changes it (Back, Forward,
 * an edited fragment); not for the page's own `showInAddress`.
 * @param {(threadId: string | null) => void} onChange
 */
export function onAddressChange(onChange) {
  known = threadInAddress();
  const changed = () => {
    const threadId = threadInAddress();
    if (threadId === known) return;
    known = threadId;
    onChange(threadId);
  };
  addEventListener("popstate", changed);
  addEventListener("hashchange", changed);
}
