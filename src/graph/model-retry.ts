/**
 * Retrying the model call. LangGraph's node `retryPolicy` cannot honour a provider's
 * `Retry-After`, and would retry a stream whose first tokens the client has already seen, so the
 * model node retries itself with this policy instead.
 */
import { AppError, ModelProviderError } from "../errors.js";

/** How the model call is retried. */
export interface RetryOptions {
  /** Further attempts after the first (`MODEL_MAX_RETRIES`). */
  maxRetries: number;
  /** First backoff; doubles each attempt, with jitter (`MODEL_RETRY_BASE_MS`). */
  baseDelayMs: number;
  /** Longest wait between attempts, `Retry-After` included (`MODEL_RETRY_MAX_MS`). */
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { maxRetries: 2, baseDelayMs: 500, maxDelayMs: 20_000 };

/** The wait a provider asked for in `retry-after-ms` or `retry-after` (seconds or a date), if any. */
export function retryAfterMs(headers: Headers | Record<string, string> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const read = (name: string) => (headers instanceof Headers ? headers.get(name) : (headers[name] ?? headers[name.toLowerCase()])) ?? undefined;
  const milliseconds = Number(read("retry-after-ms"));
  if (read("retry-after-ms") !== undefined && Number.isFinite(milliseconds) && milliseconds >= 0) return milliseconds;
  const value = read("retry-after");
  if (value === undefined) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The wait before attempt `attempt + 1`: the provider's `Retry-After`, else exponential backoff. */
export function retryDelayMs(error: unknown, attempt: number, options: RetryOptions, random = Math.random): number {
  const asked = error instanceof ModelProviderError ? error.retryAfterMs : undefined;
  if (asked !== undefined) return Math.min(asked, options.maxDelayMs);
  // Half fixed, half random: spreads out clients that failed together, never waits 0.
  const backoff = options.baseDelayMs * 2 ** attempt;
  return Math.min(options.maxDelayMs, backoff / 2 + random() * (backoff / 2));
}

/** Whether a failed attempt may be repeated. */
export const isRetryable = (error: unknown): boolean => error instanceof AppError && error.isRetryable;

/** Waits `ms`, or rejects with the signal's reason when it fires first. */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
