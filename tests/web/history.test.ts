/** The web chat's branches from the checkpoint tree (src/web/history.js), against a small in-memory API. */
import { describe, expect, it } from "vitest";
// @ts-expect-error: plain browser JavaScript, type-checked by tsconfig.web.json rather than here
import { CheckpointTree, branchVersions, createChatHistory, firstDifference, searchByMessage, searchChain } from "../../src/web/history.js";

interface Message {
  id: string;
  type: string;
  content: string;
}
interface Stored {
  parent: string | null;
  values: { messages: Message[]; windowStart?: number };
}

const message = (id: string, index = 0): Message => ({ id, type: index % 2 === 0 ? "human" : "ai", content: id });
const messages = (ids: string[]) => ids.map(message);

/**
 * A thread's checkpoints as the server keeps them, and the few routes the page's history calls:
 * the history (ids and parents only, newest first, `limit` and `before`), the state at a
 * checkpoint, and state writes (removals and appends, as LangGraph's messages reducer does them).
 */
function fakeThread() {
  const checkpoints = new Map<string, Stored>();
  const calls: string[] = [];
  let clock = 0;
  const put = (parent: string | null, values: Stored["values"]) => {
    clock += 1;
    const id = `c${String(clock).padStart(4, "0")}`;
    checkpoints.set(id, { parent, values });
    return id;
  };
  const api = async (method: string, path: string, body?: Record<string, unknown>) => {
    calls.push(`${method} ${path}`);
    if (path.endsWith("/history")) {
      const ids = [...checkpoints.keys()].sort().reverse().filter((id) => !body?.before || id < (body.before as string));
      return ids.slice(0, body?.limit as number).map((id) => ({ checkpoint_id: id, parent_checkpoint_id: checkpoints.get(id)!.parent }));
    }
    const at = /\/state\/(\w+)$/.exec(path);
    if (method === "GET" && at) {
      const stored = checkpoints.get(at[1]!);
      if (!stored) throw Object.assign(new Error("not found"), { status: 404 });
      return { values: structuredClone(stored.values), checkpoint: { checkpoint_id: at[1] } };
    }
    if (method === "POST" && path.endsWith("/state")) {
      const base = checkpoints.get(body!.checkpoint_id as string)!;
      const update = body!.values as { messages: Array<Message & { type: string }>; windowStart?: number };
      let list = [...base.values.messages];
      for (const item of update.messages) {
        if (item.type === "remove") list = list.filter((kept) => kept.id !== item.id);
        else list.push(item);
      }
      const values = { ...base.values, ...update, messages: list };
      return { checkpoint: { checkpoint_id: put(body!.checkpoint_id as string, values) } };
    }
    throw new Error(`unexpected ${method} ${path}`);
  };
  return { checkpoints, calls, put, api, messagesOf: (id: string) => checkpoints.get(id)!.values.messages };
}

describe("CheckpointTree", () => {
  it("knows each checkpoint's chain, children (oldest first) and its subtree's newest checkpoint", () => {
    const tree = new CheckpointTree();
    tree.add([
      { checkpoint_id: "c5", parent_checkpoint_id: "c3" },
      { checkpoint_id: "c4", parent_checkpoint_id: "c1" },
      { checkpoint_id: "c3", parent_checkpoint_id: "c2" },
    ]);
    expect(tree.add([{ checkpoint_id: "c2", parent_checkpoint_id: "c1" }, { checkpoint_id: "c1", parent_checkpoint_id: null }, { checkpoint_id: "c5", parent_checkpoint_id: "c3" }])).toBe(2);
    expect(tree.chain("c5")).toEqual(["c1", "c2", "c3", "c5"]);
    expect(tree.childrenOf("c1")).toEqual(["c2", "c4"]);
    expect(tree.newestIn("c2")).toBe("c5");
    expect(tree.newestIn("c1")).toBe("c5");
    expect(tree.newestIn("c4")).toBe("c4");
  });

  it("compares messages by id", () => {
    expect(firstDifference(messages(["a", "b", "c"]), messages(["a", "x"]))).toBe(1);
    expect(firstDifference(messages(["a", "b"]), messages(["a", "b", "c"]))).toBe(2);
  });
});

