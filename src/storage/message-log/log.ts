/**
 * The storage-independent half of the message log: how a message list becomes ranges over a
 * thread's append-only log, and the per-process memory that lets a turn skip re-reading and
 * re-writing the messages it already has. The SQLite and PostgreSQL savers share it.
 */
import { type BaseMessage, isBaseMessage } from "@langchain/core/messages";

/** Blob type of a message list stored as ranges over the thread's message log. */
export const MESSAGE_LOG = "message-log";

/**
 * Type of a log row holding several consecutive messages (from its `seq` on), deflated together
 * (see `deflateFrames`); every other row holds one message.
 */
export const MESSAGE_BATCH = "messages+deflate1";

/** `[start, end)` ranges of message sequence numbers, in list order. */
export type Ranges = Array<[number, number]>;

/** A message list to store: each item a known sequence number, or an index into the fresh messages. */
export type ListPlan = Array<{ seq: number } | { fresh: number }>;

/** A stored message as the saver reads it back. */
export interface MessageRow {
  seq: number;
  type: string;
  data: Uint8Array | string;
}

/** Lists of messages are stored in the log; anything else as an ordinary blob. */
export const isMessageList = (value: unknown): value is BaseMessage[] =>
  Array.isArray(value) && value.length > 0 && value.every((item) => isBaseMessage(item));

/** The ranges of a planned list, once fresh messages are numbered from `firstSeq`. */
export function toRanges(plan: ListPlan, firstSeq: number): Ranges {
  const ranges: Ranges = [];
  for (const item of plan) {
    const seq = "seq" in item ? item.seq : firstSeq + item.fresh;
    const last = ranges.at(-1);
    if (last && last[1] === seq) last[1] = seq + 1;
    else ranges.push([seq, seq + 1]);
  }
  return ranges;
}

/** Where a decoded or stored message object lives, so a later checkpoint can reference it. */
interface Origin {
  threadId: string;
  seq: number;
  /** The thread's epoch when recorded; reverting or deleting a thread starts a new one. */
  epoch: number;
  id: string | undefined;
  content: unknown;
}

/**
 * Memory the decoded messages of all threads may take, by default, as `weightOf` estimates it.
 * A count of messages would let a process grow with their sizes; 200,000 messages (the limit
 * before this one) took over a gigabyte of heap for ~560-character messages.
 */
const CACHED_MESSAGE_BYTES = 64 * 1024 * 1024;
/** What a decoded message takes besides its text: the object, its kwargs and metadata, its API dict and JSON. */
const MESSAGE_OVERHEAD_BYTES = 4096;

/** The estimated heap bytes of a decoded message (text at up to two bytes a character). */
function weightOf(message: BaseMessage): number {
  const { content } = message;
  let characters = 0;
  if (typeof content === "string") characters = content.length;
  else {
    for (const part of content as unknown[]) {
      const text = (part as { text?: unknown }).text;
      characters += typeof part === "string" ? part.length : typeof text === "string" ? text.length : JSON.stringify(part).length;
    }
  }
  return MESSAGE_OVERHEAD_BYTES + 2 * characters;
}

/**
 * What a process remembers of the message logs: decoded messages by thread and sequence number
 * (least recently used threads evicted first), and which message objects are already stored.
 * Sequence numbers are never reused, so a cached message can never be stale.
 */
export class MessageLogCache {
  readonly #origins = new WeakMap<object, Origin>();
  /** Per thread: decoded messages by sequence number; Map order is least recently used first. */
  readonly #threads = new Map<string, Map<number, BaseMessage>>();
  /** Per thread: the summed `weightOf` of its cached messages. */
  readonly #weights = new Map<string, number>();
  readonly #epochs = new Map<string, number>();
  readonly #limit: number;
  #weight = 0;

  /** `limitBytes`: the memory all threads' cached messages may take (estimated, see `weightOf`). */
  constructor(limitBytes = CACHED_MESSAGE_BYTES) {
    this.#limit = limitBytes;
  }

