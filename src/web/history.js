// @ts-check
/**
 * A chat's branches, read without its past values. Reading every past state with its messages (as
 * the page once did) grows with the square of the chat's length: a 1,000-turn chat is ~150 MB.
 * Instead the page reads the chat's current state, then the checkpoint tree (ids and parents only,
 * ~120 bytes a checkpoint), and the messages of a few checkpoints: those where the chat on screen
 * forked (to know which message has other versions), and those an edit forks from.
 *
 * Editing a message (or regenerating a reply) forks from the checkpoint holding exactly the
 * messages before it, so the old and the new version are siblings in the tree; the versions of a
 * message are then the other subtrees of the forks on the path to the checkpoint on screen.
 */

/**
 * @typedef {import("./branches.js").Message} Message
 * @typedef {import("./branches.js").Versions} Versions
 * @typedef {{ messages?: Message[], windowStart?: number, summary?: { upTo: number } | null } & Record<string, unknown>} Values
 * @typedef {(method: string, path: string, body?: unknown) => Promise<any>} Api
 */

/** Checkpoints read per history call (the most the API gives at once) when the tree is read whole. */
const TREE_PAGE = 1000;
/** Checkpoints read per call when catching up after a turn: a turn writes one to a few. */
const UPDATE_PAGE = 20;
/** Past states whose values are kept in memory: each is a whole chat as it was then. */
const VALUES_KEPT = 16;
/** Checkpoints `searchByMessage` looks at one by one before it takes growing steps. */
const LINEAR_STEPS = 4;

/**
 * The checkpoints of a thread as a tree, from ids and parent ids alone. Checkpoint ids sort by
 * time (LangGraph's are UUIDv6), so the newest of a subtree is its greatest id.
 */
export class CheckpointTree {
  constructor() {
    /** @type {Map<string, string | null>} id → parent id */
    this.parents = new Map();
    /** @type {Map<string, string[]>} id → child ids, oldest first */
    this.children = new Map();
    /** @type {Map<string, string> | null} id → newest checkpoint of its subtree; null until asked for */
    this.newest = null;
  }

  /**
   * Adds checkpoints as the history gives them.
   * @param {Array<{ checkpoint_id?: string | null, parent_checkpoint_id?: string | null }>} entries
   * @returns {number} how many were new
   */
  add(entries) {
    let added = 0;
    for (const entry of entries) {
      const id = entry.checkpoint_id;
      if (!id || this.parents.has(id)) continue;
      const parent = entry.parent_checkpoint_id ?? null;
      this.parents.set(id, parent);
      if (parent !== null) {
        const siblings = this.children.get(parent) ?? [];
        siblings.push(id);
        siblings.sort();
        this.children.set(parent, siblings);
      }
      added += 1;
    }
    if (added > 0) this.newest = null;
    return added;
  }

  /** @param {string} id */
  has(id) {
    return this.parents.has(id);
  }

  /** @param {string} id @returns {string[]} oldest first */
  childrenOf(id) {
    return this.children.get(id) ?? [];
  }

  /**
   * The checkpoints from the oldest known ancestor of `id` down to `id`.
   * @param {string} id
   * @returns {string[]}
   */
  chain(id) {
    const chain = [];
    /** @type {string | null | undefined} */
    let current = id;
    const seen = new Set();
    while (current && this.parents.has(current) && !seen.has(current)) {
      seen.add(current);
      chain.push(current);
      current = this.parents.get(current);
    }
    return chain.reverse();
  }

  /**
   * The newest checkpoint of the subtree under `id` (`id` itself when it has no descendants).
   * @param {string} id
   * @returns {string}
   */
  newestIn(id) {
    if (this.newest === null) {
      // Newest first: a checkpoint's descendants are newer, so met before it; each walk up
      // stops where an earlier (newer) one already went.
      const newest = new Map();
      for (const checkpoint of [...this.parents.keys()].sort().reverse()) {
        /** @type {string | null | undefined} */
        let current = checkpoint;
        while (current && !newest.has(current)) {
          newest.set(current, checkpoint);
          current = this.parents.get(current);
        }
      }
      this.newest = newest;
    }
    return this.newest.get(id) ?? id;
  }
}

/**
 * Where two message lists first differ (compared by id); the shorter one's length when one
 * begins the other.
 * @param {Message[]} one
 * @param {Message[]} other
 */
