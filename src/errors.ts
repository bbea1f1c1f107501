/**
 * The one error family of the service. Graph and storage code throw these, never framework
 * exceptions; the HTTP layer maps `status` to the response and `message` to `{"detail"}`.
 */
export class AppError extends Error {
  /** HTTP status the server answers with when this error reaches a client. */
  readonly status: number = 500;
  /** True when repeating the same call may succeed (rate limits, overloaded or flaky upstreams). */
  readonly isRetryable: boolean;

  constructor(message: string, options: { cause?: unknown; isRetryable?: boolean } = {}) {
    super(message, { cause: options.cause });
    this.name = new.target.name;
    this.isRetryable = options.isRetryable ?? false;
  }
}

/** An environment variable is missing or malformed; raised once, at start. */
export class ConfigError extends AppError {}

/** A command line (the terminal chat's) that cannot be used: an unknown flag, a malformed value. */
export class UsageError extends AppError {}

/** The caller sent something we cannot use (bad body, bad configurable value, ...). */
export class ValidationError extends AppError {
  override readonly status = 422;
}

/** A request whose framing is wrong (a protocol command without an id, say), before any field is read. */
export class BadRequestError extends AppError {
  override readonly status = 400;
}

/** A document over one of the limits on what is stored or read (`DOCUMENT_MAX_*`, the extraction's memory). */
export class DocumentTooLargeError extends AppError {
  override readonly status = 413;
}

/** The newest message alone does not fit the model's context budget. */
export class ContextOverflowError extends AppError {
  override readonly status = 400;
}

/** No model provider is configured: neither `OPENAI_API_KEY` nor `OPENAI_BASE_URL` is set. */
export class ModelNotConfiguredError extends AppError {
  override readonly status = 503;
}

/** A thread, run or assistant does not exist. */
/** A wrong or missing API key. */
export class UnauthorizedError extends AppError {
  override readonly status = 401;
}

/** A request the server will not serve from where it came (a foreign site, an unknown Host). */
export class ForbiddenError extends AppError {
  override readonly status = 403;
}

/** A feature of the LangGraph API that this server does not have. */
export class NotOfferedError extends AppError {
  override readonly status = 501;
}

export class NotFoundError extends AppError {
  override readonly status = 404;
}

/** The server is shutting down and takes no new work. */
export class ShuttingDownError extends AppError {
  override readonly status = 503;
}

/** The server is not ready to serve: its storage is still being set up, or it is shutting down (`/ready`). */
export class NotReadyError extends AppError {
  override readonly status = 503;
}

/** Another live server holds the database that only one server may use (SQLite in `DATA_DIR`); raised at start. */
export class DatabaseInUseError extends AppError {}

/** The thread already has an active run and the caller asked us not to wait. */
export class ThreadBusyError extends AppError {
  override readonly status = 409;
}

/** Upstream statuses that are worth another attempt: timeouts, conflicts, rate limits, 5xx. */
export function isRetryableStatus(status: number | undefined): boolean {
  if (status === undefined) return false;
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * The model provider failed (HTTP error, timeout, cut connection). `providerStatus` is the
 * upstream HTTP status when there was one; the service itself answers 502 (bad gateway).
 */
export class ModelProviderError extends AppError {
  override readonly status = 502;
  readonly providerStatus: number | undefined;
  /** How long the provider asked us to wait before trying again (`Retry-After`), if it did. */
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: { cause?: unknown; providerStatus?: number; retryAfterMs?: number; isRetryable?: boolean } = {}) {
    super(message, {
      cause: options.cause,
      // Without a status it is the caller's call (a timeout or a dropped connection is retryable).
      isRetryable: options.isRetryable ?? (options.providerStatus !== undefined && isRetryableStatus(options.providerStatus)),
    });
    this.providerStatus = options.providerStatus;
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * A LangGraph server that a client of ours (the terminal chat) talks to failed or could not be
 * reached. `serverStatus` is its HTTP status when it answered; like a provider failure, 502.
 */
export class RemoteServerError extends AppError {
  override readonly status = 502;
  readonly serverStatus: number | undefined;

  constructor(message: string, options: { cause?: unknown; serverStatus?: number } = {}) {
    super(message, { cause: options.cause, isRetryable: options.serverStatus === undefined || isRetryableStatus(options.serverStatus) });
    this.serverStatus = options.serverStatus;
  }
}
