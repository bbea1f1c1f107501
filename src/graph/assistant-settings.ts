/**
 * What an assistant is to the agent, wherever the agent runs (the server, or the terminal chat
 * in its own process): the graph's system assistant, and the `configurable` an assistant's
 * settings give a run. Storage types only, so the server and the CLI share one definition.
 */
import { v5 as uuid5 } from "@langchain/core/utils/uuid";
import type { Assistant, AssistantRepository } from "../storage/assistants.js";

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
  metadata: { created_by: "system" },
  system: true,
} as const;

/** Per repository, the one insertion of the system assistant (retried after a failure). */
const ensured = new WeakMap<AssistantRepository, Promise<void>>();

/**
 * Makes sure the system assistant is stored (once per repository and process; instances sharing
 * a database insert it once between them). Every lookup goes through here, so a server built
 * without `createServerDeps`, and the terminal chat on a database no server has opened, have it too.
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

/** `configurable` keys no setting may give: LangGraph's own (`__*`) and the thread/checkpoint address. */
export const RESERVED_CONFIGURABLE_KEY = /^(__|checkpoint_|thread_id$)/;

/** `record` without the reserved keys, which could redirect a run or switch off its undo. */
export const withoutReservedKeys = (record: Record<string, unknown> | null | undefined): Record<string, unknown> =>
  Object.fromEntries(Object.entries(record ?? {}).filter(([key]) => !RESERVED_CONFIGURABLE_KEY.test(key)));

/**
 * The `configurable` an assistant gives a run that sets nothing of its own: its
 * `config.configurable` with its `context` on top, key by key, reserved keys dropped (as the
 * server's runs take it, under their own config and context).
 */
export function assistantConfigurable(assistant: Pick<Assistant, "config" | "context">): Record<string, unknown> {
  return { ...withoutReservedKeys(assistant.config.configurable as Record<string, unknown> | undefined), ...withoutReservedKeys(assistant.context) };
}
