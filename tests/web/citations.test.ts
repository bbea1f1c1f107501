/** The web chat's citation logic (src/web/citations.js). */
import { describe, expect, it } from "vitest";
// @ts-expect-error: plain browser JavaScript, type-checked by tsconfig.web.json rather than here
import { citationsFor } from "../../src/web/citations.js";

const citation = (n: number, chunk: string, source = "a.md") => ({ n, chunk_id: chunk, document_id: "d", source, position: 0, score: 1, text: `text of ${chunk}` });
const tool = (...citations: ReturnType<typeof citation>[]) => ({ type: "tool", content: "", artifact: { citations } });

describe("citationsFor", () => {
  const messages = [
    { type: "human", content: "old question" },
    tool(citation(1, "old")),
    { type: "ai", content: "old answer [1]" },
    { type: "human", content: "question" },
    { type: "ai", content: "" },
    tool(citation(1, "x"), citation(2, "y", "b.md")),
    { type: "ai", content: "" },
    tool(citation(1, "z")),
    { type: "ai", content: "answer [2] and [1], again [2]" },
  ];

  it("gives the passages cited, in citing order, the latest search winning a shared number", () => {
    expect(citationsFor(messages, 8, "answer [2] and [1], again [2]").map((found: { chunk_id: string }) => found.chunk_id)).toEqual(["y", "z"]);
  });
  it("looks no further back than the turn's question", () => {
    expect(citationsFor(messages, 2, "old answer [1]").map((found: { chunk_id: string }) => found.chunk_id)).toEqual(["old"]);
    expect(citationsFor(messages, 8, "cites [3], which no search returned")).toEqual([]);
  });
  it("gives nothing for an answer that cites nothing", () => {
    expect(citationsFor(messages, 8, "no marks")).toEqual([]);
  });
});
