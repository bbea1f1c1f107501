/**
 * Only the hosts and sites the server is meant for. Without API keys (the default on a laptop),
 * any web page the user opens could otherwise drive the API: a cross-site `text/plain` POST needs
 * no CORS preflight, so it creates threads, writes state and fires webhooks, and a page on a name
 * that the attacker re-points at 127.0.0.1 (DNS rebinding) is "same-origin" with the server and
 * reads everything. Two checks close this:
 * - **Host**: a request must name a host the server answers: an IP address (a rebinding page is
 *   always on a name), `localhost`, the address it listens on, or one listed in `ALLOWED_HOSTS`.
 * - **Site**: a browser request (one with `Origin` or `Sec-Fetch-Site`) must come from the
 *   server's own origin or one allowed by `CORS_ORIGINS` (LangGraph Studio's by default); its
 *   body must be JSON, which no foreign page can send without a preflight. Plain navigations and
 *   reads of the page itself stay allowed: a foreign page cannot read what they return.
 * Clients that are not browsers (the SDKs, curl) send neither header and are not affected.
 */
import type { RequestHandler } from "express";
import { isIP } from "node:net";
import { ForbiddenError } from "../errors.js";
import { hasRequestBody, isJsonMediaType, mediaTypeOf } from "./error-handler.js";

/** Names that always reach this machine's loopback, so no rebinding page can be served on them. */
const LOOPBACK_NAMES = ["localhost"];
/** Methods a browser may send cross-site without reading the answer; they change nothing here. */
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export interface SameSiteOptions {
  /** Origins allowed by `CORS_ORIGINS` (`*` for any). */
  allowedOrigins: readonly string[];
  /**
   * Host names from `ALLOWED_HOSTS` (`*` for any), beside the IP addresses and `localhost`;
   * undefined: no Host check (API keys are on and no list was given: a rebinding page has no key).
   */
  allowedHosts: readonly string[] | undefined;
}

/** The host name of a `Host` header, lowercased, without port or IPv6 brackets; undefined if malformed. */
export function hostNameOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  try {
    const { hostname } = new URL(`http://${header}`);
    return hostname.replace(/^\[(.*)\]$/, "$1").replace(/\.$/, "").toLowerCase();
  } catch {
    return undefined;
  }
}

/** Whether a request naming `host` may be served: IP addresses, `localhost`, and the allowed names. */
export function isAllowedHost(host: string | undefined, allowedHosts: readonly string[]): boolean {
  if (allowedHosts.includes("*")) return true;
  if (host === undefined) return false;
  if (isIP(host) !== 0 || LOOPBACK_NAMES.includes(host) || host.endsWith(".localhost")) return true;
  return allowedHosts.some((allowed) => allowed.toLowerCase() === host);
}

/** Refuses, with a 403 that says which setting allows it, requests from foreign sites or for unknown hosts. */
export function sameSiteOnly(options: SameSiteOptions): RequestHandler {
  const anyOrigin = options.allowedOrigins.includes("*");
  const allowedOrigins = new Set(options.allowedOrigins);
  return (request, response, next) => {
    const host = request.headers.host;
    if (options.allowedHosts !== undefined && !isAllowedHost(hostNameOf(host), options.allowedHosts)) {
      return next(new ForbiddenError(`Host ${JSON.stringify(host ?? "")} is not one this server answers; add its name to ALLOWED_HOSTS to serve it`));
    }
    const origin = request.headers.origin;
    const fetchSite = request.headers["sec-fetch-site"];
    const fromBrowser = origin !== undefined || fetchSite !== undefined;
    if (!fromBrowser) return next();
    // The answer depends on the origin, so caches must key on it.
    if (origin !== undefined) response.vary("Origin");
    // An allowed origin (Studio's, say) or this server's own pages.
    const sameOrigin = origin !== undefined ? origin !== "null" && hostOfOrigin(origin) === host?.toLowerCase() : fetchSite === "same-origin" || fetchSite === "none";
    const allowed = sameOrigin || (origin !== undefined && (anyOrigin || allowedOrigins.has(origin)));
    if (!allowed && !SAFE_METHODS.has(request.method)) {
      return next(new ForbiddenError(`Cross-site request from ${origin ?? `a ${fetchSite} page`} refused; add its origin to CORS_ORIGINS to allow it`));
    }
    if (!allowed && origin !== undefined && request.method !== "OPTIONS") {
      // A cross-origin fetch or EventSource: refused too, so a foreign page cannot even start a
      // stream (whose disconnect may cancel a run). Navigations carry no Origin and pass.
      return next(new ForbiddenError(`Cross-site request from ${origin} refused; add its origin to CORS_ORIGINS to allow it`));
    }
    if (hasRequestBody(request) && !isJsonMediaType(mediaTypeOf(request))) {
      return next(new ForbiddenError("A browser must send request bodies as JSON (content-type: application/json)"));
    }
    next();
  };
}

/** `host[:port]` of an origin, lowercased; undefined when it is not a URL. */
function hostOfOrigin(origin: string): string | undefined {
  try {
    return new URL(origin).host.toLowerCase();
  } catch {
    return undefined;
  }
}
