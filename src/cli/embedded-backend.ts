/**
 * The terminal chat on the agent in this process: the database the server uses (SQLite in
 * `DATA_DIR`, or PostgreSQL), so threads are shared with it both ways.
 */
import { ThreadBusyError } from "../errors.js";
import { type BaseMessage, HumanMessage } from "@langchain/core/messages";
import { type Agent, assertHasModel, runsSettled } from "../graph/agent.js";
import type { ConfiguredAgent } from "../composition/agent-from-config.js";
import type { ServiceCheckpointer } from "../storage/checkpointer.js";
import type { Storage } from "../storage/storage.js";
import { type ChatBackend, type ChatMessage, ReplyTokens, type ThreadSummary, isServerThreadId, roleOf, textOf, titleOf } from "./chat-backend.js";

const toChatMessage = (message: BaseMessage): ChatMessage => ({ role: roleOf(message.getType()), text: textOf(message.content) });

/** See the module comment. Build it with `EmbeddedBackend.open`. */
export class EmbeddedBackend implements ChatBackend {
  readonly description: string;
  readonly #agent: Agent;
  readonly #checkpointer: ServiceCheckpointer;
  readonly #storage: Storage;
  /** Threads this chat ran turns on, whose runs `close` waits for. */
  readonly #used = new Set<string>();

  private constructor(configured: ConfiguredAgent, storage: Storage, description: string) {
    this.#agent = configured.agent;
    this.#checkpointer = configured.checkpointer;
    this.#storage = storage;
    this.description = description;
  }

  /**
   * Prepares the database (the server's thread table too, so threads started here are visible
   * through the API) and returns the backend; rejects when the database cannot be opened.
   */
  static async open(configured: ConfiguredAgent, description: string): Promise<EmbeddedBackend> {
    await configured.storage.setup();
    return new EmbeddedBackend(configured, configured.storage, description);
  }

  async send(threadId: string, text: string, onToken: (token: string) => void, options: { signal?: AbortSignal } = {}): Promise<void> {
    assertHasModel(this.#agent);
    this.#used.add(threadId);
    // A stopped turn is undone after its stream ends; the next one must start after that.
    await runsSettled(this.#agent, threadId);
    // Without a row in the server's table the server would answer 404 for this thread (and it
    // takes UUIDs only: threads named otherwise stay the graph's).
    if (isServerThreadId(threadId)) {
      await this.#storage.threads.createThread({ threadId, metadata: {} });
      // The server's one-run-per-thread rule does not cover runs made here; at least never start
      // a turn while the server (on this database) is running one, or one of the two would be lost.
      if (await this.#storage.runs.hasActiveRuns(threadId)) throw new ThreadBusyError(`Thread ${threadId} has a run in progress on the server; send again when it has finished`);
    }
    const config = { configurable: { thread_id: threadId } };
    const stream = await this.#agent.stream({ messages: [new HumanMessage(text)] }, { ...config, streamMode: "messages", signal: options.signal });
    const reply = new ReplyTokens();
    for await (const [message, metadata] of stream) {
      if ((metadata as { langgraph_node?: string }).langgraph_node !== "model" || message.getType() !== "ai") continue;
      const token = reply.take(message);
      if (token !== "") onToken(token);
    }
    // The server sorts its threads by this time; a turn here counts as activity too.
    if (isServerThreadId(threadId)) await this.#storage.threads.updateThread(threadId, {});
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

  async history(threadId: string): Promise<ChatMessage[]> {
    return (await this.#messages(threadId)).map(toChatMessage);
  }

  async close(): Promise<void> {
    await Promise.all([...this.#used].map((threadId) => runsSettled(this.#agent, threadId)));
    await this.#storage.close();
  }

  /** The thread's current messages, read straight from its newest checkpoint. */
  async #messages(threadId: string): Promise<BaseMessage[]> {
    const tuple = await this.#checkpointer.getTuple({ configurable: { thread_id: threadId, checkpoint_ns: "" } });
    const messages = tuple?.checkpoint.channel_values.messages;
    return Array.isArray(messages) ? (messages as BaseMessage[]) : [];
  }
}
