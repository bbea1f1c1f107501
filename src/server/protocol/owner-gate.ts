/**
 * Whether a stream may pass on a thread's events to its caller. A protocol stream may be opened
 * before its thread exists (the client chose its id, `run.start` creates it), so the owner is
 * checked when the first event comes, and again now and then: a thread deleted and created anew
 * by another owner under the same id must not reach this caller.
 */
import type { Storage } from "../../storage/storage.js";

/** How long an answer holds while events flow. */
const RECHECK_MS = 5_000;

export class OwnerGate {
  #checkedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly storage: Storage,
    private readonly threadId: string,
    private readonly owner: string | undefined,
    /** The thread was found for the owner when the stream opened. */
    visibleAtOpen: boolean,
  ) {
    if (visibleAtOpen) this.#checkedAt = Date.now();
  }

  /** True while the thread is the caller's; false ends the stream. */
  async allows(): Promise<boolean> {
    if (Date.now() - this.#checkedAt < RECHECK_MS) return true;
    const visible = (await this.storage.threads.getThread(this.threadId, this.owner)) !== null;
    if (visible) this.#checkedAt = Date.now();
    return visible;
  }
}
