/**
 * Times that strictly increase within the process, so records made in one millisecond still
 * sort in the order they were made ("newest first" lists, queue order).
 */
export class MonotonicClock {
  #last = 0;

  now(): Date {
    this.#last = Math.max(Date.now(), this.#last + 1);
    return new Date(this.#last);
  }
}
