/**
 * The server serves one graph, `agent`. Like the official server, it keeps a system assistant
 * for it, whose id is uuid5(graph id, the official namespace), so clients that hard-code that id
 * keep working, and the bare graph id is accepted too. Other assistants are made through the API
 * (routes/assistants.ts) and kept in storage with their versions.
 */
import { v5 as uuid5 } from "@langchain/core/utils/uuid";
import { NotFoundError } from "../errors.js";
import { agentRunDefaults } from "../graph/agent.js";
import { runSettingsJsonSchema } from "../graph/run-settings.js";
import type { Assistant, AssistantRepository, AssistantVersion } from "../storage/assistants.js";

/** The graph id, as in langgraph.json. */
export const GRAPH_ID = "agent";
/** The namespace the official LangGraph server derives system assistant ids in. */
export const ASSISTANT_NAMESPACE = "6ba7b821-9dad-11d1-80b4-00c04fd430c8";
/** The system assistant's id: the same as the official server's for graph `agent`. */
export const ASSISTANT_ID = uuid5(GRAPH_ID, ASSISTANT_NAMESPACE);

/** The system assistant as it is stored: every owner sees it, nobody may change or delete it. */
const SYSTEM_ASSISTANT = {
  assistantId: ASSISTANT_ID,
  graphId: GRAPH_ID,
  name: GRAPH_ID,
  description: "A chat model with durable, per-thread memory",
  config: {},
  context: {},
  metadata: { created_by: "system" },
  system: true,
} as const;

/** Per repository, the one insertion of the system assistant (retried after a failure). */
const ensured = new WeakMap<AssistantRepository, Promise<void>>();

/**
 * Makes sure the system assistant is stored (once per repository and process; instances sharing
 * a database insert it once between them). Every lookup goes through here, so a server built
 * without `createServerDeps` has it too.
 */
export function ensureSystemAssistant(assistants: AssistantRepository): Promise<void> {
  let done = ensured.get(assistants);
  if (!done) {
    done = assistants.create({ ...SYSTEM_ASSISTANT, config: {}, context: {}, metadata: { ...SYSTEM_ASSISTANT.metadata } }).then(() => undefined);
    done.catch(() => ensured.delete(assistants));
    ensured.set(assistants, done);
  }
  return done;
}

/** The assistant id a client means: a graph id stands for the graph's system assistant, as on the official server. */
export const assistantIdOf = (idOrGraphId: string): string => (idOrGraphId === GRAPH_ID ? ASSISTANT_ID : idOrGraphId);

/** The assistant `owner` may see, by id or graph id; throws `NotFoundError` worded as the official server's. */
export async function requireAssistant(assistants: AssistantRepository, idOrGraphId: string, owner: string | undefined): Promise<Assistant> {
  await ensureSystemAssistant(assistants);
  const assistant = await assistants.get(assistantIdOf(idOrGraphId), owner);
  if (!assistant) throw new NotFoundError(`Assistant "${idOrGraphId}" not found`);
  return assistant;
}

/** The assistant a run names, as `requireAssistant`, with the official server's wording for runs. */
export async function resolveRunAssistant(assistants: AssistantRepository, idOrGraphId: string, owner: string | undefined): Promise<Assistant> {
  await ensureSystemAssistant(assistants);
  const assistant = await assistants.get(assistantIdOf(idOrGraphId), owner);
  if (!assistant) {
    throw new NotFoundError(`No assistant found for "${idOrGraphId}". Make sure the assistant ID is for a valid assistant or a valid graph ID.`);
  }
  return assistant;
}

/** One version of an assistant as the API returns it. */
export function assistantVersionToWire(version: AssistantVersion) {
  return {
    assistant_id: version.assistantId,
    graph_id: version.graphId,
    name: version.name,
    description: version.description,
    config: version.config,
    context: version.context,
    metadata: version.metadata,
    version: version.version,
    created_at: version.createdAt.toISOString(),
  };
}

/** An assistant as the API returns it. */
export function assistantToWire(assistant: Assistant) {
  return { ...assistantVersionToWire(assistant), updated_at: assistant.updatedAt.toISOString() };
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
