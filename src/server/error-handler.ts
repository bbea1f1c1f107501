import type { ErrorRequestHandler, RequestHandler } from "express";
import { AppError, NotFoundError } from "../errors.js";

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
  if (typeof status === "number" && status >= 400 && status < 500) {
    response.status(status).json({ detail: (error as Error).message });
    return;
  }
  request.log.error({ err: error }, "unhandled error");
  response.status(500).json({ detail: "Internal server error" });
};
