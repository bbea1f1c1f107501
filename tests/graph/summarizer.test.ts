/**
 * The summariser's batches: each message that left the window becomes a transcript line, and the
 * lines go to the summary model in requests that fit its context.
 */
import { AIMessage, type BaseMessage, HumanMessage } from "@langchain/core/messages";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { expect, it } from "vitest";
import { createSummarizer } from "../../src/graph/summary.js";
import { createTokenCounter } from "../../src/graph/token-counter.js";
import { oneLongWord } from "../support/fixtures.js";

/** A summary model that answers "Summary." and keeps the requests it was sent. */
function recordingModel() {
  const requests: string[] = [];
  const model = new FakeListChatModel({ responses: ["Summary."] });
  const invoke = model.invoke.bind(model);
  model.invoke = (input, options) => {
    requests.push((input as BaseMessage[]).map((message) => message.text).join("\n"));
    return invoke(input, options);
  };
  return { model, requests };
}

// A message put into the thread with a state update can be a megabyte. Its line is cut before
// it is counted (counting it whole took about a second here, and hours before long words were
// counted in pieces); what the test holds is the cut itself: the requests fit, and keep the start.
it("cuts a message too long for a request to what fits, reading no more of it than it keeps", { timeout: 60_000 }, async () => {
  const counter = createTokenCounter("gpt-4o-mini");
  const { model, requests } = recordingModel();
  const summarize = createSummarizer({ model, counter, summaryTokens: 100, contextTokens: 2_000 });
  const huge = new HumanMessage(oneLongWord(400_000));
  const summary = await summarize(null, [new HumanMessage("My name is Ada"), new AIMessage("Hello Ada"), huge], undefined);
  expect(summary).toBe("Summary.");
  // The short lines and the start of the long one, in requests within the context.
  const sent = requests.join("\n");
  expect(sent).toContain("user: My name is Ada");
  expect(sent).toContain("assistant: Hello Ada");
  expect(sent).toContain(`user: ${oneLongWord(1_000)}`);
  for (const request of requests) expect(counter.countText(request)).toBeLessThan(2_000 - 100);
});
