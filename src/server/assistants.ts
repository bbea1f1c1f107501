/**
 * The server serves one graph, `agent`, through one system assistant, as the official server
 * does for each graph in langgraph.json: its id is uuid5(graph id, the official namespace), so
 * clients that hard-code that id keep working, and the bare graph id is accepted too.
 */
import { v5 as uuid5 } from "@langchain/core/utils/uuid";
import { NotFoundError } from "../errors.js";
import { agentRunDefaults } from "../graph/agent.js";
import { runSettingsJsonSchema } from "../graph/run-settings.js";

/** The graph id, as in langgraph.json. */
export const GRAPH_ID = "agent";
/** The namespace the official LangGraph server derives system assistant ids in. */
export const ASSISTANT_NAMESPACE = "6ba7b821-9dad-11d1-80b4-00c04fd430c8";
/** The system assistant's id: the same as the official server's for graph `agent`. */
export const ASSISTANT_ID = uuid5(GRAPH_ID, ASSISTANT_NAMESPACE);

/** The assistant a client asked for by id or by graph id; throws `NotFoundError` otherwise. */
export function resolveAssistantId(idOrGraphId: string): string {
  if (idOrGraphId === ASSISTANT_ID || idOrGraphId === GRAPH_ID) return ASSISTANT_ID;
  throw new NotFoundError(`Assistant "${idOrGraphId}" not found; this server serves "${GRAPH_ID}" (${ASSISTANT_ID})`);
}

/** Start time of the process: the assistant's created_at and updated_at. */
const STARTED_AT = new Date().toISOString();

/** The system assistant as the API returns it. */
export function assistantToWire() {
  return {
    assistant_id: ASSISTANT_ID,
    graph_id: GRAPH_ID,
    name: GRAPH_ID,
    description: "A chat model with durable, per-thread memory",
    config: {},
    context: {},
    metadata: { created_by: "system" },
    version: 1,
    created_at: STARTED_AT,
    updated_at: STARTED_AT,
  };
}

/**
 * JSON Schemas of the graph's input, output, state and configuration (`configurable`/`context`,
 * the same schema as the official server gives both); defaults are `agent`'s.
 */
export function graphSchemas(agent?: object) {
  const message = {
    type: "object",
    properties: {
      type: { type: "string", enum: ["human", "ai", "system", "developer", "tool", "remove"] },
      content: { anyOf: [{ type: "string" }, { type: "array", items: { type: "object" } }] },
      id: { type: "string" },
    },
    required: ["content"],
  };
  const input = {
    title: "AgentInput",
    type: "object",
    properties: { messages: { type: "array", items: message, description: "Messages appended to the thread" } },
  };
  const state = {
    title: "AgentState",
    type: "object",
    properties: {
      messages: { type: "array", items: message, description: "The whole conversation" },
      windowStart: { type: "integer", description: "Index of the first message sent to the model" },
    },
  };
  // What a run or an assistant configures, with the service's defaults (see src/graph/run-settings.ts).
  const config = runSettingsJsonSchema(agent ? agentRunDefaults(agent) : undefined);
  return {
    graph_id: GRAPH_ID,
    input_schema: input,
    output_schema: state,
    state_schema: state,
    config_schema: config,
    context_schema: config,
  };
}
