/**
 * State writes by clients (`POST /threads/{id}/state`), told to the thread streams joined on
 * this instance that asked for them (`stream_mode=state_update`). In memory: a write made through
 * another instance reaches only the streams joined there.
 */

/** What a thread stream is told of a state write: the values written, as which node, and the checkpoint made. */
export interface StateUpdate {
  values: unknown;
  as_node: string;
  checkpoint: unknown;
}

/** Listeners by thread. */
export class StateUpdates {
  readonly #listeners = new Map<string, Set<(update: StateUpdate) => void>>();

  /** Tells every listener of `threadId` about a write. */
  publish(threadId: string, update: StateUpdate): void {
    for (const listener of this.#listeners.get(threadId) ?? []) listener(update);
  }

  /** Calls `listener` on each write to `threadId` until the returned function is called. */
  subscribe(threadId: string, listener: (update: StateUpdate) => void): () => void {
    const listeners = this.#listeners.get(threadId) ?? new Set();
    listeners.add(listener);
    this.#listeners.set(threadId, listeners);
    return () => {
      listeners.delete(listener);
      if (listeners.size === 0 && this.#listeners.get(threadId) === listeners) this.#listeners.delete(threadId);
    };
  }
}
