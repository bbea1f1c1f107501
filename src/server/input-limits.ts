/**
 * Shape limits on what a request carries, checked at the edge right after the body is parsed and
 * before any schema, store or graph sees it. JSON nested thousands deep overflows the stack of
 * every recursive reader (zod, JSON.stringify, the savers); an object with tens of thousands of
 * keys becomes a filter SQLite refuses ("Expression tree is too large") and PostgreSQL takes
 * seconds on; and NUL characters, which SQLite stores, PostgreSQL refuses in `jsonb` and `text`.
 * Refusing all three here gives one answer, a 422, on both backends.
 */
import type { RequestHandler } from "express";
import { ValidationError } from "../errors.js";

/** Deepest nesting of objects and arrays accepted in a body or query (a message is about 6 deep). */
export const MAX_JSON_DEPTH = 64;
/** Most keys one object may have (metadata, configurable, filters...). */
export const MAX_OBJECT_KEYS = 1000;

/** What `findShapeProblem` checks against. */
export interface ShapeLimits {
  maxDepth: number;
  maxKeys: number;
}

const DEFAULT_LIMITS: ShapeLimits = { maxDepth: MAX_JSON_DEPTH, maxKeys: MAX_OBJECT_KEYS };

/** A readable path for an error message: `metadata.a[3]`. */
function describePath(path: ReadonlyArray<string | number>): string {
  if (path.length === 0) return "the top level";
  const text = path.map((part, index) => (typeof part === "number" ? `[${part}]` : index === 0 ? part : `.${part}`)).join("");
  // A path into deeply nested input is as long as the input is deep: show its start.
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

/**
 * The first reason `value` breaks the limits, or undefined. Walks without recursion (an explicit
 * stack), so the check itself cannot overflow on the input it exists to refuse.
 */
export function findShapeProblem(value: unknown, limits: ShapeLimits = DEFAULT_LIMITS): string | undefined {
  const stack: Array<{ value: unknown; depth: number; path: Array<string | number> }> = [{ value, depth: 0, path: [] }];
  while (stack.length > 0) {
    const { value: current, depth, path } = stack.pop() as (typeof stack)[number];
    if (typeof current === "string") {
      if (current.includes("\u0000")) return `${describePath(path)}: text must not contain NUL characters (\\u0000)`;
      continue;
    }
    if (current === null || typeof current !== "object") continue;
    if (depth >= limits.maxDepth) return `${describePath(path)}: nested more than ${limits.maxDepth} levels deep`;
    if (Array.isArray(current)) {
      for (let index = current.length - 1; index >= 0; index -= 1) stack.push({ value: current[index], depth: depth + 1, path: [...path, index] });
      continue;
    }
    const keys = Object.keys(current);
    if (keys.length > limits.maxKeys) return `${describePath(path)}: more than ${limits.maxKeys} keys in one object`;
    for (const key of keys) {
      if (key.includes("\u0000")) return `${describePath(path)}: keys must not contain NUL characters (\\u0000)`;
      stack.push({ value: (current as Record<string, unknown>)[key], depth: depth + 1, path: [...path, key] });
    }
  }
  return undefined;
}

/**
 * Refuses a request whose body or query breaks the shape limits with a 422 naming where.
 * Registered after the body parsers; path parameters are checked by their own schemas.
 */
export function inputLimits(limits: ShapeLimits = DEFAULT_LIMITS): RequestHandler {
  return (request, _response, next) => {
    const inBody = findShapeProblem(request.body, limits);
    if (inBody) return next(new ValidationError(`Invalid request body: ${inBody}`));
    const inQuery = findShapeProblem(request.query, limits);
    if (inQuery) return next(new ValidationError(`Invalid request query: ${inQuery}`));
    next();
  };
}
