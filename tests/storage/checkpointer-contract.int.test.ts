/**
 * The message-log storage contract, run against the SQLite saver and (when a server answers) the
 * PostgreSQL one: every checkpoint restores exactly the values of its time, through forks, edits,
 * removals and a reopened store; each message is stored once; deletion and retention leave what
 * they should.
 */
import { AIMessage, type BaseMessage, HumanMessage, RemoveMessage } from "@langchain/core/messages";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { uuid6 } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Agent, createAgent } from "../../src/graph/agent.js";
import type { RevertibleCheckpointer } from "../../src/storage/checkpointer.js";
import { MESSAGE_LOG, type MessageRow } from "../../src/storage/message-log/log.js";
import { type MessageLogSaver, messagesOf, readCheckpoint } from "../../src/storage/message-log/saver.js";
import { PostgresCheckpointer } from "../../src/storage/postgres/checkpointer.js";
import { SqliteCheckpointer } from "../../src/storage/sqlite/checkpointer.js";
import { makeTempDir, removeDir } from "../support/fixtures.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { PostgresDatabase } from "../../src/storage/postgres/database.js";

/** A model whose provider is always down. */
class FailingModel extends FakeListChatModel {
  override async _generate(): Promise<never> {
    throw Object.assign(new Error("provider down"), { status: 400 });
  }
}

/** One backend: opens savers on one store (a new saver on it stands for a restart or another process). */
interface Backend {
  open(options?: { retention?: number }): Promise<MessageLogSaver>;
  /** Rows of `table` belonging to `threadId`. */
  rows(table: string, threadId: string): Promise<number>;
  /** Every stored message list of the thread (ranges as JSON text), whether a blob or inline in a checkpoint's row. */
  messageLists(threadId: string): Promise<string[]>;
  /** Messages stored in the thread's log (a row may hold several). */
  storedMessages(threadId: string): Promise<number>;
  /** Blob rows of the thread. */
  blobs(threadId: string): Promise<Array<{ channel: string; version: string }>>;
  dispose(): Promise<void>;
}

/** The message lists among blob rows and checkpoint rows (their inline values), as ranges JSON. */
function listsOf(blobs: Array<{ blob: Uint8Array }>, checkpoints: Array<{ checkpoint: string | Uint8Array }>): string[] {
  const inline = checkpoints.flatMap(({ checkpoint }) => Object.values(readCheckpoint(checkpoint).inline_values ?? {}).filter(([type]) => type === MESSAGE_LOG).map(([, text]) => text));
  return [...blobs.map(({ blob }) => Buffer.from(blob).toString()), ...inline];
}

function sqliteBackend(): Backend {
  const dir = makeTempDir();
  const savers: SqliteCheckpointer[] = [];
  const count = (sql: string, ...parameters: unknown[]) =>
    (savers.findLast((saver) => saver.db.open)!.db.prepare(sql).get(...parameters) as { value: number | null }).value ?? 0;
  return {
    async open(options = {}) {
      const saver = new SqliteCheckpointer(`${dir}/checkpoints.sqlite`, options);
      savers.push(saver);
      return saver;
    },
    rows: async (table, threadId) => count(`SELECT count(*) AS value FROM ${table} WHERE thread_id = ?`, threadId),
    async messageLists(threadId) {
      const db = savers.findLast((saver) => saver.db.open)!.db;
      const blobs = db.prepare("SELECT blob FROM agent_checkpoint_blobs WHERE thread_id = ? AND type = 'message-log'").all(threadId) as Array<{ blob: Uint8Array }>;
      const checkpoints = db.prepare("SELECT checkpoint FROM agent_checkpoints WHERE thread_id = ?").all(threadId) as Array<{ checkpoint: string | Uint8Array }>;
      return listsOf(blobs, checkpoints);
    },
    storedMessages: async (threadId) =>
      messagesOf(savers.findLast((saver) => saver.db.open)!.db.prepare("SELECT seq, type, data FROM agent_messages WHERE thread_id = ?").all(threadId) as MessageRow[], 0, Infinity).length,
    blobs: async (threadId) =>
      savers.findLast((saver) => saver.db.open)!.db.prepare("SELECT channel, version FROM agent_checkpoint_blobs WHERE thread_id = ? ORDER BY channel, version").all(threadId) as Array<{
        channel: string;
        version: string;
      }>,
    async dispose() {
      for (const saver of savers) await saver.close();
      removeDir(dir);
    },
  };
}

