/**
 * The terminal chat against a LangGraph server (ours or any compatible one), through the
 * official SDK client: runs streamed in `messages-tuple` mode, threads created on first use.
 */
import { type Assistant, Client, type Item } from "@langchain/langgraph-sdk";
import { RemoteServerError } from "../errors.js";
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
import type { MemoryStoreAccess, StoredItem } from "./chat-memories.js";

/** How long the check that the server answers waits, before the chat starts. */
const REACHABLE_TIMEOUT_MS = 10_000;

/** The graph id; the server takes it wherever an assistant id is expected. */
const GRAPH_ID = "agent";

/** An assistant as the API sends it; the system ones say so in their metadata, as on the official server. */
const toSummary = (assistant: Assistant): AssistantSummary => ({
  assistantId: assistant.assistant_id,
  name: assistant.name,
  version: assistant.version,
  system: assistant.metadata?.created_by === "system",
});

/** A message as the API sends it. */
interface WireMessage {
  id?: string;
  type?: string;
  content?: unknown;
}

const messagesOf = (values: unknown): WireMessage[] => {
  const messages = (values as { messages?: unknown } | null | undefined)?.messages;
  return Array.isArray(messages) ? (messages as WireMessage[]) : [];
};
const toChatMessage = (message: WireMessage): ChatMessage => ({ role: roleOf(message.type ?? "ai"), text: textOf(message.content) });

/** An item as the SDK gives it (it adds `createdAt`/`updatedAt` beside the wire's snake_case fields). */
const toStoredItem = (item: Item): StoredItem => ({ namespace: item.namespace, key: item.key, value: item.value, updatedAt: item.updatedAt ? new Date(item.updatedAt) : undefined });

/** The `detail` of a LangGraph API error body, or the body itself. */
function detailOf(body: string): string {
  try {
    const parsed = JSON.parse(body) as { detail?: unknown; message?: unknown };
    if (typeof parsed.detail === "string") return parsed.detail;
    if (typeof parsed.message === "string") return parsed.message;
  } catch {
    // not JSON: the text is the best we have
  }
  return body.trim() || "(no details)";
}

/** See the module comment. */
export class RemoteBackend implements ChatBackend {
  readonly description: string;
  readonly #url: string;
  readonly #apiKey: string | undefined;
  readonly #client: Client;
  /** Threads known to exist on the server, so each is created at most once per chat. */
  readonly #created = new Set<string>();

  /** `apiKey` is sent as `x-api-key`; without one no key is sent (none is read from the environment). */
  constructor(options: { url: string; apiKey?: string }) {
    this.#url = options.url.replace(/\/+$/, "");
    this.#apiKey = options.apiKey;
    this.description = `the server at ${this.#url}`;
    // No retries: a run is not idempotent, and a chat should say at once that the server is down.
    this.#client = new Client({ apiUrl: this.#url, apiKey: options.apiKey ?? null, callerOptions: { maxRetries: 0 } });
  }

  /**
   * Resolves once the server answers at all (any status: a server that refuses our key is still
   * there, and says so on the first request); rejects, saying so, when nothing answers.
   */
  async reachable(): Promise<void> {
    await this.#call(async () => {
      const response = await fetch(`${this.#url}/ok`, { headers: this.#apiKey ? { "x-api-key": this.#apiKey } : {}, signal: AbortSignal.timeout(REACHABLE_TIMEOUT_MS) });
      await response.body?.cancel();
    });
  }

