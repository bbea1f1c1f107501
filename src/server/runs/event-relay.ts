/**
 * Copies a run's events into the database as they happen, in small batches, so that another
 * instance can stream them to a client that joined the run there.
 */
import type { Logger } from "../../logger.js";
import type { RunEvent } from "../run-stream.js";
import type { RunEventStore, StoredRunEvent } from "../../storage/run-events.js";

/** How long events wait to be written together: a bound on the extra delay for remote followers. */
const FLUSH_MS = 50;

export class EventRelay {
  readonly #buffer: StoredRunEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly storage: RunEventStore,
    private readonly runId: string,
    private readonly logger: Logger,
  ) {}

  /** Queues an event; written within FLUSH_MS. */
  add(event: RunEvent): void {
    this.#buffer.push({ seq: Number(event.id), event: event.event, data: JSON.stringify(event.data) });
    this.#timer ??= setTimeout(() => this.#flush(), FLUSH_MS);
  }

  /** Writes what is left; resolves when every event is stored. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#flush();
    await this.#writing;
  }

  #flush(): void {
    this.#timer = undefined;
    const batch = this.#buffer.splice(0);
    if (batch.length === 0) return;
    this.#writing = this.#writing
      .then(() => this.storage.appendRunEvents(this.runId, batch))
      .catch((error: unknown) => this.logger.warn({ err: error, runId: this.runId }, "could not relay run events"));
  }
}