const pgReachable = await postgresReachable();
const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
afterAll(() => pool.end());

function postgresBackend(): Backend {
  const schema = schemaName();
  const count = async (sql: string, ...parameters: unknown[]) => Number((await pool.query<{ value: string | null }>(sql, parameters)).rows[0]?.value ?? 0);
  return {
    async open(options = {}) {
      const saver = new PostgresCheckpointer(new PostgresDatabase(pool, { schema }), options);
      await saver.setup();
      return saver;
    },
    rows: (table, threadId) => count(`SELECT count(*) AS value FROM ${schema}.${table} WHERE thread_id = $1`, threadId),
    async messageLists(threadId) {
      const blobs = await pool.query(`SELECT blob FROM ${schema}.agent_checkpoint_blobs WHERE thread_id = $1 AND type = 'message-log'`, [threadId]);
      const checkpoints = await pool.query(`SELECT checkpoint FROM ${schema}.agent_checkpoints WHERE thread_id = $1`, [threadId]);
      return listsOf(blobs.rows, checkpoints.rows);
    },
    storedMessages: async (threadId) =>
      messagesOf((await pool.query(`SELECT seq::int AS seq, type, data FROM ${schema}.agent_messages WHERE thread_id = $1`, [threadId])).rows, 0, Infinity).length,
    blobs: async (threadId) =>
      (await pool.query(`SELECT channel, version FROM ${schema}.agent_checkpoint_blobs WHERE thread_id = $1 ORDER BY channel, version`, [threadId])).rows,
    dispose: () => dropSchema(pool, schema),
  };
}

