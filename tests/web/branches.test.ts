/** The web chat's branch logic (src/web/branches.js), on histories shaped like the server's. */
import { describe, expect, it } from "vitest";
// @ts-expect-error: plain browser JavaScript, type-checked by tsconfig.web.json rather than here
import { forkPoint, shorten, titleOf, versionsAt } from "../../src/web/branches.js";

const message = (id: string, type = "human") => ({ id, type, content: id });
/** A checkpoint holding messages with these ids (even positions human, odd ones ai). */
const checkpoint = (checkpointId: string, ids: string[]) => ({
  checkpointId,
  messages: ids.map((id, index) => message(id, index % 2 === 0 ? "human" : "ai")),
});

// Turn 1 (h1 a1), turn 2 (h2 a2), then h2 edited to h2b (fork from c1), then h1 edited to h1b.
const history = [
  checkpoint("c5", ["h1b", "a1b"]),
  checkpoint("c4", []),
  checkpoint("c3", ["h1", "a1", "h2b", "a2b"]),
  checkpoint("c2", ["h1", "a1", "h2", "a2"]),
  checkpoint("c1", ["h1", "a1"]),
];

describe("versionsAt", () => {
  it("lists the versions of a message, oldest first, each with the newest checkpoint continuing it", () => {
    const shown = history[2]!.messages;
    expect(versionsAt(history, shown, 2)).toEqual({ index: 1, count: 2, targets: ["c2", "c3"] });
    expect(versionsAt(history, history[3]!.messages, 2)).toEqual({ index: 0, count: 2, targets: ["c2", "c3"] });
    expect(versionsAt(history, shown, 0)).toEqual({ index: 0, count: 2, targets: ["c3", "c5"] });
    expect(versionsAt(history, history[0]!.messages, 0)).toEqual({ index: 1, count: 2, targets: ["c3", "c5"] });
  });

  it("finds one version where nothing was edited", () => {
    expect(versionsAt(history, history[2]!.messages, 1).count).toBe(1);
    expect(versionsAt([checkpoint("c1", ["h1", "a1"])], [message("h1"), message("a1", "ai")], 0)).toEqual({ index: 0, count: 1, targets: ["c1"] });
  });
});

describe("forkPoint", () => {
  it("forks from the checkpoint holding exactly the messages before the edited one", () => {
    expect(forkPoint(history, history[2]!.messages, 2)).toEqual({ checkpointId: "c1", remove: [] });
  });

  it("without such a checkpoint, forks from the newest one that starts with them, removing the rest", () => {
    const only = [checkpoint("c2", ["h1", "a1", "h2", "a2"])];
    expect(forkPoint(only, only[0]!.messages, 0)).toEqual({ checkpointId: "c2", remove: ["h1", "a1", "h2", "a2"] });
    expect(forkPoint(only, only[0]!.messages, 2)).toEqual({ checkpointId: "c2", remove: ["h2", "a2"] });
    expect(forkPoint(history, history[0]!.messages, 0)).toEqual({ checkpointId: "c4", remove: [] });
  });

  it("gives null when the history does not reach the message", () => {
    expect(forkPoint([], [message("h1")], 0)).toBeNull();
  });
});

describe("titles", () => {
  it("uses the title metadata, else the first user message, else New chat", () => {
    expect(titleOf({ metadata: { title: " Trip " }, values: null })).toBe("Trip");
    expect(titleOf({ metadata: {}, values: { messages: [{ type: "system", content: "x" }, { type: "human", content: [{ type: "text", text: "Hello  there" }] }] } })).toBe("Hello there");
    expect(titleOf({ metadata: null, values: { messages: [] } })).toBe("New chat");
  });

  it("cuts long first messages at a word", () => {
    expect(shorten("word ".repeat(30), 20)).toBe("word word word word…");
    expect(shorten("x".repeat(30), 10)).toBe("xxxxxxxxx…");
  });
});
