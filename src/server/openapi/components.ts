/**
 * The response bodies of the API, written once as JSON Schema (OpenAPI 3.1 dialect) and
 * referenced from every operation. Shapes follow the official LangGraph API
 * (`@langchain/langgraph-sdk`'s `schema.ts`) and what `wire.ts` emits.
 */

/** A JSON Schema object. */
export type JsonSchema = Record<string, unknown>;

/** `{ $ref }` to a schema under `components.schemas`. */
export const ref = (name: SchemaName): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

const nullable = (schema: JsonSchema): JsonSchema => ({ anyOf: [schema, { type: "null" }] });
const dateTime = { type: "string", format: "date-time" };
const uuid = { type: "string", format: "uuid" };
const object = (properties: Record<string, JsonSchema>, required: string[] = Object.keys(properties), extra: JsonSchema = {}): JsonSchema => ({
  type: "object",
  properties,
  required,
  ...extra,
});
const anyObject: JsonSchema = { type: "object", additionalProperties: true };
/** A store item's fields; search results add `score` when the search had a query. */
const ITEM_PROPERTIES: Record<string, JsonSchema> = {
  namespace: { type: "array", items: { type: "string" } },
  key: { type: "string" },
  value: anyObject,
  created_at: dateTime,
  updated_at: dateTime,
};
const RUN_STATUSES = ["pending", "running", "success", "error", "timeout", "interrupted"];
const MULTITASK_STRATEGIES = ["reject", "enqueue", "interrupt", "rollback"];

