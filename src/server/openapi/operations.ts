/**
 * Every operation the server answers, with the zod schemas its route validates with (so the
 * document cannot drift from what the server accepts) and the shape of its answer.
 * tests/server/openapi.test.ts checks this list against the routes registered in the app.
 */
import type { z } from "zod";
import {
  AssistantCount,
  AssistantLatestVersion,
  AssistantSearch,
  AssistantVersions,
  CollectionCreate,
  CollectionList,
  CollectionSearch,
  CronSearch,
  DocumentCreate,
  GraphQuery,
  JoinStreamQuery,
  RunBatch,
  RunCancelQuery,
  RunCreate,
  RunListQuery,
  StoreItemDelete,
  StoreItemPut,
  StoreItemQuery,
  StoreItemSearch,
  StoreNamespaceSearch,
  SubgraphsQuery,
  ThreadCount,
  ThreadCreate,
  AssistantCreate,
  AssistantDeleteQuery,
  AssistantPatch,
  CronCount,
  CronCreate,
  CronUpdate,
  EventStreamRequest,
  ProtocolCommand,
  RunsCancel,
  RunsCancelQuery,
  ThreadHistory,
  ThreadHistoryQuery,
  ThreadPatch,
  ThreadSearch,
  ThreadStateAtCheckpoint,
  ThreadStateUpdate,
  ThreadStreamQuery,
} from "../schemas.js";
import { type JsonSchema, type SchemaName, ref } from "./components.js";

export type Method = "get" | "post" | "put" | "patch" | "delete";
export type Tag = "Meta" | "Assistants" | "Threads" | "Thread runs" | "Stateless runs" | "Crons" | "Collections" | "Store" | "Protocol";

/** A request body or query: the route's zod schema, or JSON Schema where a route has none. */
export type Shape = z.ZodType | JsonSchema;

/** One answer of an operation: JSON, an event stream, an HTML page, or no body. */
export type Reply =
  | { status: 200 | 201; media: "application/json" | "text/event-stream" | "text/html" | "text/plain"; schema: JsonSchema }
  | { status: 202 | 204; media?: undefined; description: string };

export interface Operation {
  method: Method;
  path: string;
  tag: Tag;
  summary: string;
  body?: Shape;
  query?: Shape;
  replies: Reply[];
  /** Takes `Last-Event-ID` to resume an event stream. */
  resumable?: boolean;
  /** Open without an API key. */
  open?: boolean;
}

const json = (name: SchemaName, status: 200 | 201 = 200): Reply[] => [{ status, media: "application/json", schema: ref(name) }];
const list = (name: SchemaName): Reply[] => [{ status: 200, media: "application/json", schema: { type: "array", items: ref(name) } }];
const SSE: Reply[] = [{ status: 200, media: "text/event-stream", schema: ref("EventStream") }];
const HTML: Reply[] = [{ status: 200, media: "text/html", schema: ref("Html") }];
const NO_CONTENT = (description: string): Reply[] => [{ status: 204, description }];
const ITEM_OR_NULL: Reply[] = [{ status: 200, media: "application/json", schema: { anyOf: [ref("Item"), { type: "null" }], description: "The item, or null when there is none" } }];

const META: Operation[] = [
  { method: "get", path: "/ok", tag: "Meta", summary: "Liveness: the process answers", replies: json("Ok"), open: true },
  { method: "get", path: "/ready", tag: "Meta", summary: "Readiness: 200 once storage is set up, 503 while starting and once shutting down", replies: json("Ok"), open: true },
  {
    method: "get",
    path: "/metrics",
    tag: "Meta",
    summary: "Prometheus metrics (with API keys on: a key, or `Authorization: Bearer <METRICS_TOKEN>`)",
    replies: [{ status: 200, media: "text/plain", schema: ref("PrometheusText") }],
  },
  { method: "get", path: "/info", tag: "Meta", summary: "Server version, capabilities and response cache counters", replies: json("Info") },
  { method: "get", path: "/openapi.json", tag: "Meta", summary: "This document", replies: json("OpenApiDocument") },
  { method: "get", path: "/docs", tag: "Meta", summary: "This reference, interactive (Swagger UI, served offline)", replies: HTML, open: true },
  { method: "get", path: "/", tag: "Meta", summary: "The web chat", replies: HTML, open: true },
];

