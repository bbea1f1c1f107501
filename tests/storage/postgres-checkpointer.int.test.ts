/** LangGraph's conformance suite and our storage guarantees, on PostgreSQL. */
import { validate } from "@langchain/langgraph-checkpoint-validation";
import pg from "pg";
import * as vitest from "vitest";
import { PostgresCheckpointer } from "../../src/storage/postgres/checkpointer.js";
import { installJestGlobals } from "../support/jest-globals.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "../support/postgres.js";
import { PostgresDatabase } from "../../src/storage/postgres/database.js";

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
