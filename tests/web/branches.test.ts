/** The web chat's message helpers (src/web/branches.js): titles. */
import { describe, expect, it } from "vitest";
// @ts-expect-error: plain browser JavaScript, type-checked by tsconfig.web.json rather than here
import { shorten, titleOf } from "../../src/web/branches.js";

describe("titles", () => {
  it("uses the title metadata, else the first user message, else New chat", () => {
    expect(titleOf({ metadata: { title: " Trip " }, values: null })).toBe("Trip");
    expect(titleOf({ metadata: {}, values: { messages: [{ type: "system", content: "x" }, { type: "human", content: [{ type: "text", text: "Hello  there" }] }] } })).toBe("Hello there");
    expect(titleOf({ metadata: null, values: { messages: [] } })).toBe("New chat");
    // A chat this page made, not titled yet: its preview, without reading its messages; a title wins.
    expect(titleOf({ metadata: { preview: "What should I pack?" } })).toBe("What should I pack?");
    expect(titleOf({ metadata: { preview: "What should I pack?", title: "Lisbon packing" } })).toBe("Lisbon packing");
  });

  it("cuts long first messages at a word", () => {
    expect(shorten("word ".repeat(30), 20)).toBe("word word word word…");
    expect(shorten("x".repeat(30), 10)).toBe("xxxxxxxxx…");
  });
});
