/**
 * What the SQLite and PostgreSQL message-log savers share: turning a checkpoint into rows to
 * write (blobs per changed channel, fresh messages, ranges), and rows read back into a
 * `CheckpointTuple`. The subclasses only run SQL.
 */
import type { BaseMessage } from "@langchain/core/messages";
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
  WRITES_IDX_MAP,
  copyCheckpoint,
  maxChannelVersion,
  TASKS,
} from "@langchain/langgraph-checkpoint";
import type { RevertibleCheckpointer, ThreadHead } from "../checkpointer.js";
import { deepEqual } from "./deep-equal.js";
import { type ListPlan, MESSAGE_LOG, MessageLogCache, type MessageRow, type Ranges, isMessageList, toRanges } from "./log.js";
import { VersionClock } from "./version-clock.js";

/** Blob type of a channel that was cleared. */
export const EMPTY = "empty";

/** A stored checkpoint as both backends read it. */
export interface CheckpointRow {
  thread_id: string;
  checkpoint_ns: string;
  checkpoint_id: string;
  parent_checkpoint_id: string | null;
  checkpoint: string;
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
  /** The checkpoint without its channel values, as JSON. */
  checkpoint: string;
  metadataType: string;
  metadata: Uint8Array;
  /** `[channel, version, type, bytes]` of the changed channels that are not message lists. */
  blobs: Array<[string, string, string, Uint8Array | null]>;
  lists: Array<{ channel: string; version: string; plan: ListPlan }>;
  /** Messages to append to the log, in order, and their serialised `[type, bytes]`. */
  fresh: BaseMessage[];
  freshRows: Array<[string, Uint8Array]>;
}

/** Filters of `list` as SQL clauses with `?` placeholders, for either backend to render. */
export interface ListQuery {
  clauses: Array<[clause: string, value: unknown]>;
  /** Applied in SQL only when there is no metadata filter (which is checked after decoding). */
  limit: number | undefined;
}

export type { ThreadHead } from "../checkpointer.js";

export abstract class MessageLogSaver extends BaseCheckpointSaver implements RevertibleCheckpointer {
  protected readonly messages = new MessageLogCache();
  readonly #versions = new VersionClock();

  /** Increasing, and unique across the branches of a thread (see `VersionClock`). */
  override getNextVersion(current: number | undefined): number {
    return this.#versions.next(current);
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

  /** Splits and serialises a checkpoint for `put`; the message lists wait for their numbers. */
  protected async preparePut(config: RunnableConfig, checkpoint: Checkpoint, metadata: CheckpointMetadata, newVersions: ChannelVersions): Promise<PreparedPut> {
    const configurable = config.configurable ?? {};
    if (configurable.thread_id === undefined) throw new Error('Missing "thread_id" field in passed "config.configurable".');
    const threadId = String(configurable.thread_id);
    const { channel_values: values, ...rest } = copyCheckpoint(checkpoint);
    const blobs: PreparedPut["blobs"] = [];
    const lists: PreparedPut["lists"] = [];
    const fresh: BaseMessage[] = [];
    for (const [channel, version] of Object.entries(newVersions)) {
      const value = values[channel];
      if (value === undefined) blobs.push([channel, String(version), EMPTY, null]);
      else if (isMessageList(value)) lists.push({ channel, version: String(version), plan: this.messages.plan(threadId, value, fresh) });
      else {
        const [type, bytes] = await this.serde.dumpsTyped(value);
        blobs.push([channel, String(version), type, bytes]);
      }
    }
    const freshRows = await Promise.all(fresh.map((message) => this.serde.dumpsTyped(message)));
    const [metadataType, metadataBytes] = await this.serde.dumpsTyped(metadata);
    return {
      threadId,
      namespace: configurable.checkpoint_ns ?? "",
      parentId: configurable.checkpoint_id ?? null,
      checkpointId: checkpoint.id,
      checkpoint: JSON.stringify(rest),
      metadataType,
      metadata: metadataBytes,
      blobs,
      lists,
      fresh,
      freshRows,
    };
  }

  /** All blobs of a prepared put, message lists included once fresh messages start at `firstSeq`. */
  protected blobsOf(prepared: PreparedPut, firstSeq: number): Array<[string, string, string, Uint8Array | null]> {
    const lists = prepared.lists.map(
      ({ channel, version, plan }) => [channel, version, MESSAGE_LOG, Buffer.from(JSON.stringify(toRanges(plan, firstSeq)))] as [string, string, string, Uint8Array],
    );
    return [...prepared.blobs, ...lists];
  }

  /** After the write committed: remembers the fresh messages and answers `put`. */
  protected finishPut(prepared: PreparedPut, firstSeq: number): RunnableConfig {
    for (const [index, message] of prepared.fresh.entries()) this.messages.remember(prepared.threadId, firstSeq + index, message);
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

  /** Tuples of `rows` (newest first) that pass the metadata filter, up to the limit. */
  protected async *tuplesOf(rows: CheckpointRow[], options: CheckpointListOptions, toTuple: (row: CheckpointRow) => Promise<CheckpointTuple>): AsyncGenerator<CheckpointTuple> {
    const wanted = Object.entries(options.filter ?? {}).filter(([, value]) => value !== undefined);
    let yielded = 0;
    for (const row of rows) {
      if (options.limit !== undefined && yielded >= options.limit) return;
      if (wanted.length > 0) {
        const metadata = (await this.serde.loadsTyped(row.metadata_type, row.metadata)) as Record<string, unknown>;
        if (!wanted.every(([key, value]) => deepEqual(metadata?.[key], value))) continue;
      }
      yielded += 1;
      yield await toTuple(row);
    }
  }

  /**
   * Builds a tuple from a checkpoint row, its blobs and pending writes. `loadMessages` reads log
   * rows of a range; `loadSends` reads a parent's `Send`s, which checkpoints of format < 4 kept
   * as writes and current LangGraph expects in the `__pregel_tasks` channel.
   */
  protected async buildTuple(
    row: CheckpointRow,
    blobs: BlobRow[],
    writes: WriteRow[],
    loadMessages: (start: number, end: number) => Promise<MessageRow[]> | MessageRow[],
    loadSends: () => Promise<BlobRow[]> | BlobRow[],
  ): Promise<CheckpointTuple> {
    const stored = JSON.parse(row.checkpoint) as Omit<Checkpoint, "channel_values">;
    const channelValues: Record<string, unknown> = {};
    for (const blob of blobs) {
      if (blob.type === EMPTY) continue;
      channelValues[blob.channel] =
        blob.type === MESSAGE_LOG
          ? await this.messages.resolve(row.thread_id, JSON.parse(Buffer.from(blob.blob ?? []).toString()) as Ranges, loadMessages, (type, data) =>
              this.serde.loadsTyped(type, data),
            )
          : await this.serde.loadsTyped(blob.type, blob.blob ?? "");
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
