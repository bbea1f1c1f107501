/**
 * The API's JSON of a state's values: `toWireJson` keeps each message's JSON for the next answer,
 * and must still say exactly what `JSON.stringify(toWire(...))` says, after any change.
 */
import { AIMessage, HumanMessage, ToolMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { toWire, toWireJson } from "../../src/server/wire.js";

const plain = (values: Record<string, unknown>) => JSON.stringify(toWire(values));

describe("toWireJson", () => {
  it("writes what JSON.stringify(toWire(values)) writes, for messages and everything else", () => {
    const values = {
      messages: [
        new HumanMessage({ content: "Hi \"there\"\n", id: "h-1" }),
        new AIMessage({ content: [{ type: "text", text: "Hello" }], id: "a-1", tool_calls: [{ id: "c-1", name: "weather", args: { city: "Zürich" } }] }),
        new ToolMessage({ content: "sunny", tool_call_id: "c-1", id: "t-1" }),
      ],
      windowStart: 0,
      summary: null,
      skipped: undefined,
      empty: [],
      mixed: [1, "two", { three: new Date(0) }],
      at: new Date(86_400_000),
    };
    expect(toWireJson(values)).toBe(plain(values));
    // Written again from what it kept: the same text.
    expect(toWireJson(values)).toBe(plain(values));
    expect(JSON.parse(toWireJson(values))).toMatchObject({ messages: [{ type: "human", content: "Hi \"there\"\n" }, { type: "ai" }, { type: "tool" }], windowStart: 0 });
  });

  it("writes a message changed in place anew, not what it kept", () => {
    const message = new AIMessage({ content: "first", id: "a-2" });
    const values = { messages: [message] };
    expect(JSON.parse(toWireJson(values)).messages[0].content).toBe("first");
    message.content = "second";
    expect(JSON.parse(toWireJson(values)).messages[0].content).toBe("second");
    expect(toWireJson(values)).toBe(plain(values));
  });
});
