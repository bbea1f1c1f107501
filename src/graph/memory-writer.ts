/**
 * Decides after each turn whether to extract memories, and does it in the background: the reply
 * is already produced, nothing on its path waits for the extraction, and a failed one is only
 * reported. At most one extraction starts per turn, and most turns start none (see `note`).
 */
import type { BaseChatModel } from "@langchain/core/language_models/chat_models";
import { AsyncLocalStorageProviderSingleton } from "@langchain/core/singletons";
import type { BaseStore } from "@langchain/langgraph-checkpoint";
import { type ExtractionResult, extractMemories, relevanceOf } from "./memory-extraction.js";

/** A finished turn, as the writer needs it. */
export interface FinishedTurn {
  store: BaseStore;
  user: string;
  /** The thread, so the writer knows which of its user messages it has read. */
  threadId: string | undefined;
  /** Every user message of the thread's history, oldest first (texts). */
  userMessages: readonly string[];
  /** The model already saved or forgot memories with its tools this turn: no extraction is needed for it. */
  handled?: boolean;
  /** The model that extracts (the run's summary model: bookkeeping, at the service's temperature). */
  model: () => BaseChatModel | undefined;
}

/** Settings of the writer. */
export interface MemoryWriterOptions {
  /** User messages that may hold facts (`personal`) gathered before one extraction reads them together. */
  batchSize?: number;
  /** Time one extraction call may take. */
  timeoutMs?: number;
  /** Told when an extraction fails; the turn was not affected. */
  onError?: (error: unknown, context: { user: string; threadId: string | undefined }) => void;
  /** Told what each extraction changed (for logs and tests). */
  onExtracted?: (result: ExtractionResult, context: { user: string; threadId: string | undefined }) => void;
}

/** Default `batchSize`: a personal remark waits for three more, unless an explicit one comes first. */
export const MEMORY_BATCH_SIZE = 4;
/** Time an extraction call may take when the agent sets no model timeout. */
const DEFAULT_TIMEOUT_MS = 60_000;
/** Most user messages one extraction reads. */
const MAX_MESSAGES_PER_EXTRACTION = 8;
/** Threads whose reading position is kept; the oldest are forgotten first. */
const MAX_THREADS = 10_000;

/** Schedules extractions and tracks the ones still running. */
export class MemoryWriter {
  readonly #options: Required<Omit<MemoryWriterOptions, "onError" | "onExtracted">> & MemoryWriterOptions;
  /** Per thread (and user): how many of its user messages were read already. */
  readonly #read = new Map<string, number>();
  /** Per store and user, the last extraction: a user's extractions run one after another, never racing on a key. */
  readonly #chains = new WeakMap<BaseStore, Map<string, Promise<void>>>();
  readonly #pending = new Set<Promise<void>>();

  constructor(options: MemoryWriterOptions = {}) {
    this.#options = { ...options, batchSize: options.batchSize ?? MEMORY_BATCH_SIZE, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS };
  }

  /**
   * Called when a turn's reply is produced. Starts an extraction in the background when the
   * unread user messages hold an explicit request ("remember", "my name", "call me", "forget")
   * or `batchSize` personal remarks; marks messages with nothing personal as read without a call.
   * Returns at once.
   */
  note(turn: FinishedTurn): void {
    const threadKey = `${turn.user}\u0000${turn.threadId ?? ""}`;
    const total = turn.userMessages.length;
    // A thread not seen since this process started: only its newest message is new to us.
    if (!this.#read.has(threadKey)) this.#remember(threadKey, Math.max(0, total - 1));
    const read = Math.min(this.#read.get(threadKey) ?? 0, total);
    if (turn.handled) {
      this.#remember(threadKey, total);
      return;
    }
    const unread = turn.userMessages.slice(Math.max(0, read));
    const relevant = unread.filter((text) => relevanceOf(text) !== "none");
    const explicit = unread.some((text) => relevanceOf(text) === "explicit");
    if (relevant.length === 0 || explicit || relevant.length >= this.#options.batchSize) {
      this.#remember(threadKey, total);
      if (relevant.length > 0) this.#start(turn, relevant.slice(-MAX_MESSAGES_PER_EXTRACTION));
    }
  }

  /** Resolves when every extraction started so far has ended (shutdown and tests wait here). */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }

  /** Extractions started and not yet ended. */
  get pending(): number {
    return this.#pending.size;
  }

  #remember(threadKey: string, read: number): void {
    this.#read.delete(threadKey);
    this.#read.set(threadKey, read);
    if (this.#read.size > MAX_THREADS) this.#read.delete(this.#read.keys().next().value as string);
  }

  #start(turn: FinishedTurn, messages: string[]): void {
    const context = { user: turn.user, threadId: turn.threadId };
    let chains = this.#chains.get(turn.store);
    if (!chains) {
      chains = new Map();
      this.#chains.set(turn.store, chains);
    }
    const previous = chains.get(turn.user) ?? Promise.resolve();
    // Outside the run's async context: LangChain would otherwise make the extraction call a child
    // of the model node, with the run's callbacks, streams and tracing, after the run has ended.
    const run = AsyncLocalStorageProviderSingleton.getInstance().run(undefined, () => previous.then(async () => {
      try {
        const model = turn.model();
        if (!model) return;
        const result = await extractMemories({ model, store: turn.store, user: turn.user, messages, timeoutMs: this.#options.timeoutMs });
        this.#options.onExtracted?.(result, context);
      } catch (error) {
        this.#options.onError?.(error, context);
      }
    }));
    chains.set(turn.user, run);
    this.#pending.add(run);
    void run.finally(() => {
      this.#pending.delete(run);
      if (chains.get(turn.user) === run) chains.delete(turn.user);
    });
  }
}