export function firstDifference(one, other) {
  const length = Math.min(one.length, other.length);
  for (let index = 0; index < length; index += 1) {
    if (one[index]?.id !== other[index]?.id) return index;
  }
  return length;
}

/**
 * Whether `messages` begins with the first `length` messages of `prefix` (compared by id).
 * @param {Message[]} messages
 * @param {Message[]} prefix
 * @param {number} length
 */
const startsWith = (messages, prefix, length) => messages.length >= length && firstDifference(messages, prefix) >= length;

/**
 * The versions of each message of `shown` (the messages of checkpoint `shownId`) that has others:
 * at every fork on the way to `shownId`, each other subtree is a version of the message where its
 * newest checkpoint first differs from `shown`.
 * @param {CheckpointTree} tree
 * @param {string} shownId
 * @param {Message[]} shown
 * @param {(checkpointId: string) => Promise<Message[] | null>} messagesAt null for a checkpoint that is gone
 * @returns {Promise<Map<number, Versions>>} by position in `shown`
 */
export async function branchVersions(tree, shownId, shown, messagesAt) {
  const chain = tree.chain(shownId);
  /** @type {Array<{ key: string, shownKey: string, target: string }>} */
  const others = [];
  for (let index = 0; index < chain.length - 1; index += 1) {
    const next = /** @type {string} */ (chain[index + 1]);
    for (const child of tree.childrenOf(/** @type {string} */ (chain[index]))) {
      if (child !== next) others.push({ key: child, shownKey: next, target: tree.newestIn(child) });
    }
  }
  const loaded = await Promise.all(others.map((other) => messagesAt(other.target)));
  /** @type {Map<number, { shownKey: string, versions: Map<string, { key: string, target: string }> }>} */
  const byPosition = new Map();
  for (const [index, other] of others.entries()) {
    const messages = loaded[index];
    if (!messages) continue;
    const position = firstDifference(messages, shown);
    // A branch that stops where the one on screen goes on (or the other way round) has no other
    // version of a message on screen.
    if (position >= messages.length || position >= shown.length) continue;
    const entry = byPosition.get(position) ?? { shownKey: other.shownKey, versions: new Map() };
    // The same message in two subtrees (a copy) is one version: its newest checkpoint shows it.
    const id = messages[position]?.id ?? other.key;
    const known = entry.versions.get(id);
    if (!known || known.target < other.target) entry.versions.set(id, { key: known && known.key < other.key ? known.key : other.key, target: other.target });
    byPosition.set(position, entry);
  }
  /** @type {Map<number, Versions>} */
  const result = new Map();
  for (const [position, { shownKey, versions }] of byPosition) {
    // Oldest version first: a version is as old as the subtree that began it.
    const all = [...versions.values(), { key: shownKey, target: shownId }].sort((one, other) => (one.key < other.key ? -1 : one.key > other.key ? 1 : 0));
    result.set(position, { index: all.findIndex((version) => version.target === shownId && version.key === shownKey), count: all.length, targets: all.map((version) => version.target) });
  }
  return result;
}

/**
 * Finds, on `chain` (oldest first, its last checkpoint holding more than `position` messages),
 * the last checkpoint holding at most `position` messages, and the first holding more. Message
 * counts grow along a chain, and about as many each turn: so it guesses from the counts seen,
 * then looks at the guess's neighbour, then halves (so a few reads even when the guesses miss).
 * @param {string[]} chain
 * @param {number} lastCount messages of the chain's last checkpoint
 * @param {number} position
 * @param {(checkpointId: string) => Promise<Message[] | null>} messagesAt
 * @returns {Promise<{ atMost: number, more: number }>} indexes into `chain`; `atMost` is -1 when none holds so few
 */
export async function searchChain(chain, lastCount, position, messagesAt) {
  let low = -1;
  let lowCount = 0;
  let high = chain.length - 1;
  let highCount = lastCount;
  let lastProbe = -1;
  for (let step = 0; high - low > 1; step += 1) {
    let guess;
    if (step % 3 === 0) guess = low + Math.floor(((position - lowCount) / Math.max(1, highCount - lowCount)) * (high - low));
    else if (step % 3 === 1) guess = lastProbe === low ? low + 1 : high - 1;
    else guess = Math.floor((low + high) / 2);
    const probe = Math.min(high - 1, Math.max(low + 1, guess));
    lastProbe = probe;
    const count = (await messagesAt(/** @type {string} */ (chain[probe])))?.length ?? Number.POSITIVE_INFINITY;
    if (count <= position) {
      low = probe;
      lowCount = count;
    } else {
      high = probe;
      highCount = count;
    }
  }
  return { atMost: low, more: high };
}

