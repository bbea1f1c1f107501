/**
 * The events of the agent streaming protocol, kept per thread in the database: numbered across
 * the thread's runs, so a client that reconnects with `since` gets what it missed, after a
 * restart or from another instance. Only the newest runs' events are kept (see `prune`): older
 * turns are in the thread's state, and a `values` event repeats the whole state each step.
 */

/** One protocol event of a thread, as stored. */
export interface StoredThreadEvent {
  /** Its number on the thread, from 1, increasing across runs. */
  seq: number;
  /** The run that produced it. */
  runId: string;
  /** The whole event as JSON text, `seq` and `event_id` included. */
  event: string;
}

/** The protocol events of every thread; a thread's are deleted with it. */
export interface ThreadEventStore {
  /** Stores events of one thread (numbers already taken are left as they are). */
  appendThreadEvents(threadId: string, events: readonly StoredThreadEvent[]): Promise<void>;
  /** The thread's events numbered above `afterSeq`, oldest first, at most `limit` of them. */
  threadEventsAfter(threadId: string, afterSeq: number, limit: number): Promise<StoredThreadEvent[]>;
  /** The highest number the thread's events reached; 0 when it has none. */
  lastThreadSeq(threadId: string): Promise<number>;
  /**
   * Keeps only the events of the thread's newest run (called before the next run writes its
   * own): a client that missed more than that reads the thread's state instead.
   */
  pruneThreadEvents(threadId: string): Promise<void>;
  /**
   * Deletes the events of one run (a run rolled back leaves nothing behind) but its last, its
   * end: the thread's numbering must go on from there, or clients that saw the run would take
   * the next run's events, numbered the same, for ones they already have.
   */
  deleteRunEvents(threadId: string, runId: string): Promise<void>;
}
