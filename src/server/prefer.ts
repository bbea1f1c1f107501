/**
 * The `Prefer` request header (RFC 7240), as far as the LangGraph API uses it: the SDK sends
 * `Prefer: return=minimal` when it does not want the changed resource back (`threads.update`
 * with `returnMinimal`), and is then answered 204 with no body.
 */
import type { Request } from "express";

/** Whether the request asks for `return=minimal` (among other preferences, in any case). */
export function prefersMinimal(request: Request): boolean {
  const header = request.header("prefer");
  if (!header) return false;
  return header.split(",").some((preference) => preference.split(";")[0]?.trim().toLowerCase().replace(/\s*=\s*/, "=") === "return=minimal");
}
