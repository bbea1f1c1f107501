/**
 * Request shapes of routes whose body or query this server does not (yet) validate with a zod
 * schema of `schemas.ts`: written here as the official LangGraph API defines them
 * (`@langchain/langgraph-sdk`'s client). When such a route gets its zod schema, the operation
 * should point at that schema instead, and the entry here goes.
 */
import type { JsonSchema } from "./components.js";

const anyObject: JsonSchema = { type: "object", additionalProperties: true };

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