  async send(threadId: string, text: string, onToken: (token: string) => void, options: SendOptions = {}): Promise<TurnEnd> {
    const { stop } = options;
    return this.#call(async () => {
      if (!this.#created.has(threadId)) {
        // `do_nothing` lets `--thread` name a thread that does not exist yet, or one that does.
        await this.#client.threads.create({ threadId, ifExists: "do_nothing", signal: options.signal });
        this.#created.add(threadId);
      }
      const stream = this.#client.runs.stream(threadId, options.assistantId ?? GRAPH_ID, {
        input: { messages: [{ role: "user", content: text }] },
        streamMode: "messages-tuple",
        // Ctrl-C ends the request: the server then cancels the run, so the thread is left as it was.
        onDisconnect: "cancel",
        signal: options.signal,
      });
      // A stop cancels the run as a user's stop (`interrupt`: the thread keeps the turn, as the
      // web page's Stop does), and the stream is read on until the server ends it: by then the
      // thread is free for the next turn. The run's id comes in the stream's first event.
      let runId: string | undefined;
      let cancelled: Promise<void> | undefined;
      const cancel = () => {
        if (runId === undefined || cancelled) return;
        // A run that ended meanwhile answers 404 or 409: the stream ends all the same.
        cancelled = this.#client.runs.cancel(threadId, runId, false, "interrupt").catch(() => undefined);
      };
      stop?.addEventListener("abort", cancel, { once: true });
      try {
        const reply = new ReplyTokens();
        for await (const part of stream) {
          if (part.event === "metadata" && runId === undefined) {
            runId = (part.data as { run_id?: string }).run_id;
            if (stop?.aborted) cancel();
            continue;
          }
          // After a stop, the run's end (an error event saying it was cancelled) is no failure.
          if (stop?.aborted) continue;
          if (part.event === "error") {
            const data = part.data as { error?: string; message?: string };
            throw new RemoteServerError(`The run failed: ${data.message ?? data.error ?? "unknown error"}`);
          }
          if (part.event !== "messages") continue;
          const [message, metadata] = part.data as [WireMessage, { langgraph_node?: string }];
          // Chunks are "AIMessageChunk" on LangGraph's server, "ai" (like whole messages) on ours.
          if (metadata?.langgraph_node !== "model" || (message.type !== "AIMessageChunk" && message.type !== "ai")) continue;
          const token = reply.take(message);
          if (token !== "") onToken(token);
        }
      } finally {
        stop?.removeEventListener("abort", cancel);
      }
      await cancelled;
      return stop?.aborted ? "stopped" : "completed";
    });
  }

  async findThreads(idOrPrefix: string): Promise<string[]> {
    if (isServerThreadId(idOrPrefix)) {
      try {
        return [(await this.#call(() => this.#client.threads.get(idOrPrefix))).thread_id];
      } catch (error) {
        if (error instanceof RemoteServerError && error.serverStatus === 404) return [];
        throw error;
      }
    }
    // Ids only: the threads' values may be large.
    const threads = await this.#call(() => this.#client.threads.search({ limit: THREAD_SCAN_LIMIT, sortBy: "updated_at", sortOrder: "desc", select: ["thread_id"] }));
    return idsStartingWith(
      threads.map((thread) => thread.thread_id),
      idOrPrefix,
    );
  }

  async assistants(): Promise<AssistantSummary[]> {
    const found = await this.#call(() => this.#client.assistants.search({ graphId: GRAPH_ID, limit: ASSISTANT_LIMIT, sortBy: "name", sortOrder: "asc" }));
    return sortAssistants(found.map(toSummary));
  }

  async findAssistant(idOrName: string): Promise<AssistantSummary> {
    if (!isAssistantId(idOrName, GRAPH_ID)) {
      const found = await this.#call(() => this.#client.assistants.search({ name: idOrName, limit: ASSISTANT_LIMIT }));
      return assistantNamed(idOrName, found.map(toSummary));
    }
    try {
      return toSummary(await this.#call(() => this.#client.assistants.get(idOrName)));
    } catch (error) {
      if (error instanceof RemoteServerError && error.serverStatus === 404) throw unknownAssistant(idOrName);
      throw error;
    }
  }

  async threads(options: { limit: number }): Promise<ThreadSummary[]> {
    const threads = await this.#call(() => this.#client.threads.search({ limit: options.limit, sortBy: "updated_at", sortOrder: "desc" }));
    return threads.map((thread) => ({
      threadId: thread.thread_id,
      title: titleOf(thread.metadata, messagesOf(thread.values).map(toChatMessage)),
      updatedAt: thread.updated_at ? new Date(thread.updated_at) : undefined,
    }));
  }

  async history(threadId: string): Promise<ChatMessage[]> {
    try {
      return messagesOf((await this.#call(() => this.#client.threads.getState(threadId))).values).map(toChatMessage);
    } catch (error) {
      // A thread named with --thread is only created by its first message.
      if (error instanceof RemoteServerError && error.serverStatus === 404) return [];
      throw error;
    }
  }

  /** The server's Store API (which shows an API key's owner only their own items). */
  readonly memoryStore: MemoryStoreAccess = {
    search: async (prefix, { limit, offset }) => (await this.#call(() => this.#client.store.searchItems(prefix, { limit, offset }))).items.map(toStoredItem),
    listNamespaces: async (prefix, { limit }) => (await this.#call(() => this.#client.store.listNamespaces({ prefix, limit }))).namespaces,
    get: async (namespace, key) => {
      try {
        const item = await this.#call(() => this.#client.store.getItem(namespace, key));
        return item ? toStoredItem(item) : null;
      } catch (error) {
        // The official server answers null; a server that answers 404 means the same.
        if (error instanceof RemoteServerError && error.serverStatus === 404) return null;
        throw error;
      }
    },
    delete: (namespace, key) => this.#call(() => this.#client.store.deleteItem(namespace, key)),
  };

  async close(): Promise<void> {
    // The SDK holds no connection open between requests.
  }

  /** Runs an SDK call, turning its failures into one-line `RemoteServerError`s; cancellation passes through. */
  async #call<T>(action: () => Promise<T>): Promise<T> {
    try {
      return await action();
    } catch (error) {
      throw this.#describe(error);
    }
  }

  #describe(error: unknown): unknown {
    if (error instanceof RemoteServerError || !(error instanceof Error)) return error;
    if (error.name === "AbortError" || error.message === "AbortError") return error;
    const status = (error as { status?: unknown }).status;
    if (typeof status === "number") {
      // The SDK's message is "HTTP <status>: <body>".
      const body = error.message.replace(/^HTTP \d+:\s*/, "");
      return new RemoteServerError(`The server answered HTTP ${status}: ${detailOf(body)}`, { cause: error, serverStatus: status });
    }
    if (error.name === "ConnectionError" || /fetch failed|ECONNREFUSED|ECONNRESET|terminated|socket/i.test(error.message)) {
      return new RemoteServerError(`Cannot reach the server at ${this.#url}: is it running? (${error.message.replace(/^.*Original error: /, "")})`, { cause: error });
    }
    return new RemoteServerError(`The request to the server at ${this.#url} failed: ${error.message}`, { cause: error });
  }
}
