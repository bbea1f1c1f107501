/**
 * Channel versions for the message-log savers. They must increase, and must also differ between
 * two branches forked from one checkpoint, or both would write the same (channel, version) blob.
 * A microsecond clock that never repeats within the process gives both.
 */
export class VersionClock {
  #last = 0;

  /** The version after `current` (a number, or a numeric string from older checkpoints). */
  next(current: number | string | undefined): number {
    const previous = typeof current === "number" ? current : Number.parseInt(String(current ?? 0), 10) || 0;
    this.#last = Math.max(previous + 1, Date.now() * 1000, this.#last + 1);
    return this.#last;
  }
}
