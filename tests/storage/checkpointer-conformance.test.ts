/** LangGraph's official conformance suite, run against our SQLite checkpointer. */
import { validate } from "@langchain/langgraph-checkpoint-validation";
import { SqliteCheckpointer } from "../../src/storage/sqlite/checkpointer.js";
import { installJestGlobals } from "../support/jest-globals.js";

installJestGlobals();

validate({
  checkpointerName: "SqliteCheckpointer",
  createCheckpointer: () => new SqliteCheckpointer(":memory:"),
  destroyCheckpointer: (checkpointer: SqliteCheckpointer) => checkpointer.close(),
});