  /**
   * How a message list will be stored. Messages already stored or loaded for the thread
   * (recognised by object identity, unchanged id and content) keep their sequence number; the
   * others are appended to `fresh`, to be numbered when the write transaction allocates them.
   */
  plan(threadId: string, messages: readonly BaseMessage[], fresh: BaseMessage[]): ListPlan {
    const epoch = this.#epochs.get(threadId) ?? 0;
    const freshIndex = new Map(fresh.map((message, index) => [message, index]));
    return messages.map((message) => {
      const origin = this.#origins.get(message);
      if (origin && origin.threadId === threadId && origin.epoch === epoch && origin.id === message.id && origin.content === message.content) {
        return { seq: origin.seq };
      }
      let index = freshIndex.get(message);
      if (index === undefined) {
        index = fresh.push(message) - 1;
        freshIndex.set(message, index);
      }
      return { fresh: index };
    });
  }

  /** Records that `message` is stored (or was loaded) as `seq` of the thread. */
  remember(threadId: string, seq: number, message: BaseMessage): void {
    this.#origins.set(message, { threadId, seq, epoch: this.#epochs.get(threadId) ?? 0, id: message.id, content: message.content });
    const cache = this.#thread(threadId);
    const replaced = cache.get(seq);
    const added = weightOf(message) - (replaced ? weightOf(replaced) : 0);
    cache.set(seq, message);
    this.#weight += added;
    this.#weights.set(threadId, (this.#weights.get(threadId) ?? 0) + added);
    // Evict whole threads, least recently used first, but never the one being worked on.
    for (const candidate of this.#threads.keys()) {
      if (this.#weight <= this.#limit || candidate === threadId) break;
      this.#drop(candidate);
    }
  }

  /** The estimated memory the cached messages take, in bytes (see `weightOf`). */
  get weight(): number {
    return this.#weight;
  }

  #drop(threadId: string): void {
    this.#weight -= this.#weights.get(threadId) ?? 0;
    this.#weights.delete(threadId);
    this.#threads.delete(threadId);
  }

  /** Drops what memory holds of a thread whose rows were deleted or replaced. */
  forget(threadId: string): void {
    this.#epochs.set(threadId, (this.#epochs.get(threadId) ?? 0) + 1);
    this.#drop(threadId);
  }

  /**
   * The messages of `ranges`, from memory where possible; a range with any message missing is
   * read with `load` and decoded with `decode`.
   */
  async resolve(
    threadId: string,
    ranges: Ranges,
    load: (start: number, end: number) => Promise<MessageRow[]> | MessageRow[],
    decode: (type: string, data: Uint8Array | string) => Promise<unknown>,
  ): Promise<BaseMessage[]> {
    // Collected locally: a revert on this thread may `forget` the cache while we await a load.
    const found = new Map<number, BaseMessage>();
    for (const [start, end] of ranges) {
      const cache = this.#thread(threadId);
      let complete = true;
      for (let seq = start; seq < end; seq += 1) {
        const message = cache.get(seq);
        if (message) found.set(seq, message);
        else complete = false;
      }
      if (complete) continue;
      const rows = await load(start, end);
      const decoded = await Promise.all(rows.map(async (row) => [row.seq, (await decode(row.type, row.data)) as BaseMessage] as const));
      for (const [seq, message] of decoded) {
        if (found.has(seq)) continue;
        found.set(seq, message);
        this.remember(threadId, seq, message);
      }
    }
    const messages: BaseMessage[] = [];
    for (const [start, end] of ranges) {
      for (let seq = start; seq < end; seq += 1) {
        const message = found.get(seq);
        if (!message) throw new Error(`Message ${seq} of thread ${threadId} is missing from the checkpoint store`);
        messages.push(message);
      }
    }
    return messages;
  }

  #thread(threadId: string): Map<number, BaseMessage> {
    let cache = this.#threads.get(threadId);
    if (cache) this.#threads.delete(threadId);
    else cache = new Map();
    this.#threads.set(threadId, cache);
    return cache;
  }
}
