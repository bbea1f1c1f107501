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

  // A message put into the thread with a state update reaches the node uncounted, up to the
  // request's megabyte. Before, it was counted whole (seconds of tokenising on the event loop).
  it("counts a message far larger than the budget only as far as it needs to", () => {
    const counted = createTokenCounter("gpt-4o-mini");
    let tokenised = 0;
    const spy = { ...counted, countMessage: (message: BaseMessage) => ((tokenised += 1), counted.countMessage(message)) };
    const big = createTrimNode({ counter: spy, systemPrompt: "Be brief.", contextTokens: 1_000, maxOutputTokens: 100 });
    const huge = new HumanMessage("The quick brown fox jumps over the lazy dog. ".repeat(20_000));
    // Newest: the run says how far over it is, not an exact count of 200,000 tokens.
    expect(() => big({ messages: [huge], windowStart: 0, summary: null })).toThrow(/The newest message needs more than 1800 prompt tokens with the system prompt, but only 900 are available/);
    // Older: it falls out of the window, and the turns after it are answered.
    expect(big({ messages: [huge, ...history(2)], windowStart: 0, summary: null })).toEqual({ windowStart: 1 });
    expect(tokenised).toBe(0);
  });
});
