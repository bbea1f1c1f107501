/**
 * What the SQLite and PostgreSQL message-log savers share: turning a checkpoint into rows to
 * write (blobs per changed channel, fresh messages, ranges), and rows read back into a
 * `CheckpointTuple`. The subclasses only run SQL.
 */
import { type BaseMessage, isBaseMessage } from "@langchain/core/messages";
import type { RunnableConfig } from "@langchain/core/runnables";
import {
  BaseCheckpointSaver,
  type ChannelVersions,
  type Checkpoint,
  type CheckpointListOptions,
  type CheckpointMetadata,
  type CheckpointPendingWrite,
  type CheckpointTuple,
  type PendingWrite,
  type SerializerProtocol,
  WRITES_IDX_MAP,
  copyCheckpoint,
  maxChannelVersion,
  TASKS,
} from "@langchain/langgraph-checkpoint";
import type { RevertibleCheckpointer, ThreadHead } from "../checkpointer.js";
import { DeflatingSerializer, deflateFrames, deflateTyped, inflateFrames, packJson, unpackJson } from "../compression.js";
import { searchableText } from "../message-text.js";
import { deepEqual } from "./deep-equal.js";
import { type ListPlan, MESSAGE_BATCH, MESSAGE_LOG, MessageLogCache, type MessageRow, type Ranges, isMessageList, toRanges } from "./log.js";
import { VersionClock } from "./version-clock.js";

/** Blob type of a channel that was cleared, as earlier releases wrote it (now a version with no row says so). */
export const EMPTY = "empty";

/** A stored checkpoint as both backends read it. */
export interface CheckpointRow {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  /** JSON text (SQLite rows of earlier releases), or what `packJson` wrote. */
  checkpoint: string | Uint8Array;
  metadata_type: string;
  metadata: Uint8Array;
}

/** A stored blob or pending write as both backends read it. */
export interface BlobRow {
  channel: string;
  type: string;
  blob: Uint8Array | null;
}
export interface WriteRow extends BlobRow {
  task_id: string;
}

/** Everything `put` writes, serialised before the write transaction. */
export interface PreparedPut {
  threadId: string;
  namespace: string;
  parentId: string | null;
  checkpointId: string;
  /** The checkpoint without its channel values. */
  checkpoint: Omit<Checkpoint, "channel_values">;
  metadataType: string;
  metadata: Uint8Array;
  /** Values small enough to be stored in the checkpoint's own row: `[type, text]` by channel. */
  inline: Record<string, [string, string]>;
  /** `[channel, version, type, bytes]` of the changed channels that are not message lists, too large to inline. */
  blobs: Array<[string, string, string, Uint8Array | null]>;
  /** The changed message lists. */
  lists: Array<{ channel: string; version: string; plan: ListPlan }>;
  /** Messages to append to the log, in order. */
  fresh: BaseMessage[];
  /** The log rows that hold them: the first one's index in `fresh` (its seq once `fresh` is numbered), its type and bytes. */
  messageRows: Array<{ at: number; type: string; data: Uint8Array }>;
  /** The searchable text of the fresh messages that have one (see message-text.ts), by index in `fresh`. */
  texts: Array<{ at: number; text: string }>;
  /** The checkpoint as stored, once `rowsOf` made it. */
  stored?: StoredCheckpointJson;
}

/**
 * Values whose serialised form is at most this long are stored in every checkpoint that has
 * them, in the checkpoint's row, rather than once per version in a row of their own: a row of
 * its own (keys and index entry) costs more than such a value, and reading needs no lookup.
 */
const INLINE_LIMIT = 128;

/** Most messages one log row holds. */
const MESSAGES_PER_ROW = 16;

/** Log rows as one row per message (a row of several is split), those of `[start, end)` only. */
export function messagesOf(rows: MessageRow[], start: number, end: number): MessageRow[] {
  const messages: MessageRow[] = [];
  for (const row of rows) {
    const seq = Number(row.seq);
    if (row.type !== MESSAGE_BATCH) messages.push({ ...row, seq });
    else for (const [index, [type, data]] of inflateFrames(Buffer.from(row.data)).entries()) messages.push({ seq: seq + index, type, data });
  }
  return messages.filter((message) => message.seq >= start && message.seq < end);
}

