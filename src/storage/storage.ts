/**
 * Everything the service keeps, on one database: the parts share its connection (SQLite) or pool
 * and schema (PostgreSQL), so one backup holds it all. `openStorage` (open-storage.ts) builds one
 * from the configuration; nothing else names a backend.
 */
import type { AssistantRepository } from "./assistants.js";
import type { ServiceCheckpointer } from "./checkpointer.js";
import type { CronRepository } from "./crons.js";
import type { DocumentStore } from "./document-store.js";
import type { LlmCache, LlmCacheOptions } from "./llm-cache.js";
import type { InstanceRepository } from "./instances.js";
import type { RunEventStore } from "./run-events.js";
import type { RunRepository } from "./runs.js";
import type { StorageStore } from "./store.js";
import type { ThreadEventStore } from "./thread-events.js";
import type { ThreadRepository } from "./threads.js";
import type { QueryObserver } from "./query-observer.js";

export type { StorageStore } from "./store.js";

/** The storage of one database. */
export interface Storage {
  readonly backend: "sqlite" | "postgres";
  /** Where the data is, fit for a log line ("Cannot open …"): the SQLite database's folder or file, or PostgreSQL's host, port and database (never a password). */
  readonly location: string;
  /** Checkpoints: each thread's conversation and its history. */
  readonly checkpointer: ServiceCheckpointer;
  /** The service's threads (their messages are the checkpointer's). */
  readonly threads: ThreadRepository;
  /** Assistants and their versions. */
  readonly assistants: AssistantRepository;
  /** Runs, and the lease that gives each thread one run at a time. */
  readonly runs: RunRepository;
  /** Server instances on this database, by heartbeat. */
  readonly instances: InstanceRepository;
  /**
   * Run events relayed to instances that stream a run another one executes: on a database
   * several instances share (PostgreSQL); none where one process owns the file (SQLite).
   */
  readonly runEvents?: RunEventStore;
  /** The agent streaming protocol's events of each thread, kept for clients that reconnect. */
  readonly threadEvents: ThreadEventStore;
  /** Collections of documents and their chunks. */
  readonly documents: DocumentStore;
  /** Runs started on a schedule. */
  readonly crons: CronRepository;
  /**
   * LangGraph's key-value store (`/store`, a graph's `config.store`): every owner's items, with
   * no scoping; the server hands out `scopedStore(store, owner)` views of it.
   */
  readonly store: StorageStore;
  /** A model response cache kept in this database. */
  createLlmCache(options: LlmCacheOptions): LlmCache;
  /** Creates or migrates every part's tables; idempotent, and safe when several instances start at once. */
  setup(): Promise<void>;
  /** Tells `observer` how long each statement and transaction took (the server's metrics); `undefined` stops. */
  observeQueries(observer: QueryObserver | undefined): void;
  /** Closes the database; later calls do nothing. */
  close(): Promise<void>;
}