for (const [name, makeBackend, enabled] of [
  ["SqliteCheckpointer", sqliteBackend, true],
  ["PostgresCheckpointer", postgresBackend, pgReachable],
] as const) {
  (enabled ? describe : describe.skip)(name, () => {
    let backend: Backend;
    beforeEach(() => {
      backend = makeBackend();
    });
    afterEach(() => backend.dispose());

    const open = (options: { retention?: number } = {}) => backend.open(options);
    const rows = (_saver: unknown, table: string, threadId: string) => backend.rows(table, threadId);
    const agentOn = (saver: RevertibleCheckpointer, durability: "exit" | "async" = "exit") =>
      createAgent({ model: new FakeListChatModel({ responses: ["first answer", "second answer", "third answer"] }), checkpointer: saver, durability });
    const config = (threadId: string, checkpointId?: string) => ({ configurable: { thread_id: threadId, ...(checkpointId ? { checkpoint_id: checkpointId } : {}) } });
    const shape = (messages: BaseMessage[] = []) => messages.map((message) => [message.getType(), message.content, message.id]);

    /** Every checkpoint's messages as the graph streamed them, by checkpoint id. */
    async function recordedTurn(agent: Agent, threadId: string, input: BaseMessage, recorded: Map<string, unknown>, checkpointId?: string) {
      const stream = await agent.stream({ messages: [input] }, { ...config(threadId, checkpointId), streamMode: "checkpoints" });
      for await (const snapshot of stream as AsyncIterable<{ config: { configurable: { checkpoint_id: string } }; values: { messages?: BaseMessage[] } }>) {
        recorded.set(snapshot.config.configurable.checkpoint_id, shape(snapshot.values.messages));
      }
    }

    describe("storage contract", () => {
      it("restores every checkpoint exactly, across forks, edits and removals, after reopening", async () => {
        const saver = await open();
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
        const reopened = agentOn(await open(), "async");
        expect(recorded.size).toBeGreaterThan(20);
        for (const [checkpointId, messages] of recorded) {
          expect(shape((await reopened.getState(config("t", checkpointId))).values.messages)).toEqual(messages);
        }
        const now = (await reopened.getState(config("t"))).values.messages as BaseMessage[];
        expect(now.map((message) => message.content)).toContain("question 1, edited");
        expect(now.map((message) => message.id)).not.toContain(second!.id);
      });

      it("stores each message once: a long thread grows by its new messages only", async () => {
        const saver = await open();
        const agent = agentOn(saver);
        for (let turn = 1; turn <= 40; turn += 1) await agent.invoke({ messages: [new HumanMessage(`question ${turn}`)] }, config("long"));
        expect(await backend.storedMessages("long")).toBe(80);
        // PostgreSQL keeps a turn's question and answer in one row; SQLite one message a row.
        expect(await rows(saver, "agent_messages", "long")).toBe(name === "PostgresCheckpointer" ? 40 : 80);
        expect(await rows(saver, "agent_checkpoints", "long")).toBe(40);
        // Each checkpoint's message list is a single range, not up to 80 copies.
        const lists = await backend.messageLists("long");
        expect(lists).toHaveLength(40);
        expect(Math.max(...lists.map((list) => list.length))).toBeLessThan(20);
      });

      it("deletes every row of a thread and nothing of the others", async () => {
        const saver = await open();
        const agent = agentOn(saver, "async");
        for (const threadId of ["gone", "kept"]) {
          for (let turn = 1; turn <= 3; turn += 1) await agent.invoke({ messages: [new HumanMessage(`hi ${turn}`)] }, config(threadId));
        }
        const tables = ["agent_checkpoints", "agent_checkpoint_blobs", "agent_checkpoint_writes", "agent_messages", "agent_message_text"];
        const counts = (threadId: string) => Promise.all(tables.map((table) => backend.rows(table, threadId)));
        const before = await counts("kept");
        expect((await counts("gone")).map((count) => count > 0)).toEqual([true, true, true, true, true]);
        await saver.deleteThread("gone");
        expect(await counts("gone")).toEqual([0, 0, 0, 0, 0]);
        expect(await counts("kept")).toEqual(before);
        expect((await agent.getState(config("gone"))).values.messages).toBeUndefined();
        expect((await agent.getState(config("kept"))).values.messages).toHaveLength(6);
      });

      it("with retention keeps the newest N checkpoints and every message", async () => {
        const saver = await open({ retention: 3 });
        const agent = agentOn(saver);
        for (let turn = 1; turn <= 10; turn += 1) await agent.invoke({ messages: [new HumanMessage(`question ${turn}`)] }, config("r"));
        expect(await rows(saver, "agent_checkpoints", "r")).toBe(3);
        const history = [];
        for await (const state of agent.getStateHistory(config("r"))) history.push(state.values.messages?.length);
        expect(history).toEqual([20, 18, 16]);
        // The message lists of pruned checkpoints are gone with them.
        expect(await backend.messageLists("r")).toHaveLength(3);
        await saver.close();
        const reopened = agentOn(await open({ retention: 3 }));
        const messages = (await reopened.getState(config("r"))).values.messages as BaseMessage[];
        expect(messages.map((message) => message.content).slice(0, 2)).toEqual(["question 1", "first answer"]);
        await reopened.invoke({ messages: [new HumanMessage("question 11")] }, config("r"));
        expect((await reopened.getState(config("r"))).values.messages).toHaveLength(22);
      });

      it("with retention deletes the blobs no kept checkpoint uses, and keeps those a kept one does", async () => {
        const saver = await open({ retention: 2 });
        // Values too large to be stored inline: each version is a blob row.
        const large = (letter: string) => letter.repeat(500);
        let parent: string | undefined;
        const put = async (values: Record<string, unknown>, versions: Record<string, number>, changed: Record<string, number>) => {
          const id = uuid6(-1);
          const written = await saver.put(
            { configurable: { thread_id: "b", checkpoint_ns: "", ...(parent ? { checkpoint_id: parent } : {}) } },
            { v: 4, id, ts: new Date().toISOString(), channel_values: values, channel_versions: versions, versions_seen: {} },
            { source: "loop", step: 0, parents: {} },
            changed,
          );
          parent = written.configurable!.checkpoint_id as string;
          return parent;
        };
        await put({ big: large("a") }, { big: 1 }, { big: 1 });
        await put({ big: large("a") }, { big: 1 }, {});
        const third = await put({ big: large("b") }, { big: 2 }, { big: 2 });
        const fourth = await put({ big: large("b"), small: 7 }, { big: 2, small: 1 }, { small: 1 });
        expect(await backend.blobs("b")).toEqual([
          { channel: "big", version: "1" },
          { channel: "big", version: "2" },
        ]);
        await saver.pruneThread("b");
        expect(await backend.rows("agent_checkpoints", "b")).toBe(2);
        expect(await backend.blobs("b")).toEqual([{ channel: "big", version: "2" }]);
        const reopened = await open();
        expect((await reopened.getTuple(config("b", third)))?.checkpoint.channel_values).toEqual({ big: large("b") });
        expect((await reopened.getTuple(config("b", fourth)))?.checkpoint.channel_values).toEqual({ big: large("b"), small: 7 });
      });

      it("keeps an unchanged small value with every later checkpoint, whichever process writes it", async () => {
        const first = await open();
        const configFor = (parent?: string) => ({ configurable: { thread_id: "s", checkpoint_ns: "", ...(parent ? { checkpoint_id: parent } : {}) } });
        const checkpoint = (values: Record<string, unknown>, versions: Record<string, number>) => ({
          v: 4,
          id: uuid6(-1),
          ts: new Date().toISOString(),
          channel_values: values,
          channel_versions: versions,
          versions_seen: {},
        });
        const metadata = { source: "loop" as const, step: 0, parents: {} };
        const one = await first.put(configFor(), checkpoint({ count: 1, label: "x" }, { count: 1, label: 1 }), metadata, { count: 1, label: 1 });
        const two = await first.put(configFor(one.configurable!.checkpoint_id), checkpoint({ count: 2, label: "x" }, { count: 2, label: 1 }), metadata, { count: 2 });
        // Another process, which never saw the parent, writes the next one.
        const second = await open();
        const three = await second.put(configFor(two.configurable!.checkpoint_id), checkpoint({ count: 2, label: "x" }, { count: 2, label: 1 }), metadata, {});
        for (const saver of [first, second, await open()]) {
          expect((await saver.getTuple(two))?.checkpoint.channel_values).toEqual({ count: 2, label: "x" });
          expect((await saver.getTuple(three))?.checkpoint.channel_values).toEqual({ count: 2, label: "x" });
        }
        // Small values need no blob rows.
        expect(await backend.blobs("s")).toEqual([]);
      });

      it("with retention, a failed run leaves the thread exactly as it was", async () => {
        const saver = await open({ retention: 1 });
        const agent = agentOn(saver, "async");
        for (let turn = 1; turn <= 3; turn += 1) await agent.invoke({ messages: [new HumanMessage(`question ${turn}`)] }, config("kept"));
        const before = shape((await agent.getState(config("kept"))).values.messages);
        const broken = createAgent({ model: new FailingModel({ responses: [] }), checkpointer: saver, durability: "async" });
        await expect(broken.invoke({ messages: [new HumanMessage("this fails")] }, config("kept"))).rejects.toThrow();
        expect(shape((await agent.getState(config("kept"))).values.messages)).toEqual(before);
        expect(before).toHaveLength(6);
        expect(await rows(undefined, "agent_checkpoints", "kept")).toBe(1);
      });

      it("copies a thread with its whole history, independent of the original", async () => {
        const saver = await open();
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
        const first = agentOn(await open());
        const second = agentOn(await open());
        for (let turn = 1; turn <= 4; turn += 1) {
          await (turn % 2 === 1 ? first : second).invoke({ messages: [new HumanMessage(`turn ${turn}`)] }, config("shared"));
        }
        const expected = ["turn 1", "first answer", "turn 2", "first answer", "turn 3", "second answer", "turn 4", "second answer"];
        expect(shape((await first.getState(config("shared"))).values.messages).map(([, content]) => content)).toEqual(expected);
        expect(shape((await second.getState(config("shared"))).values.messages).map(([, content]) => content)).toEqual(expected);
        expect(await backend.storedMessages("shared")).toBe(8);
      });

      it("lists threads by their newest root checkpoint, the most recently written first", async () => {
        const saver = await open();
        expect(await saver.listThreads()).toEqual([]);
        const agent = agentOn(saver, "async");
        // A few milliseconds apart, so that no two heads share a timestamp.
        const pause = () => new Promise((resolve) => setTimeout(resolve, 5));
        for (const threadId of ["first", "second", "third"]) {
          await agent.invoke({ messages: [new HumanMessage(`hi from ${threadId}`)] }, config(threadId));
          await pause();
        }
        await agent.invoke({ messages: [new HumanMessage("back again")] }, config("first"));
        const started = Date.now();
        const threads = await saver.listThreads();
        expect(threads.map((thread) => thread.threadId)).toEqual(["first", "third", "second"]);
        for (const thread of threads) {
          expect(thread.checkpointId).toBe(await saver.headCheckpointId(thread.threadId));
          expect(thread.updatedAt).toBeInstanceOf(Date);
          expect(thread.updatedAt.getTime()).toBeLessThanOrEqual(started);
          expect(thread.updatedAt.getTime()).toBeGreaterThan(started - 60_000);
        }
        expect((await saver.listThreads({ limit: 2 })).map((thread) => thread.threadId)).toEqual(["first", "third"]);

        // A thread whose every checkpoint is gone is no longer listed, whether deleted or reverted.
        await saver.deleteThread("third");
        await saver.revertThread("second", undefined);
        expect((await saver.listThreads()).map((thread) => thread.threadId)).toEqual(["first"]);
      });

      it("reads a list that starts inside a row of several messages, after reopening", async () => {
        const saver = await open();
        const agent = agentOn(saver);
        await agent.invoke({ messages: [new HumanMessage("question 1")] }, config("m"));
        await agent.invoke({ messages: [new HumanMessage("question 2")] }, config("m"));
        // Where the question and answer of a turn share a row (PostgreSQL), dropping the first
        // question leaves a list whose first message is the second of a row.
        const [question] = (await agent.getState(config("m"))).values.messages as BaseMessage[];
        await agent.updateState(config("m"), { messages: [new RemoveMessage({ id: question!.id! })] }, "model");
        await saver.close();
        const reopened = agentOn(await open());
        expect(shape((await reopened.getState(config("m"))).values.messages).map(([, content]) => content)).toEqual(["first answer", "question 2", "second answer"]);
      });

      it("never reuses a reverted message for a new one", async () => {
        const saver = await open();
        const agent = agentOn(saver);
        await agent.invoke({ messages: [new HumanMessage("kept")] }, config("v"));
        const head = await saver.headCheckpointId("v");
        const dropped = new HumanMessage("dropped");
        await agent.invoke({ messages: [dropped] }, config("v"));
        await saver.revertThread("v", head);
        // The same object comes back in a later turn: it must be stored again, not pointed at a deleted row.
        await agent.updateState(config("v"), { messages: [dropped, new AIMessage("after revert")] }, "model");
        await saver.close();
        const reopened = agentOn(await open());
        expect(shape((await reopened.getState(config("v"))).values.messages).map(([, content]) => content)).toEqual([
          "kept",
          "first answer",
          "dropped",
          "after revert",
        ]);
      });
    });
  });
}
