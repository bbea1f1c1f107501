/**
 * A timeout as an abort signal that can be called off. `AbortSignal.timeout` cannot: its timer
 * lives until it fires, and with it the async context it was made in (LangChain's run tree, the
 * graph's loop and state), so every model call kept its whole run in memory for the full
 * timeout, long after it had answered: thousands of runs on a busy server.
 */
export interface Deadline {
  /** Aborts with a `TimeoutError` DOMException, as `AbortSignal.timeout`'s does. */
  readonly signal: AbortSignal;
  /** Calls the timeout off (the signal never aborts); idempotent. */
  clear(): void;
}

/** A deadline `ms` from now. Its timer does not keep the process alive. */
export function deadline(ms: number): Deadline {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new DOMException(`The operation timed out after ${ms} ms`, "TimeoutError")), ms);
  timer.unref();
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}

/** Runs `work` with a signal that aborts after `ms` (or when `signal` does), the timer cleared when it settles. */
export async function withDeadline<T>(ms: number, signal: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const timeout = deadline(ms);
  try {
    return await work(signal ? AbortSignal.any([signal, timeout.signal]) : timeout.signal);
  } finally {
    timeout.clear();
  }
}
