/**
 * What a stopped run had already said: the text its model calls streamed before the Stop, kept
 * as a reply marked as stopped, so that the chat shows what the user saw and the model, on the
 * next turn, knows what it had started to answer (as ChatGPT does).
 *
 * The text comes from the model's own token callbacks, the ones LangGraph's `messages` stream
 * mode reads: whatever a client streaming the run could have seen, and nothing else. Calls
 * tagged `nostream` (summaries, memory extraction, titles) are bookkeeping, not the reply, and
 * are left out, as the stream leaves them out.
 */
import type { BaseCallbackHandler } from "@langchain/core/callbacks/base";
import type { Serialized } from "@langchain/core/load/serializable";
import { AIMessage, type BaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import { randomUUID } from "node:crypto";
import { modelCallHandler } from "./model-call-handler.js";

/**
 * The marker of a reply cut short by a Stop: `response_metadata.stopped === true`. It is kept
 * by both checkpointers (the message is serialised whole), shown on the wire in the message's
 * `response_metadata`, and never sent to the provider.
 */
export const STOPPED_MARKER = "stopped";

/** Whether `message` is a reply kept after a Stop (see `STOPPED_MARKER`). */
export function isStoppedReply(message: BaseMessage): boolean {
  return message.getType() === "ai" && (message.response_metadata as Record<string, unknown> | undefined)?.[STOPPED_MARKER] === true;
}

/** Tags that keep a model call out of LangGraph's `messages` stream, and so out of the reply. */
const NOSTREAM_TAGS = new Set(["nostream", "langsmith:nostream"]);

/** One model call's streamed text. */
interface StreamedCall {
  /** The id the streamed chunks carried (what a client joined them under). */
  id: string;
  /** Text from `handleLLMNewToken`. */
  tokens: string;
  /** Text from content-block events (LangGraph's v3 events, the agent streaming protocol). */
  blocks: string;
}

/**
 * Collects the text a run's model calls stream. Give `handler` to the run's callbacks; after a
 * Stop, `reply()` is the reply to keep, or `undefined` when nothing was streamed.
 */
export class PartialReply {
  readonly #calls = new Map<string, StreamedCall>();

  /**
   * The callback handler to give the run's model calls (`withModelCallHandlers`); it does not ask the model to stream.
   * Typed as the base class: the declaration `fromMethods` infers names a private module of @langchain/core.
   */
  readonly handler: BaseCallbackHandler = modelCallHandler("partial_reply", {
    handleChatModelStart: (_llm: Serialized, _messages: BaseMessage[][], runId: string, _parent?: string, _extra?: Record<string, unknown>, tags?: string[]) => {
      // LangChain names a chunk without a provider id `run-<runId>`, after this callback has seen it.
      if (!tags?.some((tag) => NOSTREAM_TAGS.has(tag))) this.#calls.set(runId, { id: `run-${runId}`, tokens: "", blocks: "" });
    },
    handleLLMNewToken: (token, _index, runId, _parent, _tags, fields) => {
      const call = this.#calls.get(runId);
      if (!call) return;
      call.tokens += token;
      const id = (fields?.chunk as { message?: { id?: unknown } } | undefined)?.message?.id;
      if (typeof id === "string") call.id = id;
    },
    handleChatModelStreamEvent: (event, runId) => {
      const call = this.#calls.get(runId);
      if (!call) return;
      if (event.event === "message-start" && typeof event.id === "string") call.id = event.id;
      if (event.event === "content-block-delta" && event.delta.type === "text-delta") call.blocks += event.delta.text;
    },
  });

  /** The text streamed so far: each call's, joined by a blank line (a run may call the model more than once). */
  text(): string {
    return [...this.#calls.values()]
      .map((call) => (call.blocks !== "" ? call.blocks : call.tokens))
      .filter((text) => text.trim() !== "")
      .join("\n\n");
  }

  /**
   * The reply to keep after a Stop: the streamed text as an AI message marked as stopped, under
   * the id its last streamed call had (so a client that followed the stream finds its message),
   * unless `takenIds` holds it already; `undefined` when no text was streamed.
   */
  reply(takenIds: ReadonlySet<string> = new Set()): AIMessage | undefined {
    const text = this.text();
    if (text === "") return undefined;
    const streamedId = [...this.#calls.values()].findLast((call) => (call.blocks || call.tokens).trim() !== "")?.id;
    const id = streamedId !== undefined && !takenIds.has(streamedId) ? streamedId : randomUUID();
    return new AIMessage({ content: text, id, response_metadata: { [STOPPED_MARKER]: true } });
  }
}

/** The ids of the messages in a state's values. */
function messageIds(values: unknown): string[] {
  const messages = (values as { messages?: unknown } | undefined)?.messages;
  if (!Array.isArray(messages)) return [];
  return messages.map((message) => (message as { id?: unknown } | null)?.id).filter((id): id is string => typeof id === "string");
}

/** What keeping a stopped turn needs of the graph: its state, read and written. */
interface StateAccess {
  getState(config: RunnableConfig): Promise<{ values: unknown }>;
  updateState(config: RunnableConfig, values: Record<string, unknown>, asNode?: string): Promise<RunnableConfig>;
}

/**
 * After a Stop the run was undone: writes the user's `input` back to the thread (on the branch
 * `config` names), followed by the part of the reply the model streamed (`partial`), marked as
 * stopped; with nothing streamed, as a finished turn with no reply. The server's runs and the
 * terminal chat's own both keep a stopped turn this way.
 */
export async function keepStoppedTurn(graph: StateAccess, config: RunnableConfig, input: readonly unknown[], partial?: PartialReply): Promise<void> {
  const messages: unknown[] = [...input];
  if (partial && partial.text() !== "") {
    // The reply keeps its streamed id unless a message already has it (the reducer would replace that one).
    const taken = new Set([...messageIds((await graph.getState(config)).values), ...messageIds({ messages: input })]);
    const reply = partial.reply(taken);
    if (reply) messages.push(reply);
  }
  await graph.updateState(config, { messages }, "model");
}