const ASSISTANTS: Operation[] = [
  { method: "post", path: "/assistants", tag: "Assistants", summary: "Create an assistant", body: AssistantCreate, replies: json("Assistant") },
  { method: "post", path: "/assistants/search", tag: "Assistants", summary: "Search assistants", body: AssistantSearch, replies: list("Assistant") },
  { method: "post", path: "/assistants/count", tag: "Assistants", summary: "Count assistants", body: AssistantCount, replies: json("Count") },
  { method: "get", path: "/assistants/{assistant_id}", tag: "Assistants", summary: "Get an assistant (by id or graph id)", replies: json("Assistant") },
  { method: "patch", path: "/assistants/{assistant_id}", tag: "Assistants", summary: "Change an assistant (a new version)", body: AssistantPatch, replies: json("Assistant") },
  { method: "delete", path: "/assistants/{assistant_id}", tag: "Assistants", summary: "Delete an assistant", query: AssistantDeleteQuery, replies: NO_CONTENT("Deleted") },
  { method: "get", path: "/assistants/{assistant_id}/graph", tag: "Assistants", summary: "The graph's nodes and edges", query: GraphQuery, replies: json("AssistantGraph") },
  { method: "get", path: "/assistants/{assistant_id}/schemas", tag: "Assistants", summary: "Input, output, state and config JSON schemas", replies: json("GraphSchemas") },
  { method: "get", path: "/assistants/{assistant_id}/subgraphs", tag: "Assistants", summary: "Subgraphs' schemas", query: SubgraphsQuery, replies: json("Subgraphs") },
  { method: "get", path: "/assistants/{assistant_id}/subgraphs/{namespace}", tag: "Assistants", summary: "Subgraphs' schemas under a namespace", query: SubgraphsQuery, replies: json("Subgraphs") },
  { method: "post", path: "/assistants/{assistant_id}/versions", tag: "Assistants", summary: "Versions of an assistant, newest first", body: AssistantVersions, replies: list("Assistant") },
  { method: "post", path: "/assistants/{assistant_id}/latest", tag: "Assistants", summary: "Make a version the latest", body: AssistantLatestVersion, replies: json("Assistant") },
];

const THREADS: Operation[] = [
  { method: "post", path: "/threads", tag: "Threads", summary: "Create a thread (optionally seeded with supersteps)", body: ThreadCreate, replies: json("Thread") },
  { method: "post", path: "/threads/search", tag: "Threads", summary: "Search threads (by metadata, status, ids, values, or `query`: what was said in them)", body: ThreadSearch, replies: list("Thread") },
  { method: "post", path: "/threads/count", tag: "Threads", summary: "Count threads (the filters of search, `query` included)", body: ThreadCount, replies: json("Count") },
  { method: "get", path: "/threads/{thread_id}", tag: "Threads", summary: "Get a thread", replies: json("Thread") },
  { method: "patch", path: "/threads/{thread_id}", tag: "Threads", summary: "Merge metadata into a thread", body: ThreadPatch, replies: json("Thread") },
  { method: "delete", path: "/threads/{thread_id}", tag: "Threads", summary: "Delete a thread, its runs and checkpoints", replies: NO_CONTENT("Deleted") },
  { method: "post", path: "/threads/{thread_id}/copy", tag: "Threads", summary: "Copy a thread with its history", replies: json("Thread") },
  { method: "get", path: "/threads/{thread_id}/state", tag: "Threads", summary: "Latest state", replies: json("ThreadState") },
  { method: "post", path: "/threads/{thread_id}/state", tag: "Threads", summary: "Update the state (seed or edit history)", body: ThreadStateUpdate, replies: json("ThreadStateUpdateResponse") },
  { method: "get", path: "/threads/{thread_id}/state/{checkpoint_id}", tag: "Threads", summary: "State at a checkpoint", replies: json("ThreadState") },
  { method: "post", path: "/threads/{thread_id}/state/checkpoint", tag: "Threads", summary: "State at a checkpoint", body: ThreadStateAtCheckpoint, replies: json("ThreadState") },
  { method: "post", path: "/threads/{thread_id}/history", tag: "Threads", summary: "Past states, newest first", body: ThreadHistory, replies: list("ThreadState") },
  { method: "get", path: "/threads/{thread_id}/history", tag: "Threads", summary: "Past states, newest first", query: ThreadHistoryQuery, replies: list("ThreadState") },
  { method: "get", path: "/threads/{thread_id}/stream", tag: "Threads", summary: "Follow everything that happens on a thread", query: ThreadStreamQuery, replies: SSE, resumable: true },
];

