/**
 * Copies a run's events into the database as they happen, in small batches, so that another
 * instance can stream them to a client that joined the run there.
 */
import type { Logger } from "../../logger.js";
import { BatchedWrites } from "../batched-writes.js";
import type { RunEvent } from "../run-stream.js";
import type { RunEventStore, StoredRunEvent } from "../../storage/run-events.js";

/** How long events wait to be written together: a bound on the extra delay for remote followers. */
const FLUSH_MS = 50;

export class EventRelay {
  readonly #writes: BatchedWrites<StoredRunEvent>;

  /** `logger` is the run's (bound to its ids). */
  constructor(storage: RunEventStore, runId: string, logger: Logger) {
    this.#writes = new BatchedWrites(
      (batch) => storage.appendRunEvents(runId, batch),
      (error) => logger.warn({ err: error }, "could not relay run events"),
      FLUSH_MS,
    );
  }

  /** Queues an event; written within FLUSH_MS. */
  add(event: RunEvent): void {
    this.#writes.add({ seq: Number(event.id), event: event.event, data: JSON.stringify(event.data) });
  }

  /** Writes what is left; resolves when every event is stored. */
  close(): Promise<void> {
    return this.#writes.close();
  }
}
