/** LangGraph's conformance suite and our storage guarantees, on PostgreSQL. */
import { validate } from "@langchain/langgraph-checkpoint-validation";
import pg from "pg";
import * as vitest from "vitest";
import { PostgresCheckpointer } from "../../src/storage/postgres/checkpointer.js";
import { installJestGlobals } from "../support/jest-globals.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { PostgresDatabase } from "../../src/storage/postgres/database.js";
import { type BaseMessage, HumanMessage } from "@langchain/core/messages";
import type { CheckpointTuple } from "@langchain/langgraph-checkpoint";
import { FakeListChatModel } from "@langchain/core/utils/testing";
import { createAgent } from "../../src/graph/agent.js";

const reachable = await postgresReachable();

installJestGlobals(reachable ? vitest.describe : vitest.describe.skip);

const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
vitest.afterAll(() => pool.end());

validate({
  checkpointerName: "PostgresCheckpointer",
  createCheckpointer: async () => {
    const checkpointer = new PostgresCheckpointer(new PostgresDatabase(pool, { schema: schemaName() }));
    await checkpointer.setup();
    return checkpointer;
  },
  destroyCheckpointer: async (checkpointer: PostgresCheckpointer) => dropSchema(pool, checkpointer.schema),
});

/** A checkpoint's messages as their contents. */
const contentsOf = (tuple: CheckpointTuple) => ((tuple.checkpoint.channel_values.messages ?? []) as BaseMessage[]).map((message) => message.content);

vitest.describe.skipIf(!reachable)("PostgresCheckpointer reads that meet a deletion", () => {
  const thread = { configurable: { thread_id: "deleted-while-read", checkpoint_ns: "" } };

  /**
   * A thread of two turns written by one process, and a second process (nothing cached) whose
   * first read of the thread's messages comes just after the first process deleted the thread:
   * between a checkpoint's row and its messages, as a TTL sweep or a DELETE on another instance
   * may land.
   */
  async function readerMeetingADeletion() {
    const schema = schemaName();
    const writer = new PostgresCheckpointer(new PostgresDatabase(pool, { schema }));
    await writer.setup();
    const agent = createAgent({ model: new FakeListChatModel({ responses: ["first answer", "second answer"] }), checkpointer: writer, durability: "async" });
    for (const text of ["hello", "again"]) await agent.invoke({ messages: [new HumanMessage(text)] }, thread);
    const database = new PostgresDatabase(pool, { schema });
    const query = database.query.bind(database);
    const deletion = { done: false };
    database.query = (async (text: string, values?: unknown[]) => {
      if (!deletion.done && /FROM \S+\.agent_messages WHERE thread_id = \$1 AND seq < /.test(text)) {
        deletion.done = true;
        await writer.deleteThread("deleted-while-read");
      }
      return query(text, values);
    }) as typeof database.query;
    // Each checkpoint's messages as they were before the deletion.
    const before = new Map<string, unknown>();
    for await (const tuple of writer.list(thread)) before.set(tuple.config.configurable?.checkpoint_id as string, contentsOf(tuple));
    return { reader: new PostgresCheckpointer(database), deletion, before, dispose: () => dropSchema(pool, schema) };
  }

  vitest.it("reads the thread's newest checkpoint as gone, not as an error", async () => {
    const { reader, deletion, dispose } = await readerMeetingADeletion();
    try {
      vitest.expect(await reader.getTuple(thread)).toBeUndefined();
      vitest.expect(deletion.done).toBe(true);
    } finally {
      await dispose();
    }
  });

  vitest.it("lists the thread's history without the checkpoint it met deleted, not as an error; what it lists is whole", async () => {
    const { reader, deletion, before, dispose } = await readerMeetingADeletion();
    try {
      const listed = [];
      for await (const tuple of reader.list(thread)) listed.push(tuple);
      vitest.expect(deletion.done).toBe(true);
      // Those read before the deletion or needing no message: each exactly as it was.
      vitest.expect(listed.length).toBeLessThan(before.size);
      for (const tuple of listed) vitest.expect(contentsOf(tuple)).toEqual(before.get(tuple.config.configurable?.checkpoint_id as string));
    } finally {
      await dispose();
    }
  });
});
