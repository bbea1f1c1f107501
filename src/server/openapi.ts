/**
 * The OpenAPI description served at /openapi.json, built from the same zod schemas the routes
 * validate with, so the document cannot drift from what the server accepts.
 */
import { z } from "zod";
import {
  CollectionCreate,
  CollectionSearch,
  DocumentCreate,
  AssistantCount,
  AssistantLatestVersion,
  AssistantSearch,
  AssistantVersions,
  CronSearch,
  RunCreate,
  StoreItemSearch,
  StoreNamespaceSearch,
  ThreadCount,
  ThreadCreate,
  ThreadHistory,
  ThreadPatch,
  ThreadSearch,
  ThreadStateAtCheckpoint,
  ThreadStateUpdate,
} from "./schemas.js";

interface Operation {
  method: "get" | "post" | "put" | "patch" | "delete";
  path: string;
  tag: "Meta" | "Assistants" | "Threads" | "Runs" | "Stateless runs" | "Collections" | "Store" | "Crons";
  summary: string;
  body?: z.ZodType;
  /** Responds with an SSE stream instead of JSON. */
  stream?: boolean;
}

/** Every route of the API, in the order the docs list them. */
export const OPERATIONS: Operation[] = [
  { method: "get", path: "/ok", tag: "Meta", summary: "Health check" },
  { method: "get", path: "/info", tag: "Meta", summary: "Server version, capabilities and response cache counters" },
  { method: "get", path: "/openapi.json", tag: "Meta", summary: "This document" },
  { method: "post", path: "/assistants/search", tag: "Assistants", summary: "Search assistants", body: AssistantSearch },
  { method: "post", path: "/assistants/count", tag: "Assistants", summary: "Count assistants", body: AssistantCount },
  { method: "get", path: "/assistants/{assistant_id}", tag: "Assistants", summary: "Get an assistant (id or graph id)" },
  { method: "get", path: "/assistants/{assistant_id}/graph", tag: "Assistants", summary: "The graph's nodes and edges (?xray)" },
  { method: "get", path: "/assistants/{assistant_id}/schemas", tag: "Assistants", summary: "Input, output, state and config JSON schemas" },
  { method: "get", path: "/assistants/{assistant_id}/subgraphs", tag: "Assistants", summary: "Subgraphs (none)" },
  { method: "post", path: "/assistants/{assistant_id}/versions", tag: "Assistants", summary: "Versions of an assistant", body: AssistantVersions },
  { method: "post", path: "/assistants/{assistant_id}/latest", tag: "Assistants", summary: "Set the latest version (only 1 exists)", body: AssistantLatestVersion },
  { method: "post", path: "/threads", tag: "Threads", summary: "Create a thread", body: ThreadCreate },
  { method: "post", path: "/threads/search", tag: "Threads", summary: "Search threads", body: ThreadSearch },
  { method: "post", path: "/threads/count", tag: "Threads", summary: "Count threads", body: ThreadCount },
  { method: "get", path: "/threads/{thread_id}", tag: "Threads", summary: "Get a thread" },
  { method: "patch", path: "/threads/{thread_id}", tag: "Threads", summary: "Merge metadata into a thread", body: ThreadPatch },
  { method: "delete", path: "/threads/{thread_id}", tag: "Threads", summary: "Delete a thread, its runs and checkpoints" },
  { method: "post", path: "/threads/{thread_id}/copy", tag: "Threads", summary: "Copy a thread with its history" },
  { method: "get", path: "/threads/{thread_id}/state", tag: "Threads", summary: "Latest state" },
  { method: "post", path: "/threads/{thread_id}/state", tag: "Threads", summary: "Update the state (seed or edit history)", body: ThreadStateUpdate },
  { method: "get", path: "/threads/{thread_id}/state/{checkpoint_id}", tag: "Threads", summary: "State at a checkpoint" },
  { method: "post", path: "/threads/{thread_id}/state/checkpoint", tag: "Threads", summary: "State at a checkpoint", body: ThreadStateAtCheckpoint },
  { method: "post", path: "/threads/{thread_id}/history", tag: "Threads", summary: "Past states, newest first", body: ThreadHistory },
  { method: "get", path: "/threads/{thread_id}/history", tag: "Threads", summary: "Past states, newest first" },
  { method: "post", path: "/threads/{thread_id}/runs", tag: "Runs", summary: "Start a run in the background", body: RunCreate },
  { method: "post", path: "/threads/{thread_id}/runs/stream", tag: "Runs", summary: "Start a run and stream it", body: RunCreate, stream: true },
  { method: "post", path: "/threads/{thread_id}/runs/wait", tag: "Runs", summary: "Start a run and wait for its final values", body: RunCreate },
  { method: "get", path: "/threads/{thread_id}/runs", tag: "Runs", summary: "List a thread's runs, newest first" },
  { method: "get", path: "/threads/{thread_id}/runs/{run_id}", tag: "Runs", summary: "Get a run" },
  { method: "delete", path: "/threads/{thread_id}/runs/{run_id}", tag: "Runs", summary: "Delete a finished run" },
  { method: "post", path: "/threads/{thread_id}/runs/{run_id}/cancel", tag: "Runs", summary: "Cancel a run (?wait, ?action=interrupt|rollback)" },
  { method: "get", path: "/threads/{thread_id}/runs/{run_id}/join", tag: "Runs", summary: "Wait for a run and get the thread's values" },
  { method: "get", path: "/threads/{thread_id}/runs/{run_id}/stream", tag: "Runs", summary: "Join a run's stream (Last-Event-ID resumes)", stream: true },
  { method: "post", path: "/runs", tag: "Stateless runs", summary: "Start a run on a temporary thread", body: RunCreate },
  { method: "post", path: "/runs/stream", tag: "Stateless runs", summary: "Stream a run on a temporary thread", body: RunCreate, stream: true },
  { method: "post", path: "/runs/wait", tag: "Stateless runs", summary: "Run on a temporary thread and wait", body: RunCreate },
  { method: "post", path: "/collections", tag: "Collections", summary: "Create a collection of documents", body: CollectionCreate },
  { method: "get", path: "/collections", tag: "Collections", summary: "List collections, newest first" },
  { method: "get", path: "/collections/{collection_id}", tag: "Collections", summary: "Get a collection" },
  { method: "delete", path: "/collections/{collection_id}", tag: "Collections", summary: "Delete a collection and its documents" },
  { method: "post", path: "/collections/{collection_id}/documents", tag: "Collections", summary: "Add a document (text, Markdown, PDF as base64)", body: DocumentCreate },
  { method: "get", path: "/collections/{collection_id}/documents", tag: "Collections", summary: "List a collection's documents" },
  { method: "get", path: "/collections/{collection_id}/documents/{document_id}", tag: "Collections", summary: "Get a document" },
  { method: "delete", path: "/collections/{collection_id}/documents/{document_id}", tag: "Collections", summary: "Delete a document and its chunks" },
  { method: "post", path: "/collections/{collection_id}/search", tag: "Collections", summary: "Ranked chunks for a query (full-text and vectors, fused)", body: CollectionSearch },
  { method: "post", path: "/store/namespaces", tag: "Store", summary: "No store: always no namespaces", body: StoreNamespaceSearch },
  { method: "post", path: "/store/items/search", tag: "Store", summary: "No store: always no items", body: StoreItemSearch },
  { method: "get", path: "/store/items", tag: "Store", summary: "No store: always null" },
  { method: "put", path: "/store/items", tag: "Store", summary: "No store: 501, nothing is stored" },
  { method: "delete", path: "/store/items", tag: "Store", summary: "No store: 204, nothing to delete" },
  { method: "post", path: "/runs/crons/search", tag: "Crons", summary: "No crons: always empty", body: CronSearch },
  { method: "post", path: "/runs/crons", tag: "Crons", summary: "No crons: 501" },
];

