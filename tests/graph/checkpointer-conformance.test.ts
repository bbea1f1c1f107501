/** LangGraph's official conformance suite, run against our SQLite checkpointer. */
import { validate } from "@langchain/langgraph-checkpoint-validation";
import * as vitest from "vitest";
import { SqliteCheckpointer } from "../../src/graph/sqlite-checkpointer.js";

// The suite is written for Jest-style globals; give it vitest's for this file only.
Object.assign(globalThis, {
  describe: vitest.describe,
  it: vitest.it,
  test: vitest.test,
  expect: vitest.expect,
  beforeAll: vitest.beforeAll,
  afterAll: vitest.afterAll,
  beforeEach: vitest.beforeEach,
  afterEach: vitest.afterEach,
});

validate({
  checkpointerName: "SqliteCheckpointer",
  createCheckpointer: () => new SqliteCheckpointer(":memory:"),
  destroyCheckpointer: (checkpointer: SqliteCheckpointer) => checkpointer.close(),
});
