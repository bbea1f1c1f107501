/**
 * A checkpoint read that meets its thread's deletion half-way (a TTL sweep, a DELETE through
 * another instance or process) answers as a read after the deletion would, never with an error:
 * a tuple's row, blobs and messages are separate reads, and the deletion lands between them.
 * On each backend a second saver (another process: nothing cached) reads a thread of two turns,
 * and the thread is deleted just before its first read of the thread's messages.
 */
import { type BaseMessage, HumanMessage } from "@langchain/core/messages";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import type { CheckpointTuple } from "@langchain/langgraph-checkpoint";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { createAgent } from "../../src/graph/agent.js";
import type { MessageLogSaver } from "../../src/storage/message-log/saver.js";
import { PostgresCheckpointer } from "../../src/storage/postgres/checkpointer.js";
import { PostgresDatabase } from "../../src/storage/postgres/database.js";
import { SqliteCheckpointer } from "../../src/storage/sqlite/checkpointer.js";
import { makeTempDir, removeDir } from "../support/fixtures.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";

const THREAD = "deleted-while-read";
const thread = { configurable: { thread_id: THREAD, checkpoint_ns: "" } };
/** The statement that reads a range of a thread's messages, on either backend. */
const READS_MESSAGES = /FROM (\S+\.)?agent_messages WHERE thread_id = (\$1|@thread) AND seq < /;

/** A checkpoint's messages as their contents. */
const contentsOf = (tuple: CheckpointTuple) => ((tuple.checkpoint.channel_values.messages ?? []) as BaseMessage[]).map((message) => message.content);

/** A reader whose first read of the thread's messages comes just after the thread was deleted. */
interface Setup {
  reader: MessageLogSaver;
  deletion: { done: boolean };
  /** Each checkpoint's messages as they were before the deletion, by checkpoint id. */
  before: Map<string, unknown>;
  dispose(): Promise<void>;
}

async function writeThread(writer: MessageLogSaver): Promise<Map<string, unknown>> {
  const agent = createAgent({ model: new FakeListChatModel({ responses: ["first answer", "second answer"] }), checkpointer: writer, durability: "async" });
  for (const text of ["hello", "again"]) await agent.invoke({ messages: [new HumanMessage(text)] }, thread);
  const before = new Map<string, unknown>();
  for await (const tuple of writer.list(thread)) before.set(tuple.config.configurable?.checkpoint_id as string, contentsOf(tuple));
  return before;
}

async function sqliteSetup(): Promise<Setup> {
  const dir = makeTempDir();
  const writer = new SqliteCheckpointer(`${dir}/checkpoints.sqlite`);
  const before = await writeThread(writer);
  const reader = new SqliteCheckpointer(`${dir}/checkpoints.sqlite`);
  const deletion = { done: false };
  const statement = reader.database.statement.bind(reader.database);
  reader.database.statement = (source: string) => {
    if (!deletion.done && READS_MESSAGES.test(source)) {
      deletion.done = true;
      // The writer's connection deletes at once, before its first await: a statement is
      // prepared synchronously, so the deletion cannot be awaited here. (Were it later, the
      // reader would find its messages and the tests below would fail.)
      void writer.deleteThread(THREAD);
    }
    return statement(source);
  };
  return {
    reader,
    deletion,
    before,
    dispose: async () => {
      await Promise.all([writer.close(), reader.close()]);
      removeDir(dir);
    },
  };
}

const pgReachable = await postgresReachable();
const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
afterAll(() => pool.end());

async function postgresSetup(): Promise<Setup> {
  const schema = schemaName();
  const writer = new PostgresCheckpointer(new PostgresDatabase(pool, { schema }));
  await writer.setup();
  const before = await writeThread(writer);
  const database = new PostgresDatabase(pool, { schema });
  const query = database.query.bind(database);
  const deletion = { done: false };
  database.query = (async (text: string, values?: unknown[]) => {
    if (!deletion.done && READS_MESSAGES.test(text)) {
      deletion.done = true;
      await writer.deleteThread(THREAD);
    }
    return query(text, values);
  }) as typeof database.query;
  return { reader: new PostgresCheckpointer(database), deletion, before, dispose: () => dropSchema(pool, schema) };
}

for (const [name, setup, enabled] of [
  ["SqliteCheckpointer", sqliteSetup, true],
  ["PostgresCheckpointer", postgresSetup, pgReachable],
] as const) {
  describe.skipIf(!enabled)(`${name}: a read that meets its thread's deletion`, () => {
    it("reads the thread's newest checkpoint as gone, not as an error", async () => {
      const { reader, deletion, dispose } = await setup();
      try {
        expect(await reader.getTuple(thread)).toBeUndefined();
        expect(deletion.done).toBe(true);
      } finally {
        await dispose();
      }
    });

    it("lists the history without the checkpoint it met deleted, not as an error; what it lists is whole", async () => {
      const { reader, deletion, before, dispose } = await setup();
      try {
        const listed = [];
        for await (const tuple of reader.list(thread)) listed.push(tuple);
        expect(deletion.done).toBe(true);
        // Those read before the deletion, or needing no message: each exactly as it was.
        expect(listed.length).toBeLessThan(before.size);
        for (const tuple of listed) expect(contentsOf(tuple)).toEqual(before.get(tuple.config.configurable?.checkpoint_id as string));
      } finally {
        await dispose();
      }
    });
  });
}
