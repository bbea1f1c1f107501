/**
 * Request shapes of routes whose body or query this server does not (yet) validate with a zod
 * schema of `schemas.ts`: written here as the official LangGraph API defines them
 * (`@langchain/langgraph-sdk`'s client). When such a route gets its zod schema, the operation
 * should point at that schema instead, and the entry here goes.
 */
import type { JsonSchema } from "./components.js";
import { ref } from "./components.js";

const anyObject: JsonSchema = { type: "object", additionalProperties: true };
const uuid = { type: "string", format: "uuid" };
const interruptible = { anyOf: [{ const: "*" }, { type: "array", items: { type: "string" } }] };
const streamModes = { anyOf: [{ type: "string" }, { type: "array", items: { type: "string" } }] };

/** Fields a cron's runs are made of, shared by create and patch. */
const cronRunFields: Record<string, JsonSchema> = {
  schedule: { type: "string", description: "Cron expression, e.g. `0 9 * * 1-5`" },
  timezone: { type: "string", description: "IANA time zone of the schedule (UTC when omitted)" },
  end_time: { anyOf: [{ type: "string", format: "date-time" }, { type: "null" }], description: "No firing after this time" },
  input: anyObject,
  metadata: ref("Metadata"),
  config: ref("Config"),
  context: {},
  webhook: { type: "string", format: "uri" },
  interrupt_before: interruptible,
  interrupt_after: interruptible,
  on_run_completed: { type: "string", enum: ["delete", "keep"], description: "What happens to a stateless cron's thread after each run" },
  enabled: { type: "boolean", default: true },
  stream_mode: streamModes,
  stream_subgraphs: { type: "boolean" },
  stream_resumable: { type: "boolean" },
  durability: { type: "string", enum: ["sync", "async", "exit"] },
};

/** `POST /runs/crons` and `POST /threads/{thread_id}/runs/crons`. */
export const CRON_CREATE: JsonSchema = {
  type: "object",
  properties: {
    assistant_id: { type: "string" },
    ...cronRunFields,
    multitask_strategy: { type: "string", enum: ["reject", "enqueue", "interrupt", "rollback"] },
  },
  required: ["assistant_id", "schedule"],
};

/** `PATCH /runs/crons/{cron_id}`: `end_time: null` clears it, an omitted field is left as it is. */
export const CRON_PATCH: JsonSchema = { type: "object", properties: cronRunFields };

/** `POST /runs/crons/count`. */
export const CRON_COUNT: JsonSchema = {
  type: "object",
  properties: { assistant_id: { type: "string" }, thread_id: uuid, metadata: ref("Metadata") },
};

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
