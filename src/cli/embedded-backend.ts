/**
 * The terminal chat on the agent in this process: the database the server uses (SQLite in
 * `DATA_DIR`, or PostgreSQL), so threads are shared with it both ways.
 */
import { randomUUID } from "node:crypto";
import { ThreadBusyError } from "../errors.js";
import { type BaseMessage, HumanMessage } from "@langchain/core/messages";
import { type Agent, assertHasModel, runsSettled } from "../graph/agent.js";
import { PartialReply, keepStoppedTurn } from "../graph/partial-reply.js";
import { ASSISTANT_ID, GRAPH_ID, assistantConfigurable, assistantIdOf, ensureSystemAssistant } from "../graph/assistant-settings.js";
import type { Assistant } from "../storage/assistants.js";
import type { ConfiguredAgent } from "../composition/agent-from-config.js";
import type { ServiceCheckpointer } from "../storage/checkpointer.js";
import type { Storage } from "../storage/storage.js";
import { scopedStore } from "../storage/scoped-store.js";
import type { BaseStore, Item } from "@langchain/langgraph-checkpoint";
import type { MemoryStoreAccess, StoredItem } from "./chat-memories.js";
import { withModelCallHandlers } from "../graph/model-call-config.js";
import {
  ASSISTANT_LIMIT,
  type AssistantSummary,
  type ChatBackend,
  type ChatMessage,
  ReplyTokens,
  type SendOptions,
  THREAD_SCAN_LIMIT,
  type ThreadSummary,
  type TurnEnd,
  assistantNamed,
  idsStartingWith,
  isAssistantId,
  isServerThreadId,
  roleOf,
  sortAssistants,
  textOf,
  titleOf,
  unknownAssistant,
} from "./chat-backend.js";

const toChatMessage = (message: BaseMessage): ChatMessage => ({ role: roleOf(message.getType()), text: textOf(message.content) });
const toSummary = (assistant: Assistant): AssistantSummary => ({ assistantId: assistant.assistantId, name: assistant.name, version: assistant.version, system: assistant.system });

const toStoredItem = (item: Item): StoredItem => ({ namespace: item.namespace, key: item.key, value: item.value as Record<string, unknown>, updatedAt: item.updatedAt });

/** `/memory` on a `BaseStore`. */
const storeAccess = (store: BaseStore): MemoryStoreAccess => ({
  search: async (prefix, { limit, offset }) => (await store.search(prefix, { limit, offset })).map(toStoredItem),
  listNamespaces: (prefix, { limit }) => store.listNamespaces({ prefix, limit }),
  get: async (namespace, key) => {
    const item = await store.get(namespace, key);
    return item ? toStoredItem(item) : null;
  },
  delete: (namespace, key) => store.delete(namespace, key),
});

/** See the module comment. Build it with `EmbeddedBackend.open`. */
export class EmbeddedBackend implements ChatBackend {
  readonly description: string;
  readonly #agent: Agent;
  readonly #checkpointer: ServiceCheckpointer;
  readonly #storage: Storage;
  /** Threads this chat ran turns on, whose runs `close` waits for. */
  readonly #used = new Set<string>();
  readonly memoryStore: MemoryStoreAccess;

  private constructor(configured: ConfiguredAgent, storage: Storage, description: string) {
    this.#agent = configured.agent;
    this.#checkpointer = configured.checkpointer;
    this.#storage = storage;
    this.description = description;
    // The store the agent's runs here use (the local user's scope of the database's store): what
    // they remember is what `/memory` shows, as the server shows it without API keys.
    this.memoryStore = storeAccess(configured.agent.store ?? scopedStore(storage.store, undefined));
  }

  /**
   * Prepares the database (the server's thread table too, so threads started here are visible
   * through the API) and returns the backend; rejects when the database cannot be opened.
   */
  static async open(configured: ConfiguredAgent, description: string): Promise<EmbeddedBackend> {
    await configured.storage.setup();
    return new EmbeddedBackend(configured, configured.storage, description);
  }

