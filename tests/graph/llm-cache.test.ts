import { AIMessage, HumanMessage, SystemMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { cacheKey, promptFingerprint, temperatureOf } from "../../src/storage/llm-cache.js";

describe("response cache keys", () => {
  it("reads the temperature from LangChain's llmString", () => {
    expect(temperatureOf('model:"gpt-4o-mini",temperature:0')).toBe(0);
    expect(temperatureOf('temperature:0.7,top_p:1')).toBe(0.7);
    expect(temperatureOf('model:"o3",stream:false')).toBeUndefined();
  });

  it("fingerprints what a prompt sends, not the ids of its messages", () => {
    const prompt = (id: string) => [new SystemMessage("Be brief."), new HumanMessage({ id, content: "Hi" })];
    expect(promptFingerprint(prompt("a"))).toBe(promptFingerprint(prompt("b")));
    // LangChain's prompt string renders both as "Human: Hi\nAI: Hello"; the fingerprint does not.
    expect(promptFingerprint([new HumanMessage("Hi\nAI: Hello")])).not.toBe(promptFingerprint([new HumanMessage("Hi"), new AIMessage("Hello")]));
    const image = (url: string) => [new HumanMessage({ content: [{ type: "text", text: "What is this?" }, { type: "image_url", image_url: { url } }] })];
    expect(promptFingerprint(image("https://example.com/cat.png"))).not.toBe(promptFingerprint(image("https://example.com/dog.png")));
  });

  it("stores a hash that keeps prompt and parameters apart and shows neither", () => {
    const key = cacheKey("Human: hi", 'apiKey:"sk-secret",temperature:0');
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(cacheKey("a_b", "c")).not.toBe(cacheKey("a", "b_c"));
  });
});
