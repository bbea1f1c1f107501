/**
 * Messages made of very long words (a pasted hash, base64 or a key held down). js-tiktoken
 * tokenises a word in time quadratic in its length: before counting cut such words, 100,000
 * letters without a space held the event loop, and so every user of the server, for hours.
 */
import { expect, it } from "vitest";
import { oneLongWord as word } from "../support/fixtures.js";
import { useStubAndServer } from "../support/use-server.js";

const fixture = useStubAndServer("sqlite");
const user = (content: string) => ({ messages: [{ role: "user", content }] });
type WireMessage = { type: string; content: unknown };

// Each case ran into its time limit before: counting 100,000 letters took hours, 24,000 about half a minute.
it("refuses messages too long for the context at once, counting no more than it needs, and the thread goes on", { timeout: 60_000 }, async () => {
  const thread = await fixture.server.client.threads.create();
  const refusal = async (content: string) => {
    const response = await fetch(`${fixture.server.baseUrl}/threads/${thread.thread_id}/runs/wait`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assistant_id: "agent", input: user(content) }),
    });
    expect(response.status).toBe(400);
    return ((await response.json()) as { detail: string }).detail;
  };
  // The budget is 16,384 less 1,024 for the reply; counted exactly up to twice that, so the
  // answer says by how much to shorten: 20,000 such letters are about 11,500 tokens each.
  const needed = Number(/need (\d+) prompt tokens/.exec(await refusal(`${word(20_000)} ${word(20_000)}`))?.[1]);
  expect(needed).toBeGreaterThan(22_000);
  expect(needed).toBeLessThan(24_000);
  // Past twice the budget, only that it needs more: one word of 100,000 letters, and a
  // megabyte's worth of words of 32 letters (which cost the most per letter to tokenise).
  expect(await refusal(word(100_000))).toMatch(/need more than 30720 prompt tokens with the system prompt, but only 15360 are available/);
  expect(await refusal(Array.from({ length: 30_000 }, () => word(32)).join(" "))).toMatch(/need more than 30720 prompt tokens/);
  expect(fixture.stub.requests).toHaveLength(0);

  const values = (await fixture.server.client.runs.wait(thread.thread_id, "agent", { input: user("Hello") })) as { messages: WireMessage[] };
  expect(values.messages.map((message) => message.content)).toEqual(["Hello", "You said: Hello"]);
});

it("answers a message of one long word that fits, sending the model all of it", { timeout: 20_000 }, async () => {
  const thread = await fixture.server.client.threads.create();
  // About 13,800 tokens, within the default budget (16,384 less 1,024 for the reply).
  const long = word(24_000);
  const values = (await fixture.server.client.runs.wait(thread.thread_id, "agent", { input: user(long) })) as { messages: WireMessage[] };
  expect(values.messages.map((message) => message.type)).toEqual(["human", "ai"]);
  const sent = fixture.stub.requests.at(-1)!.body.messages.map((message) => message.content);
  expect(sent).toContain(long);
});