describe("branchVersions", () => {
  /** Versions as the page sees them from `shownId`. */
  async function versionsFrom(thread: ReturnType<typeof fakeThread>, shownId: string) {
    const tree = new CheckpointTree();
    tree.add([...thread.checkpoints].map(([id, stored]) => ({ checkpoint_id: id, parent_checkpoint_id: stored.parent })));
    const read: string[] = [];
    const versions = await branchVersions(tree, shownId, thread.messagesOf(shownId), async (id: string) => {
      read.push(id);
      return thread.checkpoints.get(id)?.values.messages ?? null;
    });
    return { versions: Object.fromEntries(versions), read };
  }

  it("finds the versions of an edited user message, oldest first, reading only the other branch", async () => {
    const thread = fakeThread();
    const turn1 = thread.put(null, { messages: messages(["h1", "a1"]) });
    const turn2 = thread.put(turn1, { messages: messages(["h1", "a1", "h2", "a2"]) });
    const edited = thread.put(turn1, { messages: messages(["h1", "a1", "h2b", "a2b"]) });
    const turn3 = thread.put(edited, { messages: messages(["h1", "a1", "h2b", "a2b", "h3", "a3"]) });
    const fromNew = await versionsFrom(thread, turn3);
    expect(fromNew.versions).toEqual({ 2: { index: 1, count: 2, targets: [turn2, turn3] } });
    expect(fromNew.read).toEqual([turn2]);
    expect((await versionsFrom(thread, turn2)).versions).toEqual({ 2: { index: 0, count: 2, targets: [turn2, turn3] } });
  });

  it("puts a regenerated reply's versions on the reply, the user message being the same", async () => {
    const thread = fakeThread();
    const turn1 = thread.put(null, { messages: messages(["h1", "a1"]) });
    const first = thread.put(turn1, { messages: messages(["h1", "a1", "h2", "a2"]) });
    const second = thread.put(turn1, { messages: messages(["h1", "a1", "h2", "a2b"]) });
    const third = thread.put(turn1, { messages: messages(["h1", "a1", "h2", "a2c"]) });
    expect((await versionsFrom(thread, second)).versions).toEqual({ 3: { index: 1, count: 3, targets: [first, second, third] } });
  });

  it("finds none on a chat that never forked, and skips branches that are gone", async () => {
    const thread = fakeThread();
    const turn1 = thread.put(null, { messages: messages(["h1", "a1"]) });
    const turn2 = thread.put(turn1, { messages: messages(["h1", "a1", "h2", "a2"]) });
    expect(await versionsFrom(thread, turn2)).toEqual({ versions: {}, read: [] });
    const lost = thread.put(turn1, { messages: messages(["h1", "a1", "h2b", "a2b"]) });
    const tree = new CheckpointTree();
    tree.add([...thread.checkpoints].map(([id, stored]) => ({ checkpoint_id: id, parent_checkpoint_id: stored.parent })));
    expect(await branchVersions(tree, turn2, thread.messagesOf(turn2), async (id: string) => (id === lost ? null : thread.messagesOf(id)))).toEqual(new Map());
  });
});

describe("searchChain", () => {
  it("finds the checkpoint before a message in a few reads of a long chain", async () => {
    // 1,000 turns, two messages each.
    const chain = Array.from({ length: 1000 }, (_, turn) => `c${turn}`);
    const count = (id: string) => 2 * (Number(id.slice(1)) + 1);
    for (const position of [0, 2, 998, 1000, 1998]) {
      const reads: string[] = [];
      const found = await searchChain(chain, 2000, position, async (id: string) => {
        reads.push(id);
        return Array.from({ length: count(id) });
      });
      expect(found.more).toBe(found.atMost + 1);
      expect(found.atMost === -1 ? 0 : count(chain[found.atMost]!)).toBe(position);
      expect(reads.length).toBeLessThanOrEqual(2);
    }
  });

  it("still finds it when turns differ in length", async () => {
    const counts = [2, 4, 10, 12, 30, 32, 34, 60, 62, 64];
    const chain = counts.map((_, index) => `c${index}`);
    for (const position of [0, 4, 12, 33, 34, 62]) {
      const found = await searchChain(chain, 64, position, async (id: string) => Array.from({ length: counts[Number(id.slice(1))]! }));
      expect(found.atMost === -1 ? 0 : counts[found.atMost]).toBeLessThanOrEqual(position);
      expect(counts[found.more]).toBeGreaterThan(position);
      expect(found.more).toBe(found.atMost + 1);
    }
  });
});

describe("searchByMessage", () => {
  it("finds where a message came in, also past a checkpoint that removed it", async () => {
    const lists: Record<string, string[]> = { r: ["h1", "a1"], w: [], c: ["h1", "a1"], d: ["h1", "a1", "h2", "a2"] };
    const chain = ["r", "w", "c", "d"];
    const at = async (id: string) => messages(lists[id]!);
    expect(await searchByMessage(chain, messages(lists.d!), 1, at)).toBe(2);
    expect(await searchByMessage(chain, messages(lists.d!), 3, at)).toBe(3);
    const long = Array.from({ length: 300 }, (_, turn) => `c${turn}`);
    const reads: string[] = [];
    const grown = async (id: string) => {
      reads.push(id);
      return messages(Array.from({ length: 2 * (Number(id.slice(1)) + 1) }, (_, index) => `m${index}`));
    };
    const shown = (await grown("c299"))!;
    reads.length = 0;
    expect(await searchByMessage(long, shown, 401, grown)).toBe(200);
    expect(reads.length).toBeLessThanOrEqual(20);
  });
});

