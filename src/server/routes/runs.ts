import type { Request, Response } from "express";
import { Router } from "express";
import { ownerOf } from "../auth.js";
import { NotFoundError } from "../../errors.js";
import type { AppDeps } from "../app-deps.js";
import type { RunHandle } from "../run-manager.js";
import { awaitCancelled, joinRun, joinRunStream, joinStatelessStream } from "../runs/join.js";
import { requireRun, requireThread } from "../runs/lookup.js";
import { outcomeBody, respondWhenDone, streamHandle } from "../runs/respond.js";
import {
  JoinStreamQuery,
  RunBatch,
  RunCancelQuery,
  RunCreate,
  RunListQuery,
  RunPath,
  StatelessRunPath,
  ThreadPath,
  parseInput,
} from "../schemas.js";
import { runToWire } from "../wire.js";

/** Runs on threads and stateless runs: create, stream, wait, list, get, cancel, join, delete. */
export function runsRouter(deps: AppDeps): Router {
  const { storage, runs, agent } = deps;
  const router = Router();

  const location = (handle: RunHandle, stateless: boolean) =>
    stateless ? `/runs/${handle.run.runId}` : `/threads/${handle.run.threadId}/runs/${handle.run.runId}`;

  const create = async (request: Request, response: Response, stateless: boolean) => {
    const threadId = stateless ? undefined : parseInput(ThreadPath, request.params, "path").thread_id;
    const body = parseInput(RunCreate, request.body);
    const handle = await runs.create(threadId, body, ownerOf(response));
    response.setHeader("Content-Location", location(handle, stateless));
    return { handle, body };
  };

  const wait = async (request: Request, response: Response, stateless: boolean) => {
    const { handle, body } = await create(request, response, stateless);
    if (body.on_disconnect === "cancel") {
      response.on("close", () => {
        if (!handle.finished) void runs.cancel(handle.run.threadId, handle.run.runId, "interrupt").catch(() => undefined);
      });
    }
    await respondWhenDone(response, outcomeBody(agent, handle));
  };

  const stream = async (request: Request, response: Response, stateless: boolean) => {
    const { handle, body } = await create(request, response, stateless);
    await streamHandle(runs, handle, response, { cancelOnDisconnect: body.on_disconnect === "cancel", maxBufferedBytes: deps.streamBufferBytes, streams: deps.metrics.sseStreams });
  };

  router.post("/threads/:thread_id/runs", async (request, response) => {
    const { handle } = await create(request, response, false);
    response.json(runToWire(handle.run));
  });
  router.post("/threads/:thread_id/runs/stream", (request, response) => stream(request, response, false));
  router.post("/threads/:thread_id/runs/wait", (request, response) => wait(request, response, false));
  router.post("/runs", async (request, response) => {
    const { handle } = await create(request, response, true);
    response.json(runToWire(handle.run));
  });
  router.post("/runs/stream", (request, response) => stream(request, response, true));
  router.post("/runs/wait", (request, response) => wait(request, response, true));
  router.post("/runs/batch", async (request, response) => {
    const bodies = parseInput(RunBatch, request.body);
    // Every item passes every check before any starts: a refused batch leaves nothing behind.
    const plans = [];
    for (const body of bodies) plans.push(await runs.check(undefined, body, ownerOf(response)));
    const handles: RunHandle[] = [];
    try {
      for (const plan of plans) handles.push(await runs.start(plan));
    } catch (error) {
      // Refused while starting after all (the server closing, a database error): undo the rest.
      for (const handle of handles) await runs.cancel(handle.run.threadId, handle.run.runId, "rollback");
      await Promise.all(handles.map((handle) => handle.done));
      throw error;
    }
    response.json(handles.map((handle) => runToWire(handle.run)));
  });
  router.get("/runs/:run_id/stream", async (request, response) => {
    const { run_id } = parseInput(StatelessRunPath, request.params, "path");
    const query = parseInput(JoinStreamQuery, request.query, "query");
    await joinStatelessStream(deps, run_id, ownerOf(response), response, {
      cancelOnDisconnect: query.cancel_on_disconnect,
      lastEventId: request.header("last-event-id"),
    });
  });

  router.get("/threads/:thread_id/runs", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    const query = parseInput(RunListQuery, request.query, "query");
    await requireThread(storage, thread_id, ownerOf(response));
    const found = (await storage.runs.listRuns(thread_id, query)).map(runToWire);
    const { select } = query;
    response.json(select ? found.map((run) => Object.fromEntries(Object.entries(run).filter(([field]) => select.includes(field as never)))) : found);
  });

  router.get("/threads/:thread_id/runs/:run_id", async (request, response) => {
    const { thread_id, run_id } = parseInput(RunPath, request.params, "path");
    response.json(runToWire(await requireRun(storage, thread_id, run_id, ownerOf(response))));
  });

  router.delete("/threads/:thread_id/runs/:run_id", async (request, response) => {
    const { thread_id, run_id } = parseInput(RunPath, request.params, "path");
    await requireThread(storage, thread_id, ownerOf(response));
    const handle = runs.handle(run_id);
    if (handle && handle.run.threadId === thread_id && !handle.finished) {
      response.status(409).json({ detail: `Run ${run_id} is ${handle.run.status}; cancel it before deleting it` });
      return;
    }
    if (!(await storage.runs.deleteRun(thread_id, run_id))) throw new NotFoundError(`Run ${run_id} not found on thread ${thread_id}`);
    response.status(204).end();
  });

  router.post("/threads/:thread_id/runs/:run_id/cancel", async (request, response) => {
    const { thread_id, run_id } = parseInput(RunPath, request.params, "path");
    const query = parseInput(RunCancelQuery, request.query, "query");
    await requireThread(storage, thread_id, ownerOf(response));
    // A run that has not started yet (delayed or queued here) is settled before the answer, as
    // the official server does: a client listing runs right after sees it interrupted.
    const unstarted = runs.handle(run_id)?.run.status === "pending";
    const handle = await runs.cancel(thread_id, run_id, query.action);
    if (query.wait || (unstarted && handle)) await awaitCancelled(storage, handle, thread_id, run_id, response);
    response.status(query.wait ? 204 : 202).end();
  });

  router.get("/threads/:thread_id/runs/:run_id/join", async (request, response) => {
    const { thread_id, run_id } = parseInput(RunPath, request.params, "path");
    await requireThread(storage, thread_id, ownerOf(response));
    await joinRun(deps, thread_id, run_id, ownerOf(response), response);
  });

  router.get("/threads/:thread_id/runs/:run_id/stream", async (request, response) => {
    const { thread_id, run_id } = parseInput(RunPath, request.params, "path");
    const query = parseInput(JoinStreamQuery, request.query, "query");
    await requireThread(storage, thread_id, ownerOf(response));
    await joinRunStream(deps, thread_id, run_id, ownerOf(response), response, {
      cancelOnDisconnect: query.cancel_on_disconnect,
      lastEventId: request.header("last-event-id"),
    });
  });

  return router;
}
