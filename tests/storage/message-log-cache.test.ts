/**
 * The decoded messages a process keeps across threads: bounded by the memory they take, not by
 * their count, least recently used threads evicted first, never the thread being worked on.
 */
import { HumanMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { MessageLogCache } from "../../src/storage/message-log/log.js";

const message = (text: string) => new HumanMessage({ content: text, id: text.slice(0, 8) });

describe("MessageLogCache", () => {
  it("evicts the least recently used threads once the messages' memory passes the limit", async () => {
    const small = "x".repeat(100);
    // Each message below is a thread letter, a digit and the 100 characters.
    const oneMessage = 4096 + 2 * (small.length + 2);
    const cache = new MessageLogCache(5 * oneMessage);
    for (const thread of ["a", "b"]) for (let seq = 0; seq < 2; seq += 1) cache.remember(thread, seq, message(`${thread}${seq}${small}`));
    expect(cache.weight).toBe(4 * oneMessage);
    // A long message weighs by its text: thread c alone takes most of the room, a goes first.
    cache.remember("c", 0, message(`c0${"y".repeat(3000)}`));
    expect(cache.weight).toBeLessThanOrEqual(5 * oneMessage);

    const loads: string[] = [];
    const load = (thread: string) => (start: number, end: number) => {
      loads.push(`${thread}:${start}-${end}`);
      return Array.from({ length: end - start }, (_, index) => ({ seq: start + index, type: "json", data: "" }));
    };
    const decode = async () => message(`reloaded${small}`);
    // b and c are still cached; a was evicted, so reading it loads it again.
    await cache.resolve("b", [[0, 2]], load("b"), decode);
    expect(loads).toEqual([]);
    const reloaded = await cache.resolve("a", [[0, 2]], load("a"), decode);
    expect(loads).toEqual(["a:0-2"]);
    expect(reloaded.map((item) => item.content)).toEqual([`reloaded${small}`, `reloaded${small}`]);
  });

  it("never evicts the thread being written, and forgetting a thread frees its share", () => {
    const cache = new MessageLogCache(1);
    cache.remember("only", 0, message("hello"));
    cache.remember("only", 1, message("world"));
    expect(cache.weight).toBe(2 * (4096 + 10));
    cache.forget("only");
    expect(cache.weight).toBe(0);
  });
});
