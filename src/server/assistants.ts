/**
 * The server serves one graph, `agent`. Like the official server, it keeps a system assistant
 * for it, whose id is uuid5(graph id, the official namespace), so clients that hard-code that id
 * keep working, and the bare graph id is accepted too. Other assistants are made through the API
 * (routes/assistants.ts) and kept in storage with their versions.
 */
import { NotFoundError } from "../errors.js";
import { agentRunDefaults } from "../graph/agent.js";
import { runSettingsJsonSchema } from "../graph/run-settings.js";
import type { Assistant, AssistantRepository, AssistantVersion } from "../storage/assistants.js";
import { GRAPH_ID, assistantIdOf, ensureSystemAssistant } from "../graph/assistant-settings.js";

// Defined beside the agent, so the terminal chat in its own process knows the same system assistant.
export { ASSISTANT_ID, ASSISTANT_NAMESPACE, GRAPH_ID, assistantIdOf, ensureSystemAssistant } from "../graph/assistant-settings.js";

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
