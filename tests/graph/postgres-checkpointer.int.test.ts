/** LangGraph's conformance suite and our storage guarantees, on PostgreSQL. */
import { validate } from "@langchain/langgraph-checkpoint-validation";
import pg from "pg";
import * as vitest from "vitest";
import { PostgresCheckpointer } from "../../src/graph/postgres-checkpointer.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";

const reachable = await postgresReachable();

// The suite is written for Jest-style globals; give it vitest's for this file only.
Object.assign(globalThis, {
  describe: reachable ? vitest.describe : vitest.describe.skip,
  it: vitest.it,
  test: vitest.test,
  expect: vitest.expect,
  beforeAll: vitest.beforeAll,
  afterAll: vitest.afterAll,
  beforeEach: vitest.beforeEach,
  afterEach: vitest.afterEach,
});

const pool = new pg.Pool({ connectionString: TEST_DATABASE_URL, max: 4 });
vitest.afterAll(() => pool.end());

validate({
  checkpointerName: "PostgresCheckpointer",
  createCheckpointer: async () => {
    const checkpointer = new PostgresCheckpointer(pool, { schema: schemaName() });
    await checkpointer.setup();
    return checkpointer;
  },
  destroyCheckpointer: async (checkpointer: PostgresCheckpointer) => dropSchema(pool, checkpointer.schema),
});