/** Threads whose newest checkpoint written here is kept in memory, as the next put's parent. */
const LAST_WRITTEN_THREADS = 10_000;

/** How a checkpoint is stored: its JSON without channel values, with the inline values beside. */
export interface StoredCheckpointJson extends Omit<Checkpoint, "channel_values"> {
  /** `[type, text]` by channel (rows of earlier releases have none: every value is a blob). */
  inline_values?: Record<string, [string, string]>;
}

/** Filters of `list` as SQL clauses with `?` placeholders, for either backend to render. */
export interface ListQuery {
  clauses: Array<[clause: string, value: unknown]>;
  /** Applied in SQL only when there is no metadata filter (which is checked after decoding). */
  limit: number | undefined;
}

export type { ThreadHead } from "../checkpointer.js";

/** A stored checkpoint's JSON (without its channel values), as either backend wrote it. */
export const readCheckpoint = (data: string | Uint8Array) => unpackJson(data) as StoredCheckpointJson;

/** The `[channel, version]` of a stored checkpoint whose values are in blob rows (not inline). */
export function blobVersions(stored: StoredCheckpointJson): Array<[string, string]> {
  const inline = stored.inline_values ?? {};
  return Object.entries(stored.channel_versions)
    .filter(([channel]) => !(channel in inline))
    .map(([channel, version]) => [channel, String(version)]);
}

/**
 * Times `getTuple` reads a tuple whose checkpoint vanished under it (deleted or reverted); the
 * last failure is thrown, since deletes do not race every read.
 */
const READS_OF_A_VANISHING_CHECKPOINT = 3;

/**
 * Threads by their head checkpoints (`checkpoint` as stored), the most recently written first,
 * up to `limit`: the write time is inside the stored JSON, which SQL cannot read once deflated.
 */
export function newestThreads(heads: Array<{ thread_id: string; checkpoint_id: string; checkpoint: string | Uint8Array }>, limit: number | undefined): ThreadHead[] {
  return heads
    .map((head) => ({ threadId: head.thread_id, checkpointId: head.checkpoint_id, updatedAt: new Date(readCheckpoint(head.checkpoint).ts) }))
    .sort((left, right) => right.updatedAt.getTime() - left.updatedAt.getTime() || (left.threadId < right.threadId ? -1 : left.threadId > right.threadId ? 1 : 0))
    .slice(0, limit === undefined ? undefined : Math.max(0, Math.floor(limit)));
}

export abstract class MessageLogSaver extends BaseCheckpointSaver implements RevertibleCheckpointer {
  protected readonly messages = new MessageLogCache();
  readonly #versions = new VersionClock();
  /** The serialiser as given: inline values are stored as it writes them. */
  readonly #plain: SerializerProtocol;
  readonly #lastWritten = new Map<string, Map<string, { checkpointId: string; stored: StoredCheckpointJson }>>();