  async send(threadId: string, text: string, onToken: (token: string) => void, options: SendOptions = {}): Promise<TurnEnd> {
    assertHasModel(this.#agent);
    // The version in use now, as a server's run takes it when it starts.
    const assistant = await this.#assistant(options.assistantId ?? ASSISTANT_ID);
    // As a server's run: the thread names its graph and assistant, so the web chat shows which.
    const stamp = { graph_id: assistant.graphId, assistant_id: assistant.assistantId };
    this.#used.add(threadId);
    // A stopped turn is undone after its stream ends; the next one must start after that.
    await runsSettled(this.#agent, threadId);
    // Without a row in the server's table the server would answer 404 for this thread (and it
    // takes UUIDs only: threads named otherwise stay the graph's).
    if (isServerThreadId(threadId)) {
      await this.#storage.threads.createThread({ threadId, metadata: stamp });
      // The server's one-run-per-thread rule does not cover runs made here; at least never start
      // a turn while the server (on this database) is running one, or one of the two would be lost.
      if (await this.#storage.runs.hasActiveRuns(threadId)) throw new ThreadBusyError(`Thread ${threadId} has a run in progress on the server; send again when it has finished`);
    }
    // The assistant's settings as a server's run applies them (this run sets none of its own).
    const defaults = assistant.config as { recursion_limit?: unknown; tags?: unknown };
    const config = {
      configurable: { ...assistantConfigurable(assistant), thread_id: threadId },
      ...(typeof defaults.recursion_limit === "number" ? { recursionLimit: defaults.recursion_limit } : {}),
      ...(Array.isArray(defaults.tags) ? { tags: defaults.tags as string[] } : {}),
      metadata: { thread_id: threadId, ...stamp },
    };
    // Stopping aborts the run as the server's execution does for a user's stop: the same graph
    // code decides what of it the thread keeps.
    const signals = [options.signal, options.stop].filter((signal): signal is AbortSignal => signal !== undefined);
    const stopped = () => options.stop?.aborted === true && options.signal?.aborted !== true;
    const input = [new HumanMessage({ content: text, id: randomUUID() })];
    // What the model streamed, kept after a Stop as a server's run keeps it.
    const partial = new PartialReply();
    try {
      const stream = await this.#agent.stream({ messages: input }, { ...withModelCallHandlers(config, [partial.handler]), streamMode: "messages", signal: signals.length > 0 ? AbortSignal.any(signals) : undefined });
      const reply = new ReplyTokens();
      for await (const [message, metadata] of stream) {
        if ((metadata as { langgraph_node?: string }).langgraph_node !== "model" || message.getType() !== "ai") continue;
        const token = reply.take(message);
        if (token !== "" && !options.stop?.aborted) onToken(token);
      }
    } catch (error) {
      if (!stopped()) throw error;
    }
    // Ended only once what the run wrote is undone and the stopped turn kept: the next turn reads
    // the thread as it is.
    if (stopped()) {
      await runsSettled(this.#agent, threadId);
      await keepStoppedTurn(this.#agent, { configurable: { thread_id: threadId } }, input, partial);
    }
    // The server sorts its threads by this time; a turn here counts as activity too.
    if (isServerThreadId(threadId)) await this.#storage.threads.updateThread(threadId, { metadata: stamp });
    return stopped() ? "stopped" : "completed";
  }

  async assistants(): Promise<AssistantSummary[]> {
    await ensureSystemAssistant(this.#storage.assistants);
    const found = await this.#storage.assistants.search({ graphId: GRAPH_ID, limit: ASSISTANT_LIMIT, offset: 0, sortBy: "name", sortOrder: "asc" });
    return sortAssistants(found.map(toSummary));
  }

  async findAssistant(idOrName: string): Promise<AssistantSummary> {
    if (isAssistantId(idOrName, GRAPH_ID)) return toSummary(await this.#assistant(idOrName));
    await ensureSystemAssistant(this.#storage.assistants);
    const found = await this.#storage.assistants.search({ name: idOrName, limit: ASSISTANT_LIMIT, offset: 0, sortBy: "name", sortOrder: "asc" });
    return assistantNamed(idOrName, found.map(toSummary));
  }

  async threads(options: { limit: number }): Promise<ThreadSummary[]> {
    // The checkpoints know every thread, including those made by code that never saw the server.
    const heads = await this.#checkpointer.listThreads({ limit: options.limit });
    const ids = heads.map((head) => head.threadId).filter((threadId) => isServerThreadId(threadId));
    const records = ids.length === 0 ? [] : await this.#storage.threads.searchThreads({ ids, limit: ids.length, offset: 0, sortBy: "updated_at", sortOrder: "desc" });
    const metadataOf = new Map(records.map((record) => [record.threadId, record.metadata]));
    return Promise.all(
      heads.map(async (head) => ({
        threadId: head.threadId,
        title: titleOf(metadataOf.get(head.threadId), (await this.#messages(head.threadId)).map(toChatMessage)),
        updatedAt: head.updatedAt,
      })),
    );
  }

  async findThreads(idOrPrefix: string): Promise<string[]> {
    const exists =
      (await this.#checkpointer.getTuple({ configurable: { thread_id: idOrPrefix, checkpoint_ns: "" } })) !== undefined ||
      (isServerThreadId(idOrPrefix) && (await this.#storage.threads.getThread(idOrPrefix)) !== null);
    if (exists) return [idOrPrefix];
    // The threads /threads lists: every thread with checkpoints, the server's and the graph's.
    const heads = await this.#checkpointer.listThreads({ limit: THREAD_SCAN_LIMIT });
    return idsStartingWith(
      heads.map((head) => head.threadId),
      idOrPrefix,
    );
  }

  async history(threadId: string): Promise<ChatMessage[]> {
    return (await this.#messages(threadId)).map(toChatMessage);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#used].map((threadId) => runsSettled(this.#agent, threadId)));
    await this.#storage.close();
  }

  /** The assistant (every owner's: this process is the database's own user), as it is now. */
  async #assistant(idOrGraphId: string): Promise<Assistant> {
    await ensureSystemAssistant(this.#storage.assistants);
    const assistant = await this.#storage.assistants.get(assistantIdOf(idOrGraphId));
    if (!assistant) throw unknownAssistant(idOrGraphId);
    return assistant;
  }

  /** The thread's current messages, read straight from its newest checkpoint. */
  async #messages(threadId: string): Promise<BaseMessage[]> {
    const tuple = await this.#checkpointer.getTuple({ configurable: { thread_id: threadId, checkpoint_ns: "" } });
    const messages = tuple?.checkpoint.channel_values.messages;
    return Array.isArray(messages) ? (messages as BaseMessage[]) : [];
  }
}
