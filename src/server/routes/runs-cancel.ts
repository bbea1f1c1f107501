/**
 * `POST /runs/cancel` (the SDK's `runs.cancelMany`): cancels many runs at once, named by id on one
 * thread or by status, with `interrupt` or `rollback`, as the official server does. Only runs on
 * threads the caller may see are touched; runs other instances execute are asked to stop through
 * the database, as a single cancel asks them.
 */
import { Router } from "express";
import { NotFoundError } from "../../errors.js";
import { ownerOf } from "../auth.js";
import type { AppDeps } from "../app-deps.js";
import { requireThread } from "../runs/lookup.js";
import { RunsCancel, RunsCancelQuery, parseInput } from "../schemas.js";
import type { RunStatus } from "../../storage/runs.js";

/** Busy threads are read this many at a time when cancelling by status. */
const PAGE = 100;

/** The `/runs/cancel` route. */
export function runsCancelRouter(deps: AppDeps): Router {
  const { storage, runs } = deps;
  const router = Router();

  /** Runs of `statuses` on `threadId`, or on every busy thread `owner` may see: `[threadId, runId]`. */
  const runsWithStatus = async (statuses: RunStatus[], owner: string | undefined, threadId: string | undefined): Promise<Array<[string, string]>> => {
    const found = new Map<string, string>();
    const threadIds: string[] = [];
    if (threadId) threadIds.push(threadId);
    else {
      // A thread is busy from its run's admission until its last run ends, on every instance.
      for (let offset = 0; ; offset += PAGE) {
        const page = await storage.threads.searchThreads({ owner, status: "busy", limit: PAGE, offset, sortBy: "created_at", sortOrder: "asc" });
        threadIds.push(...page.map((thread) => thread.threadId));
        if (page.length < PAGE) break;
      }
    }
    for (const id of threadIds) {
      for (const status of statuses) {
        for (const run of await storage.runs.listRuns(id, { limit: 1000, offset: 0, status })) found.set(run.runId, run.threadId);
      }
    }
    // Runs this instance holds whose record or thread status is not written yet (being admitted).
    for (const handle of runs.unfinished()) {
      const mine = owner === undefined || handle.owner === owner;
      if (mine && statuses.includes(handle.run.status) && (!threadId || handle.run.threadId === threadId)) found.set(handle.run.runId, handle.run.threadId);
    }
    return [...found].map(([runId, thread]) => [thread, runId]);
  };

  router.post("/runs/cancel", async (request, response) => {
    const body = parseInput(RunsCancel, request.body);
    const { action } = parseInput(RunsCancelQuery, request.query, "query");
    const owner = ownerOf(response);
    if (body.thread_id) await requireThread(storage, body.thread_id, owner);
    let targets: Array<[string, string]>;
    if (body.run_ids && body.thread_id) {
      const threadId = body.thread_id;
      // All or nothing: every run must exist before any is cancelled.
      for (const runId of body.run_ids) {
        const known = runs.handle(runId);
        if (!(known && known.run.threadId === threadId) && !(await storage.runs.getRun(threadId, runId))) {
          throw new NotFoundError(`Run ${runId} not found on thread ${threadId}`);
        }
      }
      targets = body.run_ids.map((runId) => [threadId, runId]);
    } else {
      const statuses: RunStatus[] = body.status === "all" ? ["pending", "running"] : [body.status as RunStatus];
      targets = await runsWithStatus(statuses, owner, body.thread_id);
    }
    for (const [threadId, runId] of targets) {
      try {
        await runs.cancel(threadId, runId, action);
      } catch (error) {
        // Gone meanwhile (a rollback, a deleted thread): nothing is left to cancel.
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    response.status(204).end();
  });

  return router;
}
