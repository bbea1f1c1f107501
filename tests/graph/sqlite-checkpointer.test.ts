/**
 * The message-log storage: every checkpoint restores exactly the values of its time, through
 * forks, edits, removals and a reopened database; deletion and retention leave what they should.
 */
import { AIMessage, type BaseMessage, HumanMessage, RemoveMessage } from "@langchain/core/messages";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Agent, createAgent } from "../../src/graph/agent.js";
import { SqliteCheckpointer } from "../../src/graph/sqlite-checkpointer.js";
import { makeTempDir, removeDir } from "../support/fixtures.js";

let dir: string;
let savers: SqliteCheckpointer[] = [];
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(async () => {
  for (const saver of savers) await saver.close();
  savers = [];
  removeDir(dir);
});

const open = (options: { retention?: number } = {}) => {
  const saver = new SqliteCheckpointer(`${dir}/checkpoints.sqlite`, options);
  savers.push(saver);
  return saver;
};
const agentOn = (saver: SqliteCheckpointer, durability: "exit" | "async" = "exit") =>
  createAgent({ model: new FakeListChatModel({ responses: ["first answer", "second answer", "third answer"] }), checkpointer: saver, durability });
const config = (threadId: string, checkpointId?: string) => ({ configurable: { thread_id: threadId, ...(checkpointId ? { checkpoint_id: checkpointId } : {}) } });
const shape = (messages: BaseMessage[] = []) => messages.map((message) => [message.getType(), message.content, message.id]);
const rows = (saver: SqliteCheckpointer, table: string, threadId: string) =>
  (saver.db.prepare(`SELECT count(*) AS count FROM ${table} WHERE thread_id = ?`).get(threadId) as { count: number }).count;

/** Every checkpoint's messages as the graph streamed them, by checkpoint id. */
async function recordedTurn(agent: Agent, threadId: string, input: BaseMessage, recorded: Map<string, unknown>, checkpointId?: string) {
  const stream = await agent.stream({ messages: [input] }, { ...config(threadId, checkpointId), streamMode: "checkpoints" });
  for await (const snapshot of stream as AsyncIterable<{ config: { configurable: { checkpoint_id: string } }; values: { messages?: BaseMessage[] } }>) {
    recorded.set(snapshot.config.configurable.checkpoint_id, shape(snapshot.values.messages));
  }
}

