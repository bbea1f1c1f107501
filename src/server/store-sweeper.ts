/**
 * Deletes the store's expired items (`ttl`) in the background, every `intervalMs`, as the
 * instance monitor beats. Reads never return an expired item whether or not it was swept; the
 * sweep frees the space. With several instances each sweeps: the store's sweep is safe when they
 * overlap. A store that keeps no TTL (no `sweepExpired`) is never swept.
 */
import type { Logger } from "../logger.js";
import type { ServiceStore } from "../storage/store-operations.js";

/** Time between sweeps when none is configured (`STORE_SWEEP_MS`'s default). */
export const DEFAULT_STORE_SWEEP_MS = 60_000;

export interface StoreSweeperDeps {
  store: ServiceStore;
  logger: Logger;
  /** Interval between sweeps (`STORE_SWEEP_MS`). */
  intervalMs: number;
}

export class StoreSweeper {
  readonly #deps: StoreSweeperDeps;
  #timer: NodeJS.Timeout | undefined;
  #sweep: Promise<unknown> = Promise.resolve();

  constructor(deps: StoreSweeperDeps) {
    this.#deps = deps;
  }

  /** Sweeps now and then every interval, in the background; does nothing for a store without TTL. */
  start(): void {
    if (!this.#deps.store.sweepExpired || this.#timer) return;
    this.#sweep = this.sweepOnce();
    this.#timer = setInterval(() => {
      // One sweep at a time: a slow database must not pile them up.
      this.#sweep = this.#sweep.then(() => this.sweepOnce());
    }, this.#deps.intervalMs);
    this.#timer.unref();
  }

  /** Deletes what has expired; returns how many items. Failures are logged, never thrown: the next sweep retries. */
  async sweepOnce(): Promise<number> {
    const { store, logger } = this.#deps;
    try {
      const swept = (await store.sweepExpired?.()) ?? 0;
      if (swept > 0) logger.debug({ swept }, "deleted expired store items");
      return swept;
    } catch (error) {
      logger.warn({ err: error }, "could not delete expired store items; the next sweep tries again");
      return 0;
    }
  }

  /** Stops sweeping and waits for a sweep under way; call it before closing the database. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#sweep;
  }
}
