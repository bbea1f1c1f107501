// @ts-check
/**
 * The web chat's Memory dialog: what the agent remembers about the user across chats (Store
 * items under the namespace ["memories", <user>]), newest first, a page at a time; forget one,
 * or all of them. Everything goes through the API's `/store` endpoints, which show an API key's
 * owner only their own items.
 */

/**
 * @typedef {{ namespace: string[], key: string, value: Record<string, unknown>, created_at: string, updated_at: string }} MemoryItem
 * @typedef {(method: string, path: string, body?: unknown) => Promise<any>} Api
 */

/** The namespace every user's memories are under (then the user). */
export const MEMORY_NAMESPACE = ["memories"];
/** Memories shown per page ("Show more" reads the next). */
const PAGE_SIZE = 20;
/** Memories read per request while forgetting all of them. */
const CLEAR_BATCH = 100;

/**
 * What a memory says: its `text`, or else its whole value as JSON (items put by other code).
 * @param {Record<string, unknown> | null | undefined} value
 */
export function memoryText(value) {
  const text = value?.text;
  return typeof text === "string" ? text : JSON.stringify(value ?? null);
}

/**
 * Items newest first (by `updated_at`); ties keep their order.
 * @param {MemoryItem[]} items
 */
export const newestFirst = (items) => [...items].sort((a, b) => Date.parse(b.updated_at) - Date.parse(a.updated_at));

/**
 * Whose memory it is: the namespace after "memories", as written (the agent percent-encodes the
 * characters labels may not hold, such as the dots of an e-mail address).
 * @param {MemoryItem} item
 */
export function userOf(item) {
  return item.namespace
    .slice(MEMORY_NAMESPACE.length)
    .map((label) => {
      try {
        return decodeURIComponent(label);
      } catch {
        return label;
      }
    })
    .join("/");
}

/** @param {string} iso */
function formatDate(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? "" : date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/**
 * Wires the dialog.
 * @param {{ api: Api }} options
 */
export function createMemoryPanel({ api }) {
  const byId = (/** @type {string} */ id) => /** @type {HTMLElement} */ (document.getElementById(id));
  const dialog = /** @type {HTMLDialogElement} */ (byId("memory-dialog"));
  const list = byId("memory-list");
  const empty = byId("memory-empty");
  const more = /** @type {HTMLButtonElement} */ (byId("memory-more"));
  const clear = /** @type {HTMLButtonElement} */ (byId("memory-clear"));
  const status = byId("memory-status");
  const error = byId("memory-error");
  /** @type {MemoryItem[]} the memories shown, newest first */
  let items = [];
  /** Whether the server may hold more than those shown. */
  let hasMore = false;

  /** @param {() => Promise<unknown>} action */
  const guarded = async (action) => {
    error.hidden = true;
    try {
      await action();
    } catch (failure) {
      error.textContent = failure instanceof Error ? failure.message : String(failure);
      error.hidden = false;
    }
  };

  /**
   * One page of memories from `offset`.
   * @param {number} offset
   * @param {number} limit
   * @returns {Promise<MemoryItem[]>}
   */
  async function page(offset, limit) {
    const found = await api("POST", "/store/items/search", { namespace_prefix: MEMORY_NAMESPACE, limit, offset });
    return found.items;
  }

  /** Reads the first page again. */
  async function refresh() {
    const found = await page(0, PAGE_SIZE);
    items = newestFirst(found);
    hasMore = found.length === PAGE_SIZE;
    render();
  }

  async function showMore() {
    const found = await page(items.length, PAGE_SIZE);
    const shown = new Set(items.map(identity));
    items = [...items, ...newestFirst(found.filter((item) => !shown.has(identity(item))))];
    hasMore = found.length === PAGE_SIZE;
    render();
  }

  /** @param {MemoryItem} item */
  const identity = (item) => JSON.stringify([item.namespace, item.key]);

  function render() {
    // Memories of several users (`user_id` given by a client) say whose they are.
    const users = new Set(items.map(userOf));
    list.replaceChildren(...items.map((item) => itemElement(item, users.size > 1)));
    list.hidden = items.length === 0;
    empty.hidden = items.length > 0;
    more.hidden = !hasMore;
    clear.hidden = items.length === 0;
    status.textContent = items.length === 0 ? "" : `${items.length}${hasMore ? "+" : ""} remembered`;
  }

  /**
   * @param {MemoryItem} item
   * @param {boolean} showUser
   */
  function itemElement(item, showUser) {
    const element = document.createElement("li");
    element.className = "memory";
    element.dataset.key = item.key;
    const text = document.createElement("span");
    text.className = "memory-text";
    text.textContent = memoryText(item.value);
    const meta = document.createElement("time");
    meta.className = "memory-meta";
    meta.dateTime = item.updated_at;
    meta.textContent = `${showUser ? `${userOf(item)} · ` : ""}${formatDate(item.updated_at)}`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button icon memory-delete";
    remove.textContent = "✕";
    const label = `Forget “${memoryText(item.value)}”`;
    remove.setAttribute("aria-label", label);
    remove.title = label;
    remove.addEventListener("click", () => void guarded(() => forget(item)));
    element.append(text, meta, remove);
    return element;
  }

  /** @param {MemoryItem} item */
  async function forget(item) {
    const index = items.indexOf(item);
    await api("DELETE", "/store/items", { namespace: item.namespace, key: item.key });
    items = items.filter((other) => other !== item);
    render();
    // Keyboard users stay in the list: on the next memory's button, else on the dialog's close.
    const buttons = list.querySelectorAll("button.memory-delete");
    /** @type {HTMLElement} */ (buttons.item(Math.min(index, buttons.length - 1)) ?? byId("memory-close")).focus();
  }

  /** Deletes every memory, including those not shown yet, after the user confirms. */
  async function forgetAll() {
    if (!confirm("Forget everything the assistant remembers about you? This cannot be undone.")) return;
    clear.disabled = true;
    try {
      /** @type {Set<string>} */
      const forgotten = new Set();
      // Deleted items leave the search, so the first batch is read again until none is left.
      for (;;) {
        const batch = await page(0, CLEAR_BATCH);
        if (batch.length === 0) break;
        // An item deleted once but found again means deleting does not work: stop, do not spin.
        if (batch.every((item) => forgotten.has(identity(item)))) throw new Error("Some memories could not be deleted");
        for (const item of batch) {
          await api("DELETE", "/store/items", { namespace: item.namespace, key: item.key });
          forgotten.add(identity(item));
          status.textContent = `Forgetting… ${forgotten.size}`;
        }
      }
    } finally {
      clear.disabled = false;
      await refresh();
    }
    byId("memory-close").focus();
  }

  more.addEventListener("click", () => void guarded(showMore));
  clear.addEventListener("click", () => void guarded(forgetAll));
  byId("memory-close").addEventListener("click", () => dialog.close());

  return {
    /** Opens the dialog and reads the newest memories. */
    async open() {
      items = [];
      hasMore = false;
      render();
      empty.hidden = true;
      dialog.showModal();
      await guarded(refresh);
    },
  };
}