/**
 * Finds, on `chain` (oldest first, its last checkpoint holding `shown`), where the message at
 * `index` of `shown` came in: the first of the checkpoints at the end of the chain that all hold
 * it. Unlike counting messages, this is right when the chain went through a checkpoint that
 * removed messages (an earlier fork of a chat's first message), if it is among the last few. It
 * looks back from the end one checkpoint at a time, then in growing steps, then halves.
 * @param {string[]} chain
 * @param {Message[]} shown
 * @param {number} index
 * @param {(checkpointId: string) => Promise<Message[] | null>} messagesAt
 * @returns {Promise<number>} an index into `chain`
 */
export async function searchByMessage(chain, shown, index, messagesAt) {
  const id = shown[index]?.id;
  const holds = async (/** @type {number} */ at) => {
    const messages = await messagesAt(/** @type {string} */ (chain[at]));
    return messages !== null && messages.length > index && messages[index]?.id === id;
  };
  let low = -1;
  let high = chain.length - 1;
  // One checkpoint at a time at first (a fork's checkpoint that removed messages is near the end
  // of a short chat, and a step must not jump over it), then in growing steps.
  for (let taken = 0, step = 1; high - step >= 0; taken += 1, step = taken < LINEAR_STEPS ? 1 : step * 2) {
    if (!(await holds(high - step))) {
      low = high - step;
      break;
    }
    high -= step;
  }
  while (high - low > 1) {
    const middle = Math.floor((low + high) / 2);
    if (await holds(middle)) high = middle;
    else low = middle;
  }
  return high;
}

/**
 * One chat's history as the page reads it: the checkpoint tree, read once and then caught up
 * after each turn, and the values of the few checkpoints it needs.
 * @param {Api} api
 * @param {string} threadId
 */
