/**
 * The pieces of title generation that need no server: which exchange is read, how the answer
 * becomes a title, and the partial reply a Stop keeps.
 */
import { AIMessage, HumanMessage, SystemMessage, ToolMessage } from "@langchain/core/messages";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { describe, expect, it } from "vitest";
import { PartialReply, isStoppedReply } from "../../src/graph/partial-reply.js";
import { TITLE_MAX_CHARACTERS, cleanTitle, firstExchange, generateTitle, titleRequest } from "../../src/graph/thread-title.js";

describe("firstExchange", () => {
  it("is the first user message with text and the first reply with text after it", () => {
    const messages = [
      new SystemMessage("pinned"),
      new HumanMessage(""),
      new HumanMessage("Find the refund policy"),
      new AIMessage({ content: "", tool_calls: [{ id: "c1", name: "search_documents", args: { query: "refund" } }] }),
      new ToolMessage({ content: "passages", tool_call_id: "c1" }),
      new AIMessage("Refunds are accepted within 30 days."),
      new HumanMessage("Thanks"),
    ];
    expect(firstExchange(messages)).toEqual({ user: "Find the refund policy", assistant: "Refunds are accepted within 30 days." });
  });

  it("is undefined before a reply with text", () => {
    expect(firstExchange([new HumanMessage("Hello")])).toBeUndefined();
    expect(firstExchange([])).toBeUndefined();
  });

  it("sends the opening of long messages only", () => {
    const request = titleRequest({ user: "a".repeat(5000), assistant: "b" });
    expect(request.length).toBeLessThan(1100);
    expect(request).toMatch(/^User: a+…\n\nAssistant: b$/);
  });
});

describe("cleanTitle", () => {
  it.each([
    ['"Trip to Lisbon."', "Trip to Lisbon"],
    ["Title: Trip to Lisbon", "Trip to Lisbon"],
    ["**Title:** Trip to Lisbon", "Trip to Lisbon"],
    ["# Trip to Lisbon\n\nA conversation about travel.", "Trip to Lisbon"],
    ["“Voyage à Lisbonne”", "Voyage à Lisbonne"],
    ["\n\n  Trip   to\tLisbon  \n", "Trip to Lisbon"],
    ["*Trip to Lisbon*", "Trip to Lisbon"],
  ])("%j → %j", (answer, title) => expect(cleanTitle(answer)).toBe(title));

  it("is undefined for an answer with nothing in it", () => {
    for (const answer of ["", "   ", '""', "\n\n", "."]) expect(cleanTitle(answer)).toBeUndefined();
  });

  it("cuts a long answer at a word", () => {
    const title = cleanTitle("word ".repeat(40))!;
    expect(title.length).toBeLessThanOrEqual(TITLE_MAX_CHARACTERS + 1);
    expect(title).toMatch(/^(word )+word…$/);
  });

  it("asks the model once and cleans its answer", async () => {
    const model = new FakeListChatModel({ responses: ['"Greeting Ada."'] });
    expect(await generateTitle(model, { user: "My name is Ada", assistant: "Hello Ada!" })).toBe("Greeting Ada");
  });
});

describe("PartialReply", () => {
  it("keeps nothing when nothing was streamed", () => {
    const partial = new PartialReply();
    expect(partial.text()).toBe("");
    expect(partial.reply()).toBeUndefined();
  });

  it("joins what the model streamed, without nostream calls, as a reply marked as stopped", async () => {
    const partial = new PartialReply();
    const { handler } = partial;
    await handler.handleChatModelStart?.({ lc: 1, type: "not_implemented", id: [] }, [], "summary-run", undefined, undefined, ["nostream"]);
    await handler.handleLLMNewToken?.("a summary", { prompt: 0, completion: 0 }, "summary-run");
    await handler.handleChatModelStart?.({ lc: 1, type: "not_implemented", id: [] }, [], "reply-run");
    for (const token of ["Once", " upon"]) await handler.handleLLMNewToken?.(token, { prompt: 0, completion: 0 }, "reply-run");
    expect(partial.text()).toBe("Once upon");
    const reply = partial.reply()!;
    expect(reply.content).toBe("Once upon");
    expect(reply.id).toBe("run-reply-run");
    expect(isStoppedReply(reply)).toBe(true);
    expect(isStoppedReply(new AIMessage("done"))).toBe(false);
    // An id already in the thread is not taken again.
    expect(partial.reply(new Set(["run-reply-run"]))!.id).not.toBe("run-reply-run");
  });
});
