/**
 * The events of the agent streaming protocol (`@langchain/protocol`) as this server sends them,
 * and what their data become on the wire: LangChain messages in state as the protocol's message
 * dicts, interrupts as `input.requested` events.
 */
import { matchesSubscription } from "@langchain/langgraph/stream";
import { toWire } from "../wire.js";

/** One event of a thread, as sent: `seq` numbers it on the thread, `event_id` is `String(seq)`. */
export interface ThreadEvent {
  type: "event";
  event_id: string;
  seq: number;
  method: string;
  params: {
    namespace: string[];
    timestamp: number;
    node?: string;
    data: unknown;
  };
}

/** Which events a client wants: the protocol's `EventStreamRequest` and `SubscribeParams`. */
export interface EventFilter {
  channels: string[];
  namespaces?: string[][];
  depth?: number;
  /** Only events numbered above this one. */
  since?: number;
}

/** True when `event` is one `filter` asks for. */
export const matchesFilter = (event: ThreadEvent, filter: EventFilter): boolean => matchesSubscription(event, filter as Parameters<typeof matchesSubscription>[1]);

/** How a run or a namespace stands, as lifecycle events say it. */
export type AgentStatus = "started" | "running" | "completed" | "failed" | "interrupted";

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

const MESSAGE_TYPES: Record<string, string> = { human: "human", user: "human", ai: "ai", assistant: "ai", system: "system", tool: "tool", function: "function", remove: "remove" };

/** The protocol's content blocks: strings as text blocks, OpenAI's image_url as image blocks. */
function contentOf(content: unknown): unknown {
  if (!Array.isArray(content)) return content ?? "";
  return content.map((block) => {
    if (typeof block === "string") return { type: "text", text: block };
    if (isRecord(block) && block.type === "image_url") {
      const image = block.image_url;
      const url = typeof image === "string" ? image : isRecord(image) ? image.url : undefined;
      if (typeof url === "string") return { type: "image", url };
    }
    return block;
  });
}

/** A message dict (see `toWire`) as the protocol's state message: only the fields it defines. */
function toProtocolMessage(message: Record<string, unknown>): Record<string, unknown> {
  const type = MESSAGE_TYPES[String(message.type)] ?? String(message.type);
  const out: Record<string, unknown> = { type, content: contentOf(message.content) };
  if (typeof message.id === "string") out.id = message.id;
  if (typeof message.name === "string") out.name = message.name;
  if (isRecord(message.response_metadata) && Object.keys(message.response_metadata).length > 0) out.response_metadata = message.response_metadata;
  if (type === "tool") {
    if (typeof message.tool_call_id === "string") out.tool_call_id = message.tool_call_id;
    if (message.status === "success" || message.status === "error") out.status = message.status;
    if ("artifact" in message) out.artifact = message.artifact;
  }
  if (type === "ai") {
    if (Array.isArray(message.tool_calls) && message.tool_calls.length > 0) out.tool_calls = message.tool_calls.map((call) => ({ ...call, type: "tool_call" }));
    if (Array.isArray(message.invalid_tool_calls) && message.invalid_tool_calls.length > 0) out.invalid_tool_calls = message.invalid_tool_calls;
  }
  return out;
}

const isMessage = (value: unknown): value is Record<string, unknown> => isRecord(value) && typeof value.type === "string" && value.type in MESSAGE_TYPES && "content" in value;

/** State (a `values` or `updates` payload) as the protocol sends it: messages as its message dicts, no `__interrupt__`. */
export function toProtocolState(state: unknown): unknown {
  const wire = toWire(state);
  if (!isRecord(wire)) return wire;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(wire)) {
    if (key === "__interrupt__") continue;
    out[key] = Array.isArray(value) ? value.map((item) => (isMessage(item) ? toProtocolMessage(item) : item)) : value;
  }
  return out;
}

/** The interrupts in a `values` payload or an `__interrupt__` update, as `input.requested` data. */
export function inputRequests(value: unknown): Array<{ interrupt_id: string; payload: unknown }> {
  const interrupts = Array.isArray(value) ? value : isRecord(value) && Array.isArray(value.__interrupt__) ? value.__interrupt__ : [];
  return interrupts.flatMap((entry: unknown) => (isRecord(entry) && typeof entry.id === "string" ? [{ interrupt_id: entry.id, payload: toWire(entry.value) }] : []));
}
