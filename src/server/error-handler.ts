import type { ErrorRequestHandler, RequestHandler } from "express";
import type { IncomingMessage } from "node:http";
import { AppError, NotFoundError } from "../errors.js";

/** A body in another format than JSON. */
class UnsupportedMediaTypeError extends AppError {
  override readonly status = 415;
}

/** The request's media type (`content-type` without parameters), lowercased; "" when untyped. */
export const mediaTypeOf = (request: IncomingMessage): string => (request.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase() ?? "";

/** A JSON media type: `application/json` or any `+json`. */
export const isJsonMediaType = (mediaType: string): boolean => mediaType === "application/json" || mediaType.endsWith("+json");

/** Whether the request carries a body (a length above 0, or a chunked one). */
export const hasRequestBody = (request: IncomingMessage): boolean =>
  Number(request.headers["content-length"] ?? 0) > 0 || request.headers["transfer-encoding"] !== undefined;

/** Bodies read as JSON: JSON types, text/plain and bodies sent without a content type. */
export function isJsonLike(request: IncomingMessage): boolean {
  const mediaType = mediaTypeOf(request);
  return mediaType === "" || isJsonMediaType(mediaType) || mediaType === "text/plain";
}

/** Refuses request bodies in other formats (forms, uploads), instead of silently reading them as `{}`. */
export const requireJsonBody: RequestHandler = (request, _response, next) => {
  if (hasRequestBody(request) && !isJsonLike(request)) {
    next(new UnsupportedMediaTypeError(`Request bodies must be JSON (content-type: application/json), not ${request.headers["content-type"] ?? "untyped"}`));
    return;
  }
  next();
};

/** Answers any route nobody handled with a 404 in the API's error shape. */
export const notFound: RequestHandler = (request, _response, next) => {
  next(new NotFoundError(`No route for ${request.method} ${request.path}`));
};

/**
 * The one error handler, registered last: every error leaves as `{"detail": string}`.
 * Unknown errors are logged with their stack and answered with a bare 500, never the stack.
 */
export const errorHandler: ErrorRequestHandler = (error, request, response, next) => {
  if (response.headersSent) return next(error);
  if (error instanceof AppError) {
    response.status(error.status).json({ detail: error.message });
    return;
  }
  // body-parser's errors carry their own 4xx status and a type.
  const status = (error as { status?: unknown }).status;
  if ((error as { type?: unknown }).type === "entity.parse.failed") {
    response.status(400).json({ detail: "Malformed JSON in request body" });
    return;
  }
  if ((error as { type?: unknown }).type === "entity.too.large") {
    const limit = (error as { limit?: number }).limit;
    response.status(413).json({ detail: `Request body too large: the limit is ${limit ?? "?"} bytes` });
    return;
  }
  if (typeof status === "number" && status >= 400 && status < 500) {
    response.status(status).json({ detail: (error as Error).message });
    return;
  }
  request.log.error({ err: error }, "unhandled error");
  response.status(500).json({ detail: "Internal server error" });
};
