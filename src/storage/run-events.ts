/** Run events relayed through a database that several instances share. */

/** A run event as relayed through the database to other instances. */
export interface StoredRunEvent {
  seq: number;
  event: string;
  /** The event's data as JSON text. */
  data: string;
}

/**
 * Stores that several instances share relay run events through the database, so a run's stream
 * can be joined from an instance that does not execute it.
 */
export interface RunEventStore {
  /** Creates or migrates the tables; idempotent. */
  setup(): Promise<void>;
  appendRunEvents(runId: string, events: StoredRunEvent[]): Promise<void>;
  runEventsAfter(runId: string, afterSeq: number): Promise<StoredRunEvent[]>;
  /** Deletes relayed events older than `olderThanMs`. */
  pruneRunEvents(olderThanMs: number): Promise<void>;
}
