/**
 * The runs this process knows by id: queued and running ones, and finished ones for a while, so
 * that a client can still join them (their event logs can be large, hence the limits).
 */
import type { RunHandle } from "./run-handle.js";

/** Finished runs stay joinable this long, and at most this many. */
const FINISHED_RUN_TTL_MS = 60_000;
const FINISHED_RUNS_KEPT = 50;

/** Runs by id; finished ones are forgotten after FINISHED_RUN_TTL_MS, or sooner beyond FINISHED_RUNS_KEPT. */
export class RunRegistry {
  readonly #handles = new Map<string, RunHandle>();

  get(runId: string): RunHandle | undefined {
    return this.#handles.get(runId);
  }

  has(runId: string): boolean {
    return this.#handles.has(runId);
  }

  add(handle: RunHandle): void {
    this.#handles.set(handle.run.runId, handle);
  }

  delete(runId: string): void {
    this.#handles.delete(runId);
  }

  /** Every run not finished yet. */
  unfinished(): RunHandle[] {
    return [...this.#handles.values()].filter((handle) => !handle.finished);
  }

  /** Drops finished runs older than the TTL, and the oldest beyond the count limit. */
  forgetOldRuns(): void {
    const now = Date.now();
    const finished = [...this.#handles.values()].filter((handle) => handle.finishedAt !== undefined);
    const excess = finished.length - FINISHED_RUNS_KEPT;
    for (const [index, handle] of finished.entries()) {
      if (index < excess || now - (handle.finishedAt as number) > FINISHED_RUN_TTL_MS) this.#handles.delete(handle.run.runId);
    }
  }
}