export function createChatHistory(api, threadId) {
  const tree = new CheckpointTree();
  /** @type {Map<string, Promise<Values | null>>} newest use last */
  const values = new Map();
  /** @type {Promise<void> | null} */
  let reading = null;
  let complete = false;

  /** @param {{ limit: number, before?: string }} page */
  const readPage = async (page) =>
    /** @type {Array<{ checkpoint_id: string, parent_checkpoint_id: string | null }>} */ (
      await api("POST", `/threads/${threadId}/history`, { ...page, select: ["checkpoint_id", "parent_checkpoint_id"] })
    );

  /** Reads checkpoints newest first until it meets known ones (or, the first time, all of them). */
  async function catchUp() {
    let before;
    for (;;) {
      const limit = complete ? UPDATE_PAGE : TREE_PAGE;
      const page = await readPage(before ? { limit, before } : { limit });
      const added = tree.add(page);
      const last = page.at(-1)?.checkpoint_id;
      if (page.length < limit || !last) break;
      // Caught up: this page reached checkpoints already known.
      if (complete && added < page.length) break;
      before = last;
    }
    complete = true;
  }

  /**
   * The values of a checkpoint (null when it is gone), from memory when read recently.
   * @param {string} checkpointId
   * @returns {Promise<Values | null>}
   */
  function valuesAt(checkpointId) {
    let read = values.get(checkpointId);
    if (read) values.delete(checkpointId);
    else {
      read = api("GET", `/threads/${threadId}/state/${checkpointId}`).then(
        (/** @type {{ values?: Values }} */ state) => state.values ?? {},
        (/** @type {unknown} */ error) => {
          if (/** @type {{ status?: number }} */ (error)?.status === 404) return null;
          values.delete(checkpointId);
          throw error;
        },
      );
    }
    values.set(checkpointId, read);
    while (values.size > VALUES_KEPT) values.delete(/** @type {string} */ (values.keys().next().value));
    return read;
  }

  /** @param {string} checkpointId */
  const messagesAt = async (checkpointId) => {
    const read = await valuesAt(checkpointId);
    return read ? (read.messages ?? []) : null;
  };

  return {
    /**
     * Reads the checkpoints written since the last call (all of them the first time).
     * Concurrent callers share one read.
     */
    refresh() {
      reading ??= catchUp().finally(() => {
        reading = null;
      });
      return reading;
    },

    /**
     * Remembers values already read (the current state), so they are not read again.
     * @param {string} checkpointId
     * @param {Values} known
     */
    remember(checkpointId, known) {
      values.set(checkpointId, Promise.resolve(known));
    },

    valuesAt,
    messagesAt,

    /**
     * The versions of the messages on screen (`shown`, the messages of `shownId`).
     * @param {string} shownId
     * @param {Message[]} shown
     */
    async versions(shownId, shown) {
      await this.refresh();
      return branchVersions(tree, shownId, shown, messagesAt);
    },

    /**
     * The checkpoint to run from to send a new version of the message at `position` of `shown`
     * (the messages of `shownId`): the one holding exactly the messages before it. When none does
     * (a chat's first message, history written in one piece), one is written: the messages from
     * `position` on removed from the first checkpoint that has them, and, if that checkpoint is
     * the one on screen, a copy of it beside the new version, so the old one stays a version.
     * @param {string} shownId
     * @param {Message[]} shown
     * @param {number} position
     * @param {number} [replaced] the message the new version replaces (the reply, to regenerate
     *   one: its user message is sent again as it was); the one at `position` by default
     * @returns {Promise<string>}
     */
    async forkPoint(shownId, shown, position, replaced = position) {
      await this.refresh();
      const chain = tree.chain(shownId);
      if (chain.at(-1) !== shownId) throw new Error("This chat's history does not reach the message on screen");
      /** @param {number} at */
      const exactly = async (at) => {
        const messages = at >= 0 ? await messagesAt(/** @type {string} */ (chain[at])) : null;
        return messages !== null && messages.length === position && startsWith(messages, shown, position);
      };
      // Counting messages finds it in a read or two on a chat that only grew...
      const { atMost, more } = await searchChain(chain, shown.length, position, messagesAt);
      if (await exactly(atMost)) return /** @type {string} */ (chain[atMost]);
      // ...looking for where the replaced message came in, on one that forked before.
      const before = (await searchByMessage(chain, shown, replaced, messagesAt)) - 1;
      if (await exactly(before)) return /** @type {string} */ (chain[before]);
      let base = /** @type {string} */ (chain[more]);
      let baseValues = await valuesAt(base);
      if (!baseValues || !startsWith(baseValues.messages ?? [], shown, position)) {
        base = shownId;
        baseValues = await valuesAt(shownId);
      }
      if (!baseValues) throw new Error("This chat's history does not reach the message on screen");
      const removed = (baseValues.messages ?? []).slice(position);
      const prefix = await api("POST", `/threads/${threadId}/state`, {
        checkpoint_id: base,
        values: { messages: removed.map((message) => ({ type: "remove", id: message.id, content: "" })), ...windowWithin(baseValues, position) },
        as_node: "model",
      });
      const prefixId = /** @type {string} */ (prefix.checkpoint.checkpoint_id);
      if (base === shownId) {
        // The old version lives only in the checkpoint on screen, an ancestor of the new one:
        // a copy of it beside the new version keeps it browsable.
        const current = /** @type {Values} */ (await valuesAt(shownId));
        await api("POST", `/threads/${threadId}/state`, {
          checkpoint_id: prefixId,
          values: { messages: removed, ...pick(current, ["windowStart", "summary"]) },
          as_node: "model",
        });
      }
      await this.refresh();
      return prefixId;
    },
  };
}

/**
 * The window fields of `values` as they must be once only `length` messages are left: the window
 * and summary may not point past the end (the trim node moves them on again at the next turn).
 * @param {Values} values
 * @param {number} length
 */
function windowWithin(values, length) {
  /** @type {Record<string, unknown>} */
  const fields = {};
  if (typeof values.windowStart === "number" && values.windowStart > length) fields.windowStart = length;
  if (values.summary && values.summary.upTo > length) fields.summary = null;
  return fields;
}

/**
 * @param {Record<string, unknown>} record
 * @param {string[]} keys
 */
function pick(record, keys) {
  return Object.fromEntries(keys.filter((key) => key in record).map((key) => [key, record[key]]));
}

/** @typedef {ReturnType<typeof createChatHistory>} ChatHistory */