  /**
   * `serde` (LangGraph's JSON serialiser by default) writes every message, value and write; its
   * output is deflated when that makes it smaller (see `compression.ts`), and rows written before
   * that, or left plain, read as they are.
   */
  constructor(serde?: SerializerProtocol) {
    super();
    this.#plain = serde ?? this.serde;
    this.serde = new DeflatingSerializer(this.#plain);
  }

  /** Increasing, and unique across the branches of a thread (see `VersionClock`). */
  override getNextVersion(current: number | undefined): number {
    return this.#versions.next(current);
  }

  /** Each thread's newest checkpoint written here (least recently written threads first): the next one's parent, mostly. */
  #rememberWritten(threadId: string, namespace: string, checkpointId: string, stored: StoredCheckpointJson): void {
    const namespaces = this.#lastWritten.get(threadId) ?? new Map<string, { checkpointId: string; stored: StoredCheckpointJson }>();
    this.#lastWritten.delete(threadId);
    namespaces.set(namespace, { checkpointId, stored });
    this.#lastWritten.set(threadId, namespaces);
    if (this.#lastWritten.size > LAST_WRITTEN_THREADS) this.#lastWritten.delete(this.#lastWritten.keys().next().value as string);
  }

  /** Drops what memory holds of a thread whose rows were deleted or replaced. */
  protected forgetThread(threadId: string): void {
    this.messages.forget(threadId);
    this.#lastWritten.delete(threadId);
  }

  abstract headCheckpointId(threadId: string): Promise<string | undefined>;
  abstract revertThread(threadId: string, head: string | undefined): Promise<void>;
  abstract pruneThread(threadId: string): Promise<void>;
  abstract copyThread(fromThreadId: string, toThreadId: string): Promise<void>;
  abstract close(): Promise<void>;
  abstract setup(): Promise<void>;
  /**
   * Every thread that has a root checkpoint, the most recently written first, up to `limit`.
   * Reads no channel values, unlike `list({})`, which decodes every checkpoint of every thread.
   */
  abstract listThreads(options?: { limit?: number }): Promise<ThreadHead[]>;

  /**
   * Splits and serialises a checkpoint for `put`; the message lists wait for their numbers.
   * Only changed channels are written, each value inline (small: in the checkpoint's row) or as
   * a blob (a row of its own, once per version). An unchanged channel's value stays where its
   * version was stored: in a blob row, or inline in the parent, whose entry this row repeats
   * (so reading any checkpoint needs its own row and its blobs, never another checkpoint's row).
   */
  protected async preparePut(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<PreparedPut> {
    const configurable = config.configurable ?? {};
    if (configurable.thread_id === undefined) throw new Error('Missing "thread_id" field in passed "config.configurable".');
    const threadId = String(configurable.thread_id);
    const namespace: string = configurable.checkpoint_ns ?? "";
    const parentId: string | null = configurable.checkpoint_id ?? null;
    const { channel_values: values, ...rest } = copyCheckpoint(checkpoint);
    const inline: PreparedPut["inline"] = {};
    const blobs: PreparedPut["blobs"] = [];
    const lists: PreparedPut["lists"] = [];
    const fresh: BaseMessage[] = [];
    for (const [channel, version] of Object.entries(newVersions)) {
      const value = values[channel];
      // A cleared channel needs no row: a version with no value reads as no value, as the
      // `EMPTY` rows of earlier releases do (most blob rows were those).
      if (value === undefined) continue;
      if (isMessageList(value)) {
        lists.push({ channel, version: String(version), plan: this.messages.plan(threadId, value, fresh) });
        continue;
      }
      const [type, bytes] = await this.#plain.dumpsTyped(value);
      if (type === "json" && bytes.byteLength <= INLINE_LIMIT) inline[channel] = [type, Buffer.from(bytes).toString("utf8")];
      else blobs.push([channel, String(version), ...deflateTyped(type, bytes)]);
    }
    const unchanged = Object.entries(rest.channel_versions).filter(([channel]) => !(channel in newVersions));
    if (unchanged.length > 0 && parentId !== null) {
      const parent = await this.#storedParent(threadId, namespace, parentId);
      for (const [channel, version] of unchanged) {
        const entry = parent?.inline_values?.[channel];
        if (entry && String(parent.channel_versions[channel]) === String(version)) inline[channel] = entry;
      }
    }
    const messageRows = this.#messageRows(await Promise.all(fresh.map((message) => this.#plain.dumpsTyped(message))), 0);
    const texts = fresh.flatMap((message, at) => {
      const text = searchableText(message);
      return text === undefined ? [] : [{ at, text }];
    });
    // As the official server stores them: the run's metadata (config.metadata: what the client
    // gave, plus run, thread, assistant and graph ids) under the step's own, so that a history
    // can be filtered by a run's metadata.
    const [metadataType, metadataBytes] = await this.serde.dumpsTyped({ ...config.metadata, ...metadata });
    return {
      threadId,
      namespace,
      parentId,
      checkpointId: checkpoint.id,
      checkpoint: rest,
      metadataType,
      metadata: metadataBytes,
      inline,
      blobs,
      lists,
      fresh,
      messageRows,
      texts,
    };
  }

  /**
   * The searchable text of the messages stored in log `rows` (a row of several messages split),
   * each with its sequence number and the `seq` and checkpoint of the row that holds it: what a
   * thread written before the text index existed is indexed with.
   */
  protected async textsOf(rows: Array<MessageRow & { checkpoint_id: string }>): Promise<Array<{ seq: number; rowSeq: number; checkpointId: string; text: string }>> {
    const texts: Array<{ seq: number; rowSeq: number; checkpointId: string; text: string }> = [];
    for (const row of rows) {
      const rowSeq = Number(row.seq);
      const frames = row.type === MESSAGE_BATCH ? inflateFrames(Buffer.from(row.data)) : [[row.type, row.data] as const];
      for (const [index, [type, data]] of frames.entries()) {
        const message = await this.serde.loadsTyped(type, data);
        const text = isBaseMessage(message) ? searchableText(message) : undefined;
        if (text !== undefined) texts.push({ seq: rowSeq + index, rowSeq, checkpointId: row.checkpoint_id, text });
      }
    }
    return texts;
  }

  /**
   * Indexes the text of up to `limit` threads whose messages were stored before the text index
   * existed (those its migration listed as pending); returns how many it indexed, 0 when none is
   * left. Safe beside turns and other instances doing the same: rows already there are kept, and
   * a message deleted meanwhile (a reverted run) is not indexed.
   */
  abstract indexMessageText(limit: number): Promise<number>;

  /**
   * Log rows for serialised messages numbered from `at`: consecutive messages share a row while
   * it stays within `messageRowBytes` (a turn's question and answer, usually), else one row each.
   */
  #messageRows(serialised: Array<[string, Uint8Array]>, at: number): PreparedPut["messageRows"] {
    if (serialised.length === 0) return [];
    if (serialised.length === 1) {
      const [type, data] = deflateTyped(...serialised[0]!);
      return [{ at, type, data }];
    }
    if (this.messageRowBytes !== undefined && serialised.length <= MESSAGES_PER_ROW) {
      const data = deflateFrames(serialised);
      if (data.byteLength <= this.messageRowBytes) return [{ at, type: MESSAGE_BATCH, data }];
    }
    const half = Math.ceil(serialised.length / 2);
    return [...this.#messageRows(serialised.slice(0, half), at), ...this.#messageRows(serialised.slice(half), at + half)];
  }

  /**
   * Most bytes a log row of several messages may take (within the backend's limit for a row kept
   * whole in its table's page, past which PostgreSQL moves values to TOAST); `undefined` for one
   * message per row.
   */
  protected abstract readonly messageRowBytes: number | undefined;

  /** The stored JSON of checkpoint `checkpointId`, from memory when this process wrote it last. */
  async #storedParent(threadId: string, namespace: string, checkpointId: string): Promise<StoredCheckpointJson | undefined> {
    const last = this.#lastWritten.get(threadId)?.get(namespace);
    if (last?.checkpointId === checkpointId) return last.stored;
    return this.loadStoredCheckpoint(threadId, namespace, checkpointId);
  }

  /** The stored JSON of one checkpoint (see `readCheckpoint`), or `undefined` when there is none. */
  protected abstract loadStoredCheckpoint(threadId: string, namespace: string, checkpointId: string): Promise<StoredCheckpointJson | undefined>;

  /**
   * The rows of a prepared put once its fresh messages are numbered from `firstSeq`: the
   * checkpoint's own (as `packJson` writes it, inline values included) and its blobs.
   */
  protected rowsOf(prepared: PreparedPut, firstSeq: number): { checkpoint: Buffer; blobs: Array<[string, string, string, Uint8Array | null]> } {
    const inline = { ...prepared.inline };
    const blobs = [...prepared.blobs];
    for (const { channel, version, plan } of prepared.lists) {
      const ranges = JSON.stringify(toRanges(plan, firstSeq));
      if (ranges.length <= INLINE_LIMIT) inline[channel] = [MESSAGE_LOG, ranges];
      else blobs.push([channel, version, MESSAGE_LOG, Buffer.from(ranges)]);
    }
    const stored: StoredCheckpointJson = Object.keys(inline).length > 0 ? { ...prepared.checkpoint, inline_values: inline } : prepared.checkpoint;
    prepared.stored = stored;
    return { checkpoint: packJson(stored), blobs };
  }

  /** After the write committed: remembers the fresh messages and the checkpoint, and answers `put`. */
  protected finishPut(prepared: PreparedPut, firstSeq: number): RunnableConfig {
    for (const [index, message] of prepared.fresh.entries()) this.messages.remember(prepared.threadId, firstSeq + index, message);
    if (prepared.stored) this.#rememberWritten(prepared.threadId, prepared.namespace, prepared.checkpointId, prepared.stored);
    return { configurable: { thread_id: prepared.threadId, checkpoint_ns: prepared.namespace, checkpoint_id: prepared.checkpointId } };
  }

  /** Serialises pending writes; `replace` says whether they overwrite (special writes) or are written once. */
  protected async prepareWrites(config: RunnableConfig, writes: PendingWrite[]) {
    const configurable = config.configurable ?? {};
    if (configurable.thread_id === undefined) throw new Error("Missing thread_id field in config.configurable.");
    if (configurable.checkpoint_id === undefined) throw new Error("Missing checkpoint_id field in config.configurable.");
    const rows = await Promise.all(
      writes.map(async ([channel, value], index) => {
        const [type, bytes] = await this.serde.dumpsTyped(value);
        return { idx: WRITES_IDX_MAP[channel] ?? index, channel, type, bytes };
      }),
    );
    return {
      threadId: String(configurable.thread_id),
      namespace: (configurable.checkpoint_ns as string | undefined) ?? "",
      checkpointId: configurable.checkpoint_id as string,
      // Special writes (errors, interrupts) replace; ordinary ones are written once per task.
      replace: writes.every(([channel]) => channel in WRITES_IDX_MAP),
      rows,
    };
  }

  /** The filters of `list` as clauses. */
  protected listQuery(config: RunnableConfig, options: CheckpointListOptions): ListQuery {
    const configurable = config.configurable ?? {};
    const clauses: ListQuery["clauses"] = [];
    if (configurable.thread_id !== undefined) clauses.push(["thread_id = ?", String(configurable.thread_id)]);
    if (configurable.checkpoint_ns !== undefined && configurable.checkpoint_ns !== null) clauses.push(["checkpoint_ns = ?", configurable.checkpoint_ns]);
    if (configurable.checkpoint_id !== undefined) clauses.push(["checkpoint_id = ?", configurable.checkpoint_id]);
    if (options.before?.configurable?.checkpoint_id !== undefined) clauses.push(["checkpoint_id < ?", options.before.configurable.checkpoint_id]);
    const filtered = Object.values(options.filter ?? {}).some((value) => value !== undefined);
    return { clauses, limit: filtered || options.limit === undefined ? undefined : Math.max(0, Math.floor(options.limit)) };
  }

  async getTuple(config: RunnableConfig): Promise<CheckpointTuple | undefined> {
    await this.setup();
    for (let attempt = 1; ; attempt += 1) {
      const row = await this.checkpointRow(config);
      if (!row) return undefined;
      const tuple = await this.tupleUnlessGone(row, attempt < READS_OF_A_VANISHING_CHECKPOINT);
      // Undefined: deleted or reverted while it was read; read again what is there now.
      if (tuple) return tuple;
    }
  }

  /** The row of the checkpoint `config` names, or of its thread's newest. */
  protected abstract checkpointRow(config: RunnableConfig): Promise<CheckpointRow | undefined>;
  /** The tuple of a checkpoint row: its blobs, writes and messages read (see `buildTuple`). */
  protected abstract toTuple(row: CheckpointRow): Promise<CheckpointTuple>;

  /**
   * The tuple of `row`; `undefined` when reading it failed because the checkpoint was deleted
   * (its thread deleted, or a run reverted) between its row and its messages: the reads of a
   * tuple are separate statements, and other work on the thread may run between them. A
   * checkpoint still there whose parts are missing is an error; so is a vanished one when
   * `mayVanish` is false (a delete racing every read).
   */
  protected async tupleUnlessGone(row: CheckpointRow, mayVanish = true): Promise<CheckpointTuple | undefined> {
    try {
      return await this.toTuple(row);
    } catch (error) {
      if (!mayVanish) throw error;
      // Read on failure only: whether the checkpoint is still stored.
      const now = await this.checkpointRow({ configurable: { thread_id: row.thread_id, checkpoint_ns: row.checkpoint_ns, checkpoint_id: row.checkpoint_id } });
      if (now) throw error;
      return undefined;
    }
  }

  /**
   * Tuples of `rows` (newest first) that pass the metadata filter, up to the limit; a row whose
   * checkpoint has gone since it was listed is left out, as a later read would.
   */
  protected async *tuplesOf(rows: CheckpointRow[], options: CheckpointListOptions): AsyncGenerator<CheckpointTuple> {
    const wanted = Object.entries(options.filter ?? {}).filter(([, value]) => value !== undefined);
    let yielded = 0;
    for (const row of rows) {
      if (options.limit !== undefined && yielded >= options.limit) return;
      if (wanted.length > 0) {
        const metadata = (await this.serde.loadsTyped(row.metadata_type, row.metadata)) as Record<string, unknown>;
        if (!wanted.every(([key, value]) => deepEqual(metadata?.[key], value))) continue;
      }
      const tuple = await this.tupleUnlessGone(row);
      if (!tuple) continue;
      yielded += 1;
      yield tuple;
    }
  }

  /**
   * Builds a tuple from a checkpoint row (its JSON read with `readCheckpoint`), its blobs (those
   * of `blobVersions`) and pending writes. `loadMessages` reads the log rows of a range, from the
   * last row starting at or before its start (which may hold several messages); `loadSends` reads
   * a parent's `Send`s, which checkpoints of format < 4 kept
   * as writes and current LangGraph expects in the `__pregel_tasks` channel.
   */
  protected async buildTuple(
    row: CheckpointRow,
    storedJson: StoredCheckpointJson,
    blobs: BlobRow[],
    writes: WriteRow[],
    loadMessages: (start: number, end: number) => Promise<MessageRow[]> | MessageRow[],
    loadSends: () => Promise<BlobRow[]> | BlobRow[],
  ): Promise<CheckpointTuple> {
    const { inline_values: inline = {}, ...stored } = storedJson;
    const channelValues: Record<string, unknown> = {};
    // Rows from the one holding `start` on: a row of several messages may begin before it.
    const load = async (start: number, end: number) => messagesOf(await loadMessages(start, end), start, end);
    const decode = async (type: string, data: Uint8Array | string) =>
      type === MESSAGE_LOG
        ? this.messages.resolve(row.thread_id, JSON.parse(Buffer.from(data).toString()) as Ranges, load, (messageType, messageData) =>
            this.serde.loadsTyped(messageType, messageData),
          )
        : this.serde.loadsTyped(type, data);
    for (const [channel, [type, text]] of Object.entries(inline)) channelValues[channel] = await decode(type, text);
    for (const blob of blobs) {
      if (blob.type !== EMPTY) channelValues[blob.channel] = await decode(blob.type, blob.blob ?? "");
    }
    const pendingWrites: CheckpointPendingWrite[] = await Promise.all(
      writes.map(async (write) => [write.task_id, write.channel, await this.serde.loadsTyped(write.type, write.blob ?? "")] as CheckpointPendingWrite),
    );
    if (stored.v < 4 && row.parent_checkpoint_id) {
      const sends = await loadSends();
      channelValues[TASKS] = await Promise.all(sends.map((send) => this.serde.loadsTyped(send.type, send.blob ?? "")));
      const versions = Object.values(stored.channel_versions);
      stored.channel_versions[TASKS] = versions.length > 0 ? maxChannelVersion(...versions) : this.getNextVersion(undefined);
    }
    const configurable = { thread_id: row.thread_id, checkpoint_ns: row.checkpoint_ns };
    return {
      config: { configurable: { ...configurable, checkpoint_id: row.checkpoint_id } },
      checkpoint: { ...stored, channel_values: channelValues } as Checkpoint,
      metadata: (await this.serde.loadsTyped(row.metadata_type, row.metadata)) as CheckpointMetadata,
      parentConfig: row.parent_checkpoint_id ? { configurable: { ...configurable, checkpoint_id: row.parent_checkpoint_id } } : undefined,
      pendingWrites,
    };
  }
}
