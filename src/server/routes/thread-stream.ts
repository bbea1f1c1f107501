import { Router } from "express";
import { ownerOf } from "../auth.js";
import type { AppDeps } from "../app-deps.js";
import { requireThread } from "../runs/lookup.js";
import { streamThread } from "../runs/thread-stream.js";
import { ThreadPath, ThreadStreamQuery, parseInput } from "../schemas.js";

/** `GET /threads/{thread_id}/stream`: a thread's runs, one after the other (see runs/thread-stream.ts). */
export function threadStreamRouter(deps: AppDeps): Router {
  const router = Router();
  router.get("/threads/:thread_id/stream", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    const { modes } = parseInput(ThreadStreamQuery, request.query, "query");
    const owner = ownerOf(response);
    await requireThread(deps.storage, thread_id, owner);
    // Its failures are logged as this request's.
    await streamThread({ ...deps, logger: request.log }, thread_id, owner, response, { modes, lastEventId: request.header("last-event-id") });
  });
  return router;
}
