/**
 * Writes that may wait a moment to go together: items queued within `flushMs` are written as one
 * batch, batches one after the other, in order. Used where a run's events go to the database for
 * readers on other instances, who can wait that long, while the run goes on meanwhile.
 */
export class BatchedWrites<T> {
  readonly #buffer: T[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly write: (batch: T[]) => Promise<void>,
    /** Called for a batch that failed; the next ones are written all the same. */
    private readonly onError: (error: unknown) => void,
    private readonly flushMs: number,
  ) {}

  /** Queues an item; written within `flushMs`. */
  add(item: T): void {
    this.#buffer.push(item);
    this.#timer ??= setTimeout(() => this.#flush(), this.flushMs);
  }

  /** Writes what is queued; resolves once every batch is written (or failed). */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#flush();
    await this.#writing;
  }

  #flush(): void {
    this.#timer = undefined;
    const batch = this.#buffer.splice(0);
    if (batch.length === 0) return;
    this.#writing = this.#writing.then(() => this.write(batch)).catch(this.onError);
  }
}
