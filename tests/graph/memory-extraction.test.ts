/**
 * The extractor's answer parsing and the writer's scheduling, with `FakeListChatModel` as the
 * extraction model and LangGraph's InMemoryStore.
 */
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { InMemoryStore } from "@langchain/langgraph-checkpoint";
import { describe, expect, it } from "vitest";
import { memoryNamespace, userOf } from "../../src/graph/long-term-memory.js";
import { parseExtraction, relevanceOf } from "../../src/graph/memory-extraction.js";
import { MEMORY_BATCH_SIZE, MemoryWriter } from "../../src/graph/memory-writer.js";

describe("parseExtraction", () => {
  it("reads JSON wrapped in prose or a code fence, cleaning keys and texts", () => {
    const answer = 'Sure!\n```json\n{"upsert": [{"key": "Favourite Colour", "text": "  The user likes\\ngreen. "}], "delete": ["old-key", {"key": "city"}]}\n```';
    expect(parseExtraction(answer)).toEqual({ upserts: [{ key: "favourite_colour", text: "The user likes green." }], deletions: ["old_key", "city"] });
  });

  it("skips malformed entries and treats an answer without JSON as no change", () => {
    expect(parseExtraction('{"upsert": [{"key": 3, "text": "x"}, {"key": "a"}, "b", {"key": "ok", "text": "Fine."}], "delete": [null, 4]}')).toEqual({
      upserts: [{ key: "ok", text: "Fine." }],
      deletions: [],
    });
    for (const answer of ["Nothing to remember.", "{not json}", "[]", '{"upsert": "no"}']) expect(parseExtraction(answer)).toEqual({ upserts: [], deletions: [] });
  });
});

describe("relevanceOf", () => {
  it("tells explicit requests, personal remarks and the rest apart", () => {
    expect(relevanceOf("Please remember that I am vegetarian")).toBe("explicit");
    expect(relevanceOf("my name is Ada")).toBe("explicit");
    expect(relevanceOf("What is my name?")).toBe("personal");
    expect(relevanceOf("I work in Lyon")).toBe("personal");
    expect(relevanceOf("What is the capital of France?")).toBe("none");
  });
});

describe("user namespaces", () => {
  it("keeps store-invalid characters of user ids, encoded, so distinct users stay distinct", async () => {
    expect(memoryNamespace("ada@example.com")).toEqual(["memories", "ada@example%2Ecom"]);
    expect(memoryNamespace("a:b")).not.toEqual(memoryNamespace("a_b"));
    expect(userOf({ configurable: { user_id: "" } })).toBe("local");
    expect(userOf(undefined)).toBe("local");
    expect(userOf({ context: { user_id: "ada" } } as never)).toBe("ada");
    expect(userOf({ configurable: { user_id: 7 } })).toBe("7");
    // The store accepts the encoded label.
    await new InMemoryStore().put(memoryNamespace("ada@example.com"), "name", { text: "Ada" });
  });
});

describe("MemoryWriter", () => {
  const turnOf = (store: InMemoryStore, model: FakeListChatModel, userMessages: string[]) => ({ store, user: "ada", threadId: "t", userMessages, model: () => model });

  it("batches personal remarks, skips the rest, and starts at most one extraction per turn", async () => {
    const store = new InMemoryStore();
    const model = new FakeListChatModel({ responses: ['{"upsert": [{"key": "job", "text": "The user is a nurse."}], "delete": []}'] });
    let calls = 0;
    const writer = new MemoryWriter({ batchSize: 3, onExtracted: () => (calls += 1) });
    const said: string[] = [];
    for (const text of ["Hi there", "I work as a nurse", "What is 2+2?", "I live in Lyon", "Tell me a joke", "I have a cat"]) {
      said.push(text);
      writer.note(turnOf(store, model, [...said]));
      await writer.idle();
    }
    // Three personal remarks make one batch, read at the sixth message.
    expect(calls).toBe(1);
    expect((await store.get(memoryNamespace("ada"), "job"))?.value).toEqual({ text: "The user is a nurse." });
  });

  it("reads personal remarks in batches of MEMORY_BATCH_SIZE when the agent sets no batch size", async () => {
    const store = new InMemoryStore();
    const model = new FakeListChatModel({ responses: ['{"upsert": [], "delete": []}'] });
    let calls = 0;
    const writer = new MemoryWriter({ batchSize: undefined, timeoutMs: undefined, onExtracted: () => (calls += 1) });
    const said: string[] = [];
    for (let index = 1; index <= MEMORY_BATCH_SIZE * 2; index += 1) {
      said.push(`I have ${index} hobbies`);
      writer.note(turnOf(store, model, [...said]));
      await writer.idle();
    }
    expect(calls).toBe(2);
  });

  it("reports a failed extraction and writes nothing", async () => {
    const store = new InMemoryStore();
    const model = new FakeListChatModel({ responses: ["unused"] });
    model.invoke = async () => {
      throw new Error("provider down");
    };
    const errors: unknown[] = [];
    const writer = new MemoryWriter({ onError: (error) => errors.push(error) });
    writer.note(turnOf(store, model, ["My name is Ada"]));
    await writer.idle();
    expect(errors).toHaveLength(1);
    expect(await store.search(memoryNamespace("ada"))).toEqual([]);
  });
});