const THREAD_RUNS: Operation[] = [
  { method: "post", path: "/threads/{thread_id}/runs", tag: "Thread runs", summary: "Start a run in the background", body: RunCreate, replies: json("Run") },
  { method: "post", path: "/threads/{thread_id}/runs/stream", tag: "Thread runs", summary: "Start a run and stream it", body: RunCreate, replies: SSE },
  { method: "post", path: "/threads/{thread_id}/runs/wait", tag: "Thread runs", summary: "Start a run and wait for its final values", body: RunCreate, replies: json("RunOutcome") },
  { method: "get", path: "/threads/{thread_id}/runs", tag: "Thread runs", summary: "A thread's runs, newest first", query: RunListQuery, replies: list("Run") },
  { method: "get", path: "/threads/{thread_id}/runs/{run_id}", tag: "Thread runs", summary: "Get a run", replies: json("Run") },
  { method: "delete", path: "/threads/{thread_id}/runs/{run_id}", tag: "Thread runs", summary: "Delete a finished run", replies: NO_CONTENT("Deleted") },
  {
    method: "post",
    path: "/threads/{thread_id}/runs/{run_id}/cancel",
    tag: "Thread runs",
    summary: "Cancel a run",
    query: RunCancelQuery,
    replies: [
      { status: 202, description: "Cancellation asked (without `wait`)" },
      { status: 204, description: "Cancelled (with `wait`)" },
    ],
  },
  { method: "get", path: "/threads/{thread_id}/runs/{run_id}/join", tag: "Thread runs", summary: "Wait for a run and get the thread's values", replies: json("RunOutcome") },
  { method: "get", path: "/threads/{thread_id}/runs/{run_id}/stream", tag: "Thread runs", summary: "Join a run's stream", query: JoinStreamQuery, replies: SSE, resumable: true },
];

const STATELESS_RUNS: Operation[] = [
  { method: "post", path: "/runs", tag: "Stateless runs", summary: "Start a run on a temporary thread", body: RunCreate, replies: json("Run") },
  { method: "post", path: "/runs/stream", tag: "Stateless runs", summary: "Stream a run on a temporary thread", body: RunCreate, replies: SSE },
  { method: "post", path: "/runs/wait", tag: "Stateless runs", summary: "Run on a temporary thread and wait", body: RunCreate, replies: json("RunOutcome") },
  { method: "post", path: "/runs/batch", tag: "Stateless runs", summary: "Start several runs at once (all or none)", body: RunBatch, replies: list("Run") },
  { method: "get", path: "/runs/{run_id}/stream", tag: "Stateless runs", summary: "Join a stateless run's stream", query: JoinStreamQuery, replies: SSE, resumable: true },
  { method: "post", path: "/runs/cancel", tag: "Stateless runs", summary: "Cancel several runs", body: RunsCancel, query: RunsCancelQuery, replies: NO_CONTENT("Cancelled") },
];

const CRONS: Operation[] = [
  { method: "post", path: "/runs/crons", tag: "Crons", summary: "Schedule stateless runs", body: CronCreate, replies: json("Cron") },
  { method: "post", path: "/threads/{thread_id}/runs/crons", tag: "Crons", summary: "Schedule runs on a thread", body: CronCreate, replies: json("Cron") },
  { method: "post", path: "/runs/crons/search", tag: "Crons", summary: "Search crons", body: CronSearch, replies: list("Cron") },
  { method: "post", path: "/runs/crons/count", tag: "Crons", summary: "Count crons", body: CronCount, replies: json("Count") },
  { method: "patch", path: "/runs/crons/{cron_id}", tag: "Crons", summary: "Change a cron", body: CronUpdate, replies: json("Cron") },
  { method: "delete", path: "/runs/crons/{cron_id}", tag: "Crons", summary: "Delete a cron", replies: NO_CONTENT("Deleted") },
];

