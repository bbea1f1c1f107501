/**
 * Request shapes of routes whose body or query this server does not (yet) validate with a zod
 * schema of `schemas.ts`: written here as the official LangGraph API defines them
 * (`@langchain/langgraph-sdk`'s client). When such a route gets its zod schema, the operation
 * should point at that schema instead, and the entry here goes.
 */
import type { JsonSchema } from "./components.js";

const anyObject: JsonSchema = { type: "object", additionalProperties: true };
const uuid = { type: "string", format: "uuid" };

/** `POST /runs/cancel`: the runs to cancel, by thread and ids, or by status. */
export const RUN_CANCEL_MANY: JsonSchema = {
  type: "object",
  properties: {
    thread_id: uuid,
    run_ids: { type: "array", items: uuid },
    status: { type: "string", enum: ["pending", "running", "all"] },
  },
};

/** `POST /runs/cancel` query. */
export const RUN_CANCEL_MANY_QUERY: JsonSchema = {
  type: "object",
  properties: { action: { type: "string", enum: ["interrupt", "rollback"], default: "interrupt" } },
};

/** `GET /threads/{thread_id}/stream` query. */
export const THREAD_STREAM_QUERY: JsonSchema = {
  type: "object",
  properties: {
    stream_mode: {
      anyOf: [{ type: "string", enum: ["run_modes", "lifecycle", "state_update"] }, { type: "array", items: { type: "string", enum: ["run_modes", "lifecycle", "state_update"] } }],
      default: "run_modes",
    },
  },
};

/** `PUT /store/items` (refused here: there is no store). */
export const STORE_PUT_ITEM: JsonSchema = {
  type: "object",
  properties: {
    namespace: { type: "array", items: { type: "string" } },
    key: { type: "string" },
    value: anyObject,
    index: { anyOf: [{ const: false }, { type: "array", items: { type: "string" } }, { type: "null" }] },
    ttl: { anyOf: [{ type: "number" }, { type: "null" }] },
  },
  required: ["namespace", "key", "value"],
};
