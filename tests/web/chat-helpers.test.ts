/** The web chat's small pure helpers: the address's chat, error sentences, counts and collection labels. */
import { describe, expect, it } from "vitest";
// @ts-expect-error: plain browser JavaScript, type-checked by tsconfig.web.json rather than here
import { threadOfHash } from "../../src/web/address.js";
// @ts-expect-error: as above
import { collectionLabels, countOf } from "../../src/web/documents.js";
// @ts-expect-error: as above
import { describeError, tidyMessage } from "../../src/web/errors.js";

describe("threadOfHash", () => {
  it("reads the chat from #thread=<id>, with or without the #", () => {
    expect(threadOfHash("#thread=abc-123")).toBe("abc-123");
    expect(threadOfHash("thread=abc-123")).toBe("abc-123");
    expect(threadOfHash("#thread=a%2Fb")).toBe("a/b");
  });
  it("names no chat for an empty or other fragment", () => {
    expect(threadOfHash("")).toBeNull();
    expect(threadOfHash("#")).toBeNull();
    expect(threadOfHash("#thread=")).toBeNull();
    expect(threadOfHash("#other=1")).toBeNull();
  });
});

describe("tidyMessage", () => {
  it("says the provider's status once", () => {
    expect(tidyMessage("The reply failed: The model provider answered HTTP 500: 500 Internal error (after 3 attempts)")).toBe(
      "The reply failed: The model provider answered HTTP 500: Internal error (after 3 attempts)",
    );
    expect(tidyMessage("The model provider answered HTTP 429: 429 Rate limit reached")).toBe("The model provider answered HTTP 429: Rate limit reached");
  });
  it("drops a reason that only says the status again, or that there was no body", () => {
    expect(tidyMessage("The model provider answered HTTP 503: 503 status code (no body) (after 2 attempts)")).toBe("The model provider answered HTTP 503 (after 2 attempts)");
    expect(tidyMessage("The model provider answered HTTP 500: 500")).toBe("The model provider answered HTTP 500");
  });
  it("leaves other messages as they are", () => {
    expect(tidyMessage("Thread 1 not found")).toBe("Thread 1 not found");
    expect(describeError(new Error("The server cannot be reached"))).toBe("The server cannot be reached");
    expect(describeError("")).toBe("Something went wrong");
  });
});

describe("countOf", () => {
  it("makes the noun plural unless the count is one", () => {
    expect(countOf(0, "document")).toBe("0 documents");
    expect(countOf(1, "document")).toBe("1 document");
    expect(countOf(2, "part")).toBe("2 parts");
  });
});

describe("collectionLabels", () => {
  const collection = (collection_id: string, name: string, document_count: number, created_at = "2025-03-04T10:00:00Z") => ({ collection_id, name, document_count, chunk_count: 0, created_at });
  it("labels a collection by its name alone when no other shares it", () => {
    expect(collectionLabels([collection("a", "Handbook", 1), collection("b", "Recipes", 2)])).toEqual(new Map([["a", "Handbook"], ["b", "Recipes"]]));
  });
  it("tells namesakes apart by their documents and day, else by their order", () => {
    const labels = collectionLabels([collection("a", "Handbook", 1), collection("b", "Handbook", 2), collection("c", "Notes", 1), collection("d", "Notes", 1)]);
    expect(labels.get("a")).toMatch(/^Handbook \(1 document · created .+\)$/);
    expect(labels.get("b")).toMatch(/^Handbook \(2 documents · created .+\)$/);
    expect(labels.get("c")).toMatch(/^Notes \(1 document · created .+, #1\)$/);
    expect(labels.get("d")).toMatch(/^Notes \(1 document · created .+, #2\)$/);
  });
});