const COLLECTIONS: Operation[] = [
  { method: "post", path: "/collections", tag: "Collections", summary: "Create a collection of documents", body: CollectionCreate, replies: json("Collection", 201) },
  { method: "get", path: "/collections", tag: "Collections", summary: "Collections, newest first", query: CollectionList, replies: list("Collection") },
  { method: "get", path: "/collections/{collection_id}", tag: "Collections", summary: "Get a collection", replies: json("Collection") },
  { method: "delete", path: "/collections/{collection_id}", tag: "Collections", summary: "Delete a collection and its documents", replies: NO_CONTENT("Deleted") },
  { method: "post", path: "/collections/{collection_id}/documents", tag: "Collections", summary: "Add a document (text, Markdown, or PDF as base64)", body: DocumentCreate, replies: json("Document", 201) },
  { method: "get", path: "/collections/{collection_id}/documents", tag: "Collections", summary: "A collection's documents", query: CollectionList, replies: list("Document") },
  { method: "get", path: "/collections/{collection_id}/documents/{document_id}", tag: "Collections", summary: "Get a document", replies: json("Document") },
  { method: "delete", path: "/collections/{collection_id}/documents/{document_id}", tag: "Collections", summary: "Delete a document and its chunks", replies: NO_CONTENT("Deleted") },
  { method: "post", path: "/collections/{collection_id}/search", tag: "Collections", summary: "Ranked chunks for a query (full-text and vectors, fused)", body: CollectionSearch, replies: json("CollectionSearchResult") },
];

const STORE: Operation[] = [
  { method: "post", path: "/store/namespaces", tag: "Store", summary: "List namespaces (prefix, suffix, depth, pages)", body: StoreNamespaceSearch, replies: json("Namespaces") },
  { method: "post", path: "/store/items/search", tag: "Store", summary: "Search items (namespace prefix, filter, query, pages)", body: StoreItemSearch, replies: json("SearchItems") },
  { method: "get", path: "/store/items", tag: "Store", summary: "Get an item (namespace dot-joined)", query: StoreItemQuery, replies: ITEM_OR_NULL },
  { method: "put", path: "/store/items", tag: "Store", summary: "Put an item (with an optional ttl in minutes)", body: StoreItemPut, replies: NO_CONTENT("Stored") },
  { method: "delete", path: "/store/items", tag: "Store", summary: "Delete an item", body: StoreItemDelete, replies: NO_CONTENT("Deleted") },
];

const PROTOCOL: Operation[] = [
  {
    method: "post",
    path: "/threads/{thread_id}/commands",
    tag: "Protocol",
    summary: "A protocol command (run.start, input.respond, state.get, state.listCheckpoints, state.fork, agent.getTree)",
    body: ProtocolCommand,
    replies: json("ProtocolResponse"),
  },
  { method: "post", path: "/threads/{thread_id}/stream/events", tag: "Protocol", summary: "A thread's protocol events that a filter selects", body: EventStreamRequest, replies: [{ status: 200, media: "text/event-stream", schema: ref("ProtocolEventStream") }] },
  {
    method: "get",
    path: "/threads/{thread_id}/stream/events",
    tag: "Protocol",
    summary: "The protocol over a WebSocket (Upgrade: websocket; in browsers the key may be ?api_key=): commands, subscriptions and events",
    replies: [{ status: 204, description: "Switching Protocols (101): the socket carries JSON commands, answers and events" }],
  },
];

/** Every operation, in the order the reference lists them. */
export const OPERATIONS: readonly Operation[] = [...META, ...ASSISTANTS, ...THREADS, ...THREAD_RUNS, ...STATELESS_RUNS, ...CRONS, ...COLLECTIONS, ...STORE, ...PROTOCOL];