const ERROR_RESPONSE = {
  description: "Error",
  content: { "application/json": { schema: { type: "object", properties: { detail: { type: "string" } }, required: ["detail"] } } },
};

/** Builds the OpenAPI 3.1 document. */
export function openApiDocument(version: string) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of OPERATIONS) {
    const parameters = [...operation.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => ({
      name,
      in: "path",
      required: true,
      schema: { type: "string" },
    }));
    paths[operation.path] ??= {};
    paths[operation.path]![operation.method] = {
      tags: [operation.tag],
      summary: operation.summary,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(operation.body
        ? { requestBody: { required: true, content: { "application/json": { schema: z.toJSONSchema(operation.body, { io: "input", unrepresentable: "any" }) } } } }
        : {}),
      responses: {
        "200": { description: "OK", content: { [operation.stream ? "text/event-stream" : "application/json"]: {} } },
        "4XX": ERROR_RESPONSE,
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: { title: "stateful-agent", version, description: "LangGraph-compatible API of a chat agent with durable per-thread memory" },
    paths,
  };
}

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (character) => `&#${character.charCodeAt(0)};`);

/** A self-contained HTML page listing the API (no CDN: it must work offline). */
export function docsPage(version: string): string {
  const rows = OPERATIONS.map(
    (operation) =>
      `<tr><td><code>${operation.method.toUpperCase()}</code></td><td><code>${escapeHtml(operation.path)}</code></td><td>${escapeHtml(operation.summary)}</td></tr>`,
  ).join("\n");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>stateful-agent API</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}td{padding:.3rem .5rem;border-bottom:1px solid #ddd;vertical-align:top}code{font-size:13px}</style>
</head><body><h1>stateful-agent API <small>${escapeHtml(version)}</small></h1>
<p>Compatible with the LangGraph server API and <code>@langchain/langgraph-sdk</code>. Errors are JSON <code>{"detail": "..."}</code>.
The machine-readable description is at <a href="/openapi.json">/openapi.json</a>.</p>
<table>${rows}</table></body></html>`;
}
