// @ts-check
/**
 * The chat list's search box: finds chats by what was said in them as well as by title, on the
 * server (the threads search's `query`), so the page never loads every chat to look inside.
 * Typing waits for a pause before asking; an answer that arrives after the box changed is dropped.
 */

/** How long typing must pause before the server is asked. */
const PAUSE_MS = 250;
/** Chats one search shows at most. */
const RESULTS = 100;

/**
 * @typedef {{ thread_id: string, metadata?: Record<string, unknown> | null, updated_at: string, status?: string }} Match
 */

/**
 * @param {{
 *   api: (method: string, path: string, body?: unknown) => Promise<any>,
 *   input: HTMLInputElement,
 *   onChange: () => void,
 *   onError: (error: unknown) => void,
 * }} options `onChange` is called when the box changes and when the server's answer arrives
 */
export function createThreadSearch({ api, input, onChange, onError }) {
  /** @type {{ query: string, matches: Match[] } | null} */
  let answered = null;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const query = () => input.value.trim();

  /** @param {string} asked */
  async function ask(asked) {
    try {
      /** @type {Match[]} */
      const matches = await api("POST", "/threads/search", {
        query: asked,
        limit: RESULTS,
        sort_by: "updated_at",
        sort_order: "desc",
        select: ["thread_id", "metadata", "updated_at", "status"],
      });
      if (query() !== asked) return;
      answered = { query: asked, matches };
      onChange();
    } catch (error) {
      if (query() === asked) onError(error);
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const asked = query();
    if (answered?.query !== asked) answered = null;
    // At once: the list as the titles alone filter it (or the whole list, once the box is empty).
    onChange();
    if (asked !== "") timer = setTimeout(() => void ask(asked), PAUSE_MS);
  });

  return {
    /**
     * The server's matches for what is in the box now; null while it is empty or not answered yet.
     * @returns {Match[] | null}
     */
    results: () => (answered && answered.query === query() ? answered.matches : null),
  };
}
