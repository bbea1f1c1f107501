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
  /**
   * Empties the relay when no instance that beat within `staleMs` is left: nobody can join a
   * run any more, and deleted rows would leave their space behind in the database's files.
   * Called by an instance that stops cleanly, after it removed itself.
   */
  clearIfNoInstanceLeft(staleMs: number): Promise<void>;
}
