/**
 * Browser access: CORS for the configured origins, and Chrome's Private Network Access (PNA)
 * for them. LangGraph Studio is a page on https://smith.langchain.com that calls this server on
 * http://127.0.0.1 from the browser; Chrome lets a public https page reach a loopback address only
 * if the preflight answers `Access-Control-Allow-Private-Network: true`
 * (https://github.com/langchain-ai/langgraph/issues/3261).
 */
import cors from "cors";
import type { RequestHandler } from "express";

/** Methods the API uses; PATCH and DELETE are not CORS-safelisted, so they must be allowed. */
export const CORS_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] as const;

/**
 * Response headers browser clients read: run ids (`Content-Location`, `Location`), pagination,
 * and the request id for bug reports. Others stay hidden from scripts.
 */
export const CORS_EXPOSED_HEADERS = ["Content-Location", "Location", "X-Pagination-Next", "X-Pagination-Total", "X-Request-Id"] as const;

/** How long a browser may reuse a preflight (Chrome caps it at 2 hours). */
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS and PNA for `origins` (`["*"]` for any). A request from another origin, or without one
 * (curl, the SDK in Node), passes through with no CORS header at all, so a browser on a foreign
 * page cannot read answers. A preflight from an allowed origin is answered here, before
 * authentication: browsers never send credentials on a preflight, so it must not need a key.
 * Preflights allow whatever request headers they ask for (content-type, x-api-key,
 * authorization, x-request-id, last-event-id, Studio's x-auth-scheme, ...): only allowed origins
 * get that far, and the API's own checks still apply to the actual request.
 */
export function browserAccess(origins: readonly string[]): RequestHandler {
  const anyOrigin = origins.includes("*");
  const allowed = new Set(origins);
  const isAllowed = (origin: string | undefined): origin is string => origin !== undefined && (anyOrigin || allowed.has(origin));
  const handleCors = cors({
    // Echoes the request's origin (never `*`), which is what an allowed origin needs.
    origin: true,
    methods: [...CORS_METHODS],
    exposedHeaders: [...CORS_EXPOSED_HEADERS],
    maxAge: PREFLIGHT_MAX_AGE_SECONDS,
  });
  return (request, response, next) => {
    // The answer depends on the origin, so caches must key on it, allowed or not.
    response.vary("Origin");
    if (!isAllowed(request.headers.origin)) {
      next();
      return;
    }
    if (request.method === "OPTIONS" && request.headers["access-control-request-private-network"] === "true") {
      response.setHeader("Access-Control-Allow-Private-Network", "true");
    }
    handleCors(request, response, next);
  };
}
