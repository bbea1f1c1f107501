import { AIMessage, type BaseMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { describe, expect, it } from "vitest";
import { ContextOverflowError, ValidationError } from "../../src/errors.js";
import { REPLY_PRIMING_TOKENS } from "../../src/graph/token-counter.js";
import { createTrimNode, selectWindow } from "../../src/graph/trim-node.js";
import { createTokenCounter } from "../../src/graph/token-counter.js";

/** Every message costs 10 tokens; the reply priming costs REPLY_PRIMING_TOKENS. */
const flat = (budget: number, systemTokens = 0) => ({ budget: budget + REPLY_PRIMING_TOKENS, systemTokens, countMessage: () => 10 });

const turn = (index: number): BaseMessage[] => [new HumanMessage(`question ${index}`), new AIMessage(`answer ${index}`)];
const history = (turns: number) => Array.from({ length: turns }, (_, index) => turn(index)).flat();

describe("selectWindow", () => {
  it("sends everything that fits", () => {
    expect(selectWindow(history(3), flat(60))).toEqual({ start: 0, promptTokens: 60 + REPLY_PRIMING_TOKENS });
  });

  it("keeps the newest turns and starts at a human message", () => {
    // 45 tokens fit four messages, but the fourth from the end is an AI message: start at the third.
    const messages = [...history(3), new HumanMessage("newest")];
    const { start } = selectWindow(messages, flat(45));
    expect(start).toBe(4);
    expect(messages[start]?.getType()).toBe("human");
  });

  it("counts the system prompt against the budget", () => {
    expect(selectWindow(history(3), flat(60, 20)).start).toBe(2);
  });

  it("always keeps leading system messages", () => {
    const messages = [new SystemMessage("persona"), ...history(3)];
    expect(selectWindow(messages, flat(50)).start).toBe(3);
  });

  it("moves past a tool round as a whole", () => {
    const messages = [
      new HumanMessage("weather?"),
      new AIMessage({ content: "", tool_calls: [{ id: "c1", name: "weather", args: {} }] }),
      new ToolMessage({ tool_call_id: "c1", content: "sunny" }),
      new AIMessage("It is sunny."),
      new HumanMessage("thanks"),
    ];
    // 40 tokens would fit the tool result onwards, but the window may only open on a human message.
    expect(selectWindow(messages, flat(40)).start).toBe(4);
    expect(selectWindow(messages, flat(50)).start).toBe(0);
  });

  it("sends the newest human message with what follows it, or fails", () => {
    const messages = [...history(2), new HumanMessage("newest"), new AIMessage("partial")];
    expect(selectWindow(messages, flat(20)).start).toBe(4);
    expect(() => selectWindow(messages, flat(19))).toThrow(ContextOverflowError);
    expect(() => selectWindow(messages, flat(19))).toThrow(/needs 23 prompt tokens/);
  });

  it("refuses a history with no human message", () => {
    expect(() => selectWindow([new AIMessage("hello")], flat(100))).toThrow(ValidationError);
  });
});

describe("createTrimNode", () => {
  const counter = createTokenCounter("gpt-4o-mini");
  const node = createTrimNode({ counter, systemPrompt: "Be brief.", contextTokens: 60, maxOutputTokens: 10 });

  it("stores only the window start, and nothing when it does not move", () => {
    const messages = history(4);
    const update = node({ messages, windowStart: 0, summary: null });
    expect(Object.keys(update)).toEqual(["windowStart"]);
    const start = update.windowStart as number;
    expect(start).toBeGreaterThan(0);
    expect(node({ messages, windowStart: start, summary: null })).toEqual({});
  });
});
