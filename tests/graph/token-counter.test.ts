import { AIMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { createRequire } from "node:module";
import { Tiktoken, type TiktokenBPE } from "js-tiktoken/lite";
import { createTokenCounter, encodingForModel } from "../../src/graph/token-counter.js";
import { oneLongWord as letters } from "../support/fixtures.js";

describe("encodingForModel", () => {
  it.each([
    ["gpt-4o-mini", "o200k_base"],
    ["gpt-4.1-nano", "o200k_base"],
    ["o3-mini", "o200k_base"],
    ["gpt-5", "o200k_base"],
    ["openai/gpt-4o", "o200k_base"],
    ["gpt-4-turbo", "cl100k_base"],
    ["gpt-3.5-turbo", "cl100k_base"],
    ["llama-3.1-8b-instant", "cl100k_base"],
  ])("%s uses %s", (model, encoding) => {
    expect(encodingForModel(model)).toBe(encoding);
  });
});

describe("createTokenCounter", () => {
  const counter = createTokenCounter("gpt-4o-mini");

  it("counts text with the bundled ranks", () => {
    expect(counter.countText("hello world")).toBe(2);
    expect(counter.countText("")).toBe(0);
    // cl100k splits this differently from o200k: the encoding choice is real.
    expect(createTokenCounter("gpt-4").countText("Пожалуйста")).not.toBe(counter.countText("Пожалуйста"));
  });

  it("adds OpenAI's per-message overhead: 3 + role + content, 1 + name", () => {
    expect(counter.countMessage(new HumanMessage("hello world"))).toBe(3 + 1 + 2);
    expect(counter.countMessage(new SystemMessage("hello world"))).toBe(3 + 1 + 2);
    expect(counter.countMessage(new HumanMessage({ content: "hello world", name: "ada" }))).toBe(3 + 1 + 2 + 1 + counter.countText("ada"));
  });

  it("counts tool calls and tool results", () => {
    const call = new AIMessage({ content: "", tool_calls: [{ id: "call_1", name: "weather", args: { city: "Paris" } }] });
    const expected = 3 + counter.countText("assistant") + 8 + counter.countText("weather") + counter.countText('{"city":"Paris"}') + counter.countText("call_1");
    expect(counter.countMessage(call)).toBe(expected);
    const result = new ToolMessage({ tool_call_id: "call_1", content: "sunny" });
    expect(counter.countMessage(result)).toBe(3 + counter.countText("tool") + counter.countText("sunny") + counter.countText("call_1"));
  });

  it("counts text parts and a flat cost per image", () => {
    const message = new HumanMessage({
      content: [
        { type: "text", text: "hello world" },
        { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } },
      ],
    });
    expect(counter.countMessage(message)).toBe(3 + 1 + 2 + 85);
  });

  it("recounts a cached message whose content changed under the same id", () => {
    const message = new HumanMessage({ content: "hello world", id: "m-1" });
    expect(counter.countMessage(message)).toBe(6);
    expect(counter.countMessage(new HumanMessage({ content: "hello world, again and again", id: "m-1" }))).toBeGreaterThan(6);
  });

  it("bounds a message's count from above by its bytes, without tokenising it", () => {
    const messages = [
      new HumanMessage("hello world"),
      new HumanMessage("Пожалуйста, 東京の天気は? 🙂🙂 ".repeat(40)),
      new HumanMessage("x".repeat(5000)),
      new AIMessage({ content: "", tool_calls: [{ id: "call_1", name: "weather", args: { city: "Zürich" } }] }),
      new ToolMessage({ tool_call_id: "call_1", content: "sunny" }),
      new HumanMessage({ content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }),
    ];
    for (const message of messages) {
      const bound = counter.countMessageAtMost(message);
      expect(bound).toBeGreaterThanOrEqual(counter.countMessage(message));
      // Once counted, the bound is the count itself.
      expect(counter.countMessageAtMost(message)).toBe(counter.countMessage(message));
    }
    // A bound on bytes: a long run of one letter is few tokens but many bytes.
    expect(createTokenCounter("gpt-4o-mini").countMessageAtMost(new HumanMessage("x".repeat(5000)))).toBeGreaterThan(5000);
  });

  it("counts a text it has seen before the same way", () => {
    const prompt = "You are a helpful assistant. ".repeat(50);
    const fresh = () => createTokenCounter("gpt-4o-mini");
    counter.countText(prompt);
    expect(counter.countText(prompt)).toBe(fresh().countText(prompt));
    // A different text is counted, not taken for a cached one.
    expect(counter.countText(`${prompt}Paris Berlin`)).toBe(fresh().countText(`${prompt}Paris Berlin`));
    expect(counter.countText(`${prompt}Paris Berlin`)).not.toBe(counter.countText(prompt));
  });

  const wholeEncoder = () => {
    const ranks = createRequire(import.meta.url)("js-tiktoken/ranks/o200k_base") as TiktokenBPE | { default: TiktokenBPE };
    return new Tiktoken("default" in ranks ? ranks.default : ranks);
  };

  // js-tiktoken merges a piece in time quadratic in its length: 10,000 letters took five seconds
  // and 200,000 would take hours, freezing every other request meanwhile. Without the chunking
  // these cases run into their time limit.
  it("counts a word of 200,000 letters, within a few percent of tokenising it whole", { timeout: 60_000 }, () => {
    const word = letters(200_000);
    const count = counter.countText(word);
    // Tokenised whole, such letters come to 0.577 tokens each (3,200 of them: 1,846 tokens).
    expect(count / word.length).toBeGreaterThan(0.55);
    expect(count / word.length).toBeLessThan(0.6);
    // Where the whole word can still be tokenised in a moment, the counts are within 2%.
    const short = letters(2_000);
    const exact = wholeEncoder().encode(short).length;
    expect(Math.abs(counter.countText(short) - exact) / exact).toBeLessThan(0.02);
  });

  it("counts ordinary text exactly as tokenising it whole does", () => {
    const encoder = wholeEncoder();
    const texts = [
      "The quick brown fox jumps over the lazy dog near the riverbank. ".repeat(300),
      "Пожалуйста, 東京の天気は? 🙂🙂 ".repeat(100),
      'const answer = { "id": 42, "items": [1, 2, 3] };\n'.repeat(100),
      "https://example.com/a/rather/long/path/to/some/resource?with=query&and=more",
      // Longer than one part (1,024 characters) with spaces, indentation and line ends at the cuts.
      "def answer():\n    return 42\n\n".repeat(200),
      "Line one.  \n  Line two.\r\n\tTabbed   out.   ".repeat(100),
    ];
    for (const text of texts) expect(counter.countText(text)).toBe(encoder.encode(text).length);
  });

  it("truncates a long word, a run of emoji and long text to a prefix of at most that many tokens", { timeout: 60_000 }, () => {
    const cases = [letters(200_000), "🙂".repeat(50_000), " ".repeat(100_000) + "end", "The quick brown fox jumps over the lazy dog. ".repeat(20_000)];
    for (const text of cases) {
      const kept = counter.truncate(text, 300);
      expect(text.startsWith(kept)).toBe(true);
      expect(kept.length).toBeGreaterThan(0);
      expect(counter.countText(kept)).toBeLessThanOrEqual(300);
      // No character cut in half: an emoji's two halves stay together.
      expect(kept).not.toContain("\uFFFD");
    }
    expect(counter.truncate("hello world", 10)).toBe("hello world");
    expect(counter.truncate("hello world", 1)).toBe("hello");
    expect(counter.truncate("hello world", 0)).toBe("");
  });

  it("counts a message exactly within a limit, and past it stops once it knows", () => {
    const fresh = createTokenCounter("gpt-4o-mini");
    const short = new HumanMessage("hello world");
    expect(fresh.countMessageWithin(short, 100)).toBe(6);
    const long = new HumanMessage("The quick brown fox jumps over the lazy dog. ".repeat(2_000));
    const exact = createTokenCounter("gpt-4o-mini").countMessage(long);
    expect(fresh.countMessageWithin(long, exact)).toBe(exact);
    const within = createTokenCounter("gpt-4o-mini").countMessageWithin(long, 1_000);
    expect(within).toBeGreaterThan(1_000);
    // It stopped soon after the limit: a step of text (1,024 characters) is under 300 tokens.
    expect(within).toBeLessThan(1_300);
  });
});
