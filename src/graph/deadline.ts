/**
 * The signal of one model call: its caller's (the run's), plus a timeout, both called off once
 * the call settles. Neither `AbortSignal.timeout` nor `AbortSignal.any` can be called off. A
 * timeout's timer keeps the async context it was made in (LangChain's run tree, the graph's loop
 * and state) until it fires; and a composite or timeout signal that has an abort listener is held
 * by Node until it aborts, which the OpenAI client's listener (never removed) made never: every
 * model call kept its run in memory, thousands on a busy server. A plain controller is neither.
 */
export interface Deadline {
  /** Aborts with the caller's reason, or at the deadline with a `TimeoutError` DOMException. */
  readonly signal: AbortSignal;
  /** Whether the deadline passed (rather than the caller aborting). */
  readonly timedOut: boolean;
  /** Calls the timeout off and lets go of the caller's signal; idempotent. */
  clear(): void;
}

/** A deadline `ms` from now, that also aborts when `caller` does. Its timer does not keep the process alive. */
export function deadline(ms: number, caller?: AbortSignal): Deadline {
  const controller = new AbortController();
  let timedOut = false;
  const onCallerAbort = () => controller.abort(caller?.reason);
  if (caller?.aborted) onCallerAbort();
  else caller?.addEventListener("abort", onCallerAbort, { once: true });
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new DOMException(`The operation timed out after ${ms} ms`, "TimeoutError"));
  }, ms);
  timer.unref();
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    clear: () => {
      clearTimeout(timer);
      caller?.removeEventListener("abort", onCallerAbort);
    },
  };
}

/** Runs `work` with a signal that aborts after `ms` or when `caller` does, called off when the work settles. */
export async function withDeadline<T>(ms: number, caller: AbortSignal | undefined, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const timeout = deadline(ms, caller);
  try {
    return await work(timeout.signal);
  } finally {
    timeout.clear();
  }
}
