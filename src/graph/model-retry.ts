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
  /**
   * Longest one attempt may take, start to last token (`MODEL_TIMEOUT_MS`). The HTTP client's own
   * timeout only covers the wait for response headers; a provider that stalls mid-stream would
   * otherwise hold the run forever.
   */
  attemptTimeoutMs?: number;
}

export const DEFAULT_RETRY: RetryOptions = { maxRetries: 2, baseDelayMs: 500, maxDelayMs: 20_000 };

/** The wait a provider asked for in `retry-after-ms` or `retry-after` (seconds or a date), if any. */
export function retryAfterMs(headers: Headers | Record<string, string> | undefined, now = Date.now()): number | undefined {
  if (!headers) return undefined;
  const read = (name: string) => ((headers instanceof Headers ? headers.get(name) : (headers[name] ?? headers[name.toLowerCase()])) ?? "").trim();
  // Only well-formed values count; anything else falls back to our own backoff.
  const milliseconds = read("retry-after-ms");
  if (/^\d+(\.\d+)?$/.test(milliseconds)) return Number(milliseconds);
  const value = read("retry-after");
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value) * 1000;
  // An HTTP date, such as "Wed, 21 Oct 2015 07:28:00 GMT".
  if (!/[a-z]/i.test(value)) return undefined;
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