describe("createChatHistory", () => {
  it("forks from the checkpoint holding exactly the messages before the one sent again, writing nothing", async () => {
    const thread = fakeThread();
    const turn1 = thread.put(null, { messages: messages(["h1", "a1"]) });
    const turn2 = thread.put(turn1, { messages: messages(["h1", "a1", "h2", "a2"]) });
    const turn3 = thread.put(turn2, { messages: messages(["h1", "a1", "h2", "a2", "h3", "a3"]) });
    const history = createChatHistory(thread.api, "t");
    expect(await history.forkPoint(turn3, thread.messagesOf(turn3), 4)).toBe(turn2);
    expect(await history.forkPoint(turn3, thread.messagesOf(turn3), 2)).toBe(turn1);
    expect(thread.calls.filter((call) => call.startsWith("POST /threads/t/state"))).toEqual([]);
  });

  it("forks a chat's first message from a checkpoint it writes, keeping the old version beside the new one", async () => {
    const thread = fakeThread();
    const only = thread.put(null, { messages: messages(["h1", "a1"]), windowStart: 2 });
    const history = createChatHistory(thread.api, "t");
    const from = await history.forkPoint(only, thread.messagesOf(only), 0);
    expect(thread.messagesOf(from)).toEqual([]);
    expect(thread.checkpoints.get(from)!.values.windowStart).toBe(0);
    // The run the page starts from there.
    const rerun = thread.put(from, { messages: messages(["h1b", "a1b"]) });
    const [copy] = [...thread.checkpoints.keys()].filter((id) => thread.checkpoints.get(id)!.parent === from && id !== rerun);
    expect(thread.messagesOf(copy!)).toEqual(messages(["h1", "a1"]));
    expect(await history.versions(rerun, thread.messagesOf(rerun))).toEqual(new Map([[0, { index: 1, count: 2, targets: [copy, rerun] }]]));
    expect(await history.versions(copy!, thread.messagesOf(copy!))).toEqual(new Map([[0, { index: 0, count: 2, targets: [copy, rerun] }]]));
  });

  it("regenerates a first reply again from the checkpoint written the first time", async () => {
    const thread = fakeThread();
    const only = thread.put(null, { messages: messages(["h1", "a1"]) });
    const history = createChatHistory(thread.api, "t");
    const from = await history.forkPoint(only, thread.messagesOf(only), 0, 1);
    const [copy] = [...thread.checkpoints.keys()].filter((id) => thread.checkpoints.get(id)!.parent === from);
    const second = thread.put(from, { messages: messages(["h1", "a2"]) });
    const written = thread.checkpoints.size;
    expect(await history.forkPoint(second, thread.messagesOf(second), 0, 1)).toBe(from);
    expect(thread.checkpoints.size).toBe(written);
    const third = thread.put(from, { messages: messages(["h1", "a3"]) });
    expect(await history.versions(third, thread.messagesOf(third))).toEqual(new Map([[1, { index: 2, count: 3, targets: [copy, second, third] }]]));
    // From the copy of the first reply, the same three.
    expect(await history.forkPoint(copy!, thread.messagesOf(copy!), 0, 1)).toBe(from);
    expect(await history.versions(copy!, thread.messagesOf(copy!))).toEqual(new Map([[1, { index: 0, count: 3, targets: [copy, second, third] }]]));
  });

  it("on a longer chat, forks its first message beside the turns that followed it", async () => {
    const thread = fakeThread();
    const turn1 = thread.put(null, { messages: messages(["h1", "a1"]) });
    const turn2 = thread.put(turn1, { messages: messages(["h1", "a1", "h2", "a2"]) });
    const history = createChatHistory(thread.api, "t");
    const from = await history.forkPoint(turn2, thread.messagesOf(turn2), 0);
    expect(thread.checkpoints.get(from)!.parent).toBe(turn1);
    expect(thread.checkpoints.size).toBe(3);
    const rerun = thread.put(from, { messages: messages(["h1b", "a1b"]) });
    expect(await history.versions(rerun, thread.messagesOf(rerun))).toEqual(new Map([[0, { index: 1, count: 2, targets: [turn2, rerun] }]]));
  });

  it("reads the tree once, then only what was written since", async () => {
    const thread = fakeThread();
    let head = thread.put(null, { messages: messages(["h1", "a1"]) });
    const history = createChatHistory(thread.api, "t");
    await history.refresh();
    head = thread.put(head, { messages: messages(["h1", "a1", "h2", "a2"]) });
    thread.calls.length = 0;
    await history.refresh();
    expect(thread.calls).toEqual(["POST /threads/t/history"]);
    expect(await history.versions(head, thread.messagesOf(head))).toEqual(new Map());
  });
});