/** Every schema of `components.schemas`, by name. */
export const SCHEMAS = {
  Error: object({ detail: { type: "string", description: "What went wrong, for a person to read" } }),
  Ok: object({ ok: { type: "boolean", const: true } }),
  Info: object(
    {
      version: { type: "string" },
      langgraph_js_version: { type: "string" },
      context: { type: "string" },
      flags: { type: "object", additionalProperties: { type: "boolean" } },
      llm_cache: { type: "object", description: "The response cache's mode and counters", additionalProperties: true },
    },
    ["version", "flags"],
  ),
  OpenApiDocument: object({ openapi: { type: "string" }, info: anyObject, paths: anyObject }, ["openapi", "info", "paths"], {
    description: "An OpenAPI 3.1 document (this one)",
  }),
  Metadata: { type: "object", additionalProperties: true, description: "Free-form JSON, matched key by key in searches" },
  Config: object(
    {
      tags: { type: "array", items: { type: "string" } },
      recursion_limit: { type: "integer" },
      configurable: anyObject,
    },
    [],
    { additionalProperties: true },
  ),
  Message: object(
    {
      type: { type: "string", enum: ["human", "ai", "system", "developer", "tool", "remove"] },
      content: { anyOf: [{ type: "string" }, { type: "array", items: {} }] },
      id: { type: "string" },
      name: { type: "string" },
      tool_calls: { type: "array", items: anyObject },
      tool_call_id: { type: "string" },
    },
    ["type", "content"],
    { additionalProperties: true, description: "A LangChain message as a flat dict" },
  ),
  Values: object({ messages: { type: "array", items: ref("Message") } }, [], {
    additionalProperties: true,
    description: "The graph's state: the conversation's messages",
  }),
  Interrupt: object({ id: { type: "string" }, value: {} }, [], { additionalProperties: true }),
  Checkpoint: object({
    thread_id: uuid,
    checkpoint_ns: { type: "string" },
    checkpoint_id: nullable(uuid),
    checkpoint_map: nullable(anyObject),
  }),
  Thread: object({
    thread_id: uuid,
    created_at: dateTime,
    updated_at: dateTime,
    metadata: ref("Metadata"),
    status: { type: "string", enum: ["idle", "busy", "interrupted", "error"] },
    config: ref("Config"),
    values: nullable(ref("Values")),
    interrupts: { type: "object", additionalProperties: { type: "array", items: ref("Interrupt") } },
  }),
  ThreadTask: object({
    id: { type: "string" },
    name: { type: "string" },
    error: nullable({ type: "string" }),
    interrupts: { type: "array", items: ref("Interrupt") },
    path: nullable({ type: "array", items: {} }),
    checkpoint: nullable(ref("Checkpoint")),
    state: nullable(ref("ThreadState")),
    result: {},
  }),
  ThreadState: object({
    values: ref("Values"),
    next: { type: "array", items: { type: "string" }, description: "Nodes to run next; empty when the thread waits for input" },
    tasks: { type: "array", items: ref("ThreadTask") },
    metadata: ref("Metadata"),
    created_at: nullable(dateTime),
    checkpoint: nullable(ref("Checkpoint")),
    parent_checkpoint: nullable(ref("Checkpoint")),
    checkpoint_id: nullable(uuid),
    parent_checkpoint_id: nullable(uuid),
  }),
  ThreadStateUpdateResponse: object({ checkpoint: nullable(ref("Checkpoint")) }),
  Run: object({
    run_id: uuid,
    thread_id: uuid,
    assistant_id: { type: "string" },
    created_at: dateTime,
    updated_at: dateTime,
    status: { type: "string", enum: RUN_STATUSES },
    metadata: ref("Metadata"),
    kwargs: { ...anyObject, description: "What the run was asked: input, command, config, stream modes..." },
    multitask_strategy: nullable({ type: "string", enum: MULTITASK_STRATEGIES }),
  }),
  RunOutcome: {
    ...anyObject,
    description: "The thread's values when the run ended; `__error__` holds `{error, message}` if it failed",
    properties: { messages: { type: "array", items: ref("Message") }, __error__: object({ error: { type: "string" }, message: { type: "string" } }) },
  },
  EventStream: {
    type: "string",
    description:
      "Server-sent events: `metadata` {run_id, thread_id} first, then one event per stream mode (`values`, `updates`, " +
      "`messages`, `custom`, `debug`, `tasks`, `checkpoints`, `events`...), `error` {error, message} on failure, `end` last. " +
      "Every event has an `id`; send it back as `Last-Event-ID` to resume.",
  },
  Assistant: object(
    {
      assistant_id: uuid,
      graph_id: { type: "string" },
      name: { type: "string" },
      description: nullable({ type: "string" }),
      config: ref("Config"),
      context: {},
      metadata: ref("Metadata"),
      version: { type: "integer", minimum: 1 },
      created_at: dateTime,
      updated_at: dateTime,
    },
    ["assistant_id", "graph_id", "name", "config", "metadata", "version", "created_at"],
  ),
  AssistantGraph: object({
    nodes: {
      type: "array",
      items: object({ id: { anyOf: [{ type: "string" }, { type: "number" }] }, type: { type: "string" }, name: { type: "string" }, data: {}, metadata: {} }, ["id"]),
    },
    edges: {
      type: "array",
      items: object({ source: { type: "string" }, target: { type: "string" }, data: {}, conditional: { type: "boolean" } }, ["source", "target"]),
    },
  }),
  GraphSchemas: object(
    {
      graph_id: { type: "string" },
      input_schema: nullable(anyObject),
      output_schema: nullable(anyObject),
      state_schema: nullable(anyObject),
      config_schema: nullable(anyObject),
      context_schema: nullable(anyObject),
    },
    ["graph_id", "state_schema", "config_schema"],
  ),
  Subgraphs: { type: "object", additionalProperties: ref("GraphSchemas"), description: "Schemas of each subgraph, by namespace" },
  Cron: object(
    {
      cron_id: uuid,
      assistant_id: { type: "string" },
      thread_id: nullable(uuid),
      on_run_completed: { type: "string", enum: ["delete", "keep"] },
      end_time: nullable(dateTime),
      schedule: { type: "string", description: "Cron expression" },
      timezone: nullable({ type: "string", description: "IANA time zone of the schedule" }),
      created_at: dateTime,
      updated_at: dateTime,
      payload: { ...anyObject, description: "The run each firing starts" },
      user_id: nullable({ type: "string" }),
      next_run_date: nullable(dateTime),
      metadata: ref("Metadata"),
      enabled: { type: "boolean" },
    },
    ["cron_id", "assistant_id", "thread_id", "end_time", "schedule", "created_at", "updated_at", "payload", "next_run_date", "metadata", "enabled"],
  ),
  Item: object(ITEM_PROPERTIES),
  // Written out rather than as allOf [Item, {score}]: each part of an allOf would refuse the other's fields.
  SearchItem: object({ ...ITEM_PROPERTIES, score: { type: "number" } }, Object.keys(ITEM_PROPERTIES)),
  Namespaces: object({ namespaces: { type: "array", items: { type: "array", items: { type: "string" } } } }),
  SearchItems: object({ items: { type: "array", items: ref("SearchItem") } }),
  Collection: object({
    collection_id: uuid,
    name: { type: "string" },
    metadata: ref("Metadata"),
    created_at: dateTime,
    document_count: { type: "integer" },
    chunk_count: { type: "integer" },
  }),
  Document: object({
    document_id: uuid,
    collection_id: uuid,
    source: { type: "string" },
    content_type: { type: "string", enum: ["text/plain", "text/markdown", "application/pdf"] },
    metadata: ref("Metadata"),
    created_at: dateTime,
    characters: { type: "integer" },
    chunk_count: { type: "integer" },
  }),
  SearchHit: object({
    chunk_id: { type: "string" },
    document_id: uuid,
    source: { type: "string" },
    position: { type: "integer" },
    text: { type: "string" },
    score: { type: "number" },
    ranks: object({ text: { type: "integer" }, vector: { type: "integer" } }, []),
  }),
  CollectionSearchResult: object({
    query: { type: "string" },
    methods: { type: "array", items: { type: "string", enum: ["text", "vector"] } },
    results: { type: "array", items: ref("SearchHit") },
  }),
  Count: { type: "integer", minimum: 0 },
  Html: { type: "string", description: "An HTML page" },
  PrometheusText: { type: "string", description: "Metrics in Prometheus's text exposition format (version 0.0.4)" },
  ProtocolResponse: {
    ...anyObject,
    description:
      "The agent streaming protocol's answer to a command: `{type: \"success\", id, result, meta}` or " +
      "`{type: \"error\", id, error, message}`, `error` being one of the protocol's codes (invalid_argument, unknown_command, " +
      "no_such_run, no_such_subscription, no_such_namespace, no_such_interrupt, no_such_checkpoint, permission_denied, not_supported, unknown_error)",
    properties: { type: { type: "string", enum: ["success", "error"] }, id: nullable({ type: "integer" }), result: anyObject, error: { type: "string" }, message: { type: "string" } },
  },
  ProtocolEventStream: {
    type: "string",
    description:
      "Server-sent events of the agent streaming protocol: each event's `id` is its number on the thread (`seq`), its " +
      "`event` the method (`lifecycle`, `values`, `updates`, `messages`, `tools`, `input.requested`, `checkpoints`, `tasks`, " +
      "`custom`); the stream replays the events still kept after `since` (without it, those of the current run), then goes on live until the client leaves.",
  },
} satisfies Record<SchemaName, JsonSchema>;

/** The name of a schema under `components.schemas` (`SCHEMAS` must define each, and no other). */
export type SchemaName =
  | "Error" | "Ok" | "Info" | "OpenApiDocument" | "Metadata" | "Config" | "Message" | "Values" | "Interrupt" | "Checkpoint"
  | "Thread" | "ThreadTask" | "ThreadState" | "ThreadStateUpdateResponse" | "Run" | "RunOutcome" | "EventStream"
  | "Assistant" | "AssistantGraph" | "GraphSchemas" | "Subgraphs" | "Cron" | "Item" | "SearchItem" | "Namespaces"
  | "SearchItems" | "Collection" | "Document" | "SearchHit" | "CollectionSearchResult" | "Count" | "Html"
  | "ProtocolResponse" | "ProtocolEventStream" | "PrometheusText";