describe("SqliteCheckpointer", () => {
  it("restores every checkpoint exactly, across forks, edits and removals, after reopening", async () => {
    const saver = open();
    const agent = agentOn(saver, "async");
    const recorded = new Map<string, unknown>();
    for (let turn = 1; turn <= 6; turn += 1) await recordedTurn(agent, "t", new HumanMessage(`question ${turn}`), recorded);

    // Fork from the middle of the conversation.
    const history = [];
    for await (const state of agent.getStateHistory(config("t"))) history.push(state);
    const middle = history.find((state) => state.values.messages?.length === 6 && state.next.length === 0)!;
    await recordedTurn(agent, "t", new HumanMessage("a question on a fork"), recorded, middle.config.configurable!.checkpoint_id);

    // Edit a message in place (same id, new content), then remove another.
    const latest = await agent.getState(config("t"));
    const [first, second] = latest.values.messages as BaseMessage[];
    const edited = await agent.updateState(config("t"), { messages: [new HumanMessage({ content: "question 1, edited", id: first!.id })] }, "model");
    recorded.set(edited.configurable!.checkpoint_id as string, shape((await agent.getState(edited)).values.messages));
    const removed = await agent.updateState(config("t"), { messages: [new RemoveMessage({ id: second!.id! })] }, "model");
    recorded.set(removed.configurable!.checkpoint_id as string, shape((await agent.getState(removed)).values.messages));

    await saver.close();
    const reopened = agentOn(open(), "async");
    expect(recorded.size).toBeGreaterThan(20);
    for (const [checkpointId, messages] of recorded) {
      expect(shape((await reopened.getState(config("t", checkpointId))).values.messages)).toEqual(messages);
    }
    const now = (await reopened.getState(config("t"))).values.messages as BaseMessage[];
    expect(now.map((message) => message.content)).toContain("question 1, edited");
    expect(now.map((message) => message.id)).not.toContain(second!.id);
  });

  it("stores each message once: a long thread grows by its new messages only", async () => {
    const saver = open();
    const agent = agentOn(saver);
    for (let turn = 1; turn <= 40; turn += 1) await agent.invoke({ messages: [new HumanMessage(`question ${turn}`)] }, config("long"));
    expect(rows(saver, "agent_messages", "long")).toBe(80);
    expect(rows(saver, "agent_checkpoints", "long")).toBe(40);
    // The newest checkpoint's message list is a single range, not 80 copies.
    const blobs = saver.db
      .prepare("SELECT max(length(blob)) AS size FROM agent_checkpoint_blobs WHERE thread_id = ? AND type = 'message-log'")
      .get("long") as { size: number };
    expect(blobs.size).toBeLessThan(20);
  });

  it("deletes every row of a thread and nothing of the others", async () => {
    const saver = open();
    const agent = agentOn(saver, "async");
    for (const threadId of ["gone", "kept"]) {
      for (let turn = 1; turn <= 3; turn += 1) await agent.invoke({ messages: [new HumanMessage(`hi ${turn}`)] }, config(threadId));
    }
    const tables = ["agent_checkpoints", "agent_checkpoint_blobs", "agent_checkpoint_writes", "agent_messages"];
    const before = tables.map((table) => rows(saver, table, "kept"));
    expect(tables.map((table) => rows(saver, table, "gone") > 0)).toEqual([true, true, true, true]);
    await saver.deleteThread("gone");
    expect(tables.map((table) => rows(saver, table, "gone"))).toEqual([0, 0, 0, 0]);
    expect(tables.map((table) => rows(saver, table, "kept"))).toEqual(before);
    expect((await agent.getState(config("gone"))).values.messages).toBeUndefined();
    expect((await agent.getState(config("kept"))).values.messages).toHaveLength(6);
  });

  it("with retention keeps the newest N checkpoints and every message", async () => {
    const saver = open({ retention: 3 });
    const agent = agentOn(saver);
    for (let turn = 1; turn <= 10; turn += 1) await agent.invoke({ messages: [new HumanMessage(`question ${turn}`)] }, config("r"));
    expect(rows(saver, "agent_checkpoints", "r")).toBe(3);
    const history = [];
    for await (const state of agent.getStateHistory(config("r"))) history.push(state.values.messages?.length);
    expect(history).toEqual([20, 18, 16]);
    // Blobs no kept checkpoint uses are gone too.
    const blobs = saver.db.prepare("SELECT count(*) AS count FROM agent_checkpoint_blobs WHERE thread_id = 'r' AND type = 'message-log'").get() as { count: number };
    expect(blobs.count).toBe(3);
    await saver.close();
    const reopened = agentOn(open({ retention: 3 }));
    const messages = (await reopened.getState(config("r"))).values.messages as BaseMessage[];
    expect(messages.map((message) => message.content).slice(0, 2)).toEqual(["question 1", "first answer"]);
    await reopened.invoke({ messages: [new HumanMessage("question 11")] }, config("r"));
    expect((await reopened.getState(config("r"))).values.messages).toHaveLength(22);
  });

  it("copies a thread with its whole history, independent of the original", async () => {
    const saver = open();
    const agent = agentOn(saver);
    await agent.invoke({ messages: [new HumanMessage("original")] }, config("a"));
    await saver.copyThread("a", "b");
    await agent.invoke({ messages: [new HumanMessage("only in b")] }, config("b"));
    expect(shape((await agent.getState(config("a"))).values.messages).map(([, content]) => content)).toEqual(["original", "first answer"]);
    expect(shape((await agent.getState(config("b"))).values.messages).map(([, content]) => content)).toEqual([
      "original",
      "first answer",
      "only in b",
      "second answer",
    ]);
  });

  it("lets two processes take turns on one thread without mixing up their messages", async () => {
    // Two savers on one file stand for two processes (the server and a terminal chat, say).
    const first = agentOn(open());
    const second = agentOn(open());
    for (let turn = 1; turn <= 4; turn += 1) {
      await (turn % 2 === 1 ? first : second).invoke({ messages: [new HumanMessage(`turn ${turn}`)] }, config("shared"));
    }
    const expected = ["turn 1", "first answer", "turn 2", "first answer", "turn 3", "second answer", "turn 4", "second answer"];
    expect(shape((await first.getState(config("shared"))).values.messages).map(([, content]) => content)).toEqual(expected);
    expect(shape((await second.getState(config("shared"))).values.messages).map(([, content]) => content)).toEqual(expected);
    expect(rows(savers[0]!, "agent_messages", "shared")).toBe(8);
  });

  it("never reuses a reverted message for a new one", async () => {
    const saver = open();
    const agent = agentOn(saver);
    await agent.invoke({ messages: [new HumanMessage("kept")] }, config("v"));
    const head = await saver.headCheckpointId("v");
    const dropped = new HumanMessage("dropped");
    await agent.invoke({ messages: [dropped] }, config("v"));
    await saver.revertThread("v", head);
    // The same object comes back in a later turn: it must be stored again, not pointed at a deleted row.
    await agent.updateState(config("v"), { messages: [dropped, new AIMessage("after revert")] }, "model");
    await saver.close();
    const reopened = agentOn(open());
    expect(shape((await reopened.getState(config("v"))).values.messages).map(([, content]) => content)).toEqual([
      "kept",
      "first answer",
      "dropped",
      "after revert",
    ]);
  });
});
