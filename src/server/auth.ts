/**
 * API keys and owners. With `API_KEYS` set, every request but `/ok` and `/ready` must carry a key,
 * as `Authorization: Bearer <key>` or `x-api-key` (what the SDK's `apiKey` sends); the key names
 * its owner, and each thread belongs to the owner who created it. `/metrics` also opens to
 * `METRICS_TOKEN`, so that a scraper needs no key that reads threads.
 */
import type { Request, RequestHandler, Response } from "express";
import { createHash, timingSafeEqual } from "node:crypto";
import { UnauthorizedError } from "../errors.js";

export { UnauthorizedError };

/** The configured keys, as digests, each with its owner. */
export interface ApiKeys {
  readonly entries: ReadonlyArray<{ owner: string; digest: Buffer }>;
}

const digest = (key: string) => createHash("sha256").update(key, "utf8").digest();

/** Builds the key table from `owner:key` pairs (as parsed by `config.ts`). */
export function apiKeys(pairs: ReadonlyArray<{ owner: string; key: string }>): ApiKeys {
  return { entries: pairs.map(({ owner, key }) => ({ owner, digest: digest(key) })) };
}

/**
 * The owner of `presented`, or undefined. Digests have one length, so `timingSafeEqual` applies,
 * and every entry is compared, so the time taken says nothing about which key was close.
 */
export function ownerOfKey(keys: ApiKeys, presented: string): string | undefined {
  const candidate = digest(presented);
  let owner: string | undefined;
  for (const entry of keys.entries) {
    if (timingSafeEqual(entry.digest, candidate) && owner === undefined) owner = entry.owner;
  }
  return owner;
}

/** The owner the request was authenticated as; undefined when authentication is off. */
export const ownerOf = (response: Response): string | undefined => response.locals.owner as string | undefined;

/**
 * Paths open without a key: the health checks (liveness and readiness), and the pages and files of the web chat and of the
 * API reference (a browser loads them before it can send a key; they hold no data, and every API
 * call they make, /openapi.json included, needs one).
 */
const isPublic = (path: string) => path === "/ok" || path === "/ready" || path === "/" || path.startsWith("/web/") || path === "/docs" || path.startsWith("/docs/");

/**
 * The key of a WebSocket upgrade given as `?api_key=`: browsers cannot set headers on a
 * WebSocket. It is taken out of the URL, so that no log line shows it.
 */
function webSocketKey(request: Request): string | undefined {
  if (request.headers.upgrade?.toLowerCase() !== "websocket") return undefined;
  const url = new URL(request.originalUrl, "http://localhost");
  const key = url.searchParams.get("api_key");
  if (key === null) return undefined;
  url.searchParams.delete("api_key");
  request.url = request.originalUrl = `${url.pathname}${url.search}`;
  return key;
}

/**
 * Authenticates every request when `keys` is given; lets all through when it is not. With keys,
 * `/metrics` also takes `Authorization: Bearer <metricsToken>`.
 */
export function authenticate(keys: ApiKeys | undefined, options: { metricsToken?: string } = {}): RequestHandler {
  const metricsToken = options.metricsToken === undefined ? undefined : digest(options.metricsToken);
  return (request, response, next) => {
    if (!keys || isPublic(request.path)) return next();
    const authorization = request.headers.authorization;
    const bearer = authorization?.toLowerCase().startsWith("bearer ") ? authorization.slice(7).trim() : undefined;
    // The token opens the metrics and nothing else; a request with it has no owner.
    if (metricsToken && bearer !== undefined && request.path === "/metrics" && timingSafeEqual(metricsToken, digest(bearer))) return next();
    const headerKey = request.headers["x-api-key"];
    const presented = bearer ?? (typeof headerKey === "string" ? headerKey : undefined) ?? webSocketKey(request);
    const owner = presented ? ownerOfKey(keys, presented) : undefined;
    if (!owner) {
      response.setHeader("WWW-Authenticate", 'Bearer realm="stateful-agent"');
      return next(new UnauthorizedError(presented ? "Invalid API key" : "Missing API key: send Authorization: Bearer <key> or x-api-key: <key>"));
    }
    response.locals.owner = owner;
    // What the request logs from here on says whose it is.
    request.log = request.log.child({ owner });
    next();
  };
}
