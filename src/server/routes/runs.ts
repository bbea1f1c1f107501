import type { Request, Response } from "express";
import { Router } from "express";
import { setTimeout as sleep } from "node:timers/promises";
import { ownerOf } from "../auth.js";
import { NotFoundError } from "../../errors.js";
import type { AppDeps } from "../app-deps.js";
import type { RunHandle } from "../run-manager.js";
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
import { type SseEvent, type SseStream, openSse } from "../sse.js";
import { type Run, type RunEventStore, relaysRunEvents } from "../../storage/thread-store.js";
import { runToWire, toWire } from "../wire.js";

/** How often a run held by another instance is checked on. */
const REMOTE_POLL_MS = 100;
/** Interval of the keep-alive newlines of `wait` and `join`. */
const KEEP_ALIVE_MS = 1000;

/** Fires when the response closes: the client left (or it was sent). */
function responseClosed(response: Response): AbortSignal {
  const closed = new AbortController();
  response.once("close", () => closed.abort());
  return closed.signal;
}

/** Runs on threads and stateless runs: create, stream, wait, list, get, cancel, join, delete. */
export function runsRouter(deps: AppDeps): Router {
  const { store, runs, agent } = deps;
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

  /** Streams a run's events; past the headers every failure is an `error` event. */
  const streamRun = async (handle: RunHandle, response: Response, options: { cancelOnDisconnect: boolean; lastEventId?: string }) => {
    const sse = openSse(response, { maxBufferedBytes: deps.streamBufferBytes });
    if (options.cancelOnDisconnect) {
      // Only a client that left: one ended for reading too slowly resumes, it did not leave.
      sse.disconnected.addEventListener("abort", () => {
        if (!handle.finished) void runs.cancel(handle.run.threadId, handle.run.runId, "interrupt").catch(() => undefined);
      });
    }
    for await (const { id, event, data } of handle.log.follow(options.lastEventId, sse.signal)) await sse.send(event, data, id);
    sse.end();
  };

  /** The body of `wait` and `join`: the final values, or `{__error__}` as the official server does. */
  const outcomeBody = async (handle: RunHandle) => {
    const outcome = await handle.done;
    if (outcome.error) return { __error__: outcome.error };
    if (outcome.values) return toWire(outcome.values);
    return toWire((await agent.getState({ configurable: { thread_id: handle.run.threadId } })).values);
  };

  /**
   * Answers with `body` once it resolves. Until then a newline goes out every second, as the
   * official server does, so proxies with idle timeouts keep long waits open (leading
   * whitespace is valid JSON).
   */
  const respondWhenDone = async (response: Response, body: Promise<unknown>) => {
    const keepAlive = setInterval(() => {
      if (!response.headersSent) response.writeHead(200, { "content-type": "application/json; charset=utf-8" });
      response.write("\n");
    }, KEEP_ALIVE_MS);
    try {
      const value = await body;
      if (response.headersSent) response.end(JSON.stringify(value));
      else response.json(value);
    } finally {
      clearInterval(keepAlive);
    }
  };

  const wait = async (request: Request, response: Response, stateless: boolean) => {
    const { handle, body } = await create(request, response, stateless);
    if (body.on_disconnect === "cancel") {
      response.on("close", () => {
        if (!handle.finished) void runs.cancel(handle.run.threadId, handle.run.runId, "interrupt").catch(() => undefined);
      });
    }
    await respondWhenDone(response, outcomeBody(handle));
  };

  const stream = async (request: Request, response: Response, stateless: boolean) => {
    const { handle, body } = await create(request, response, stateless);
    await streamRun(handle, response, { cancelOnDisconnect: body.on_disconnect === "cancel" });
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
    const handle = runs.handle(run_id);
    if (!handle || handle.owner !== ownerOf(response)) throw new NotFoundError(`Run ${run_id} not found, or it ended too long ago to be joined`);
    await streamRun(handle, response, { cancelOnDisconnect: query.cancel_on_disconnect, lastEventId: request.header("last-event-id") });
  });

  router.get("/threads/:thread_id/runs", async (request, response) => {
    const { thread_id } = parseInput(ThreadPath, request.params, "path");
    const query = parseInput(RunListQuery, request.query, "query");
    await requireThread(thread_id, response);
    response.json((await store.listRuns(thread_id, query)).map(runToWire));
  });

  /** The thread, if it exists and the caller may see it; otherwise 404. */
  const requireThread = async (threadId: string, response: Response) => {
    const thread = await store.getThread(threadId, ownerOf(response));
    if (!thread) throw new NotFoundError(`Thread ${threadId} not found`);
    return thread;
  };

  const requireRun = async (threadId: string, runId: string, response: Response) => {
    await requireThread(threadId, response);
    const run = await store.getRun(threadId, runId);
    if (!run) throw new NotFoundError(`Run ${runId} not found on thread ${threadId}`);
    return run;
  };

  /**
   * Waits for a run held by another instance to end (or not to exist), polling its record;
   * `undefined` when `signal` fires first: the client left, so nobody waits any more.
   */
  const finishedElsewhere = async (threadId: string, runId: string, signal: AbortSignal, response?: Response): Promise<Run | undefined> => {
    while (!signal.aborted) {
      const run = response ? await requireRun(threadId, runId, response) : await store.getRun(threadId, runId);
      if (!run || (run.status !== "pending" && run.status !== "running")) {
        if (!run) throw new NotFoundError(`Run ${runId} not found on thread ${threadId}`);
        return run;
      }
      await sleep(REMOTE_POLL_MS, undefined, { signal }).catch(() => undefined);
    }
    return undefined;
  };

  /**
   * Streams the events another instance relayed for a run: what is stored after `lastEventId`,
   * then new ones as they arrive, until the run has ended and every event was sent.
   */
  const relayedEvents = async (events: RunEventStore, threadId: string, runId: string, lastEventId: string | undefined, sse: SseStream) => {
    let after = lastEventId === undefined ? -1 : Number.parseInt(lastEventId, 10);
    if (Number.isNaN(after)) after = -1;
    while (!sse.signal.aborted) {
      const run = await store.getRun(threadId, runId);
      const ended = !run || (run.status !== "pending" && run.status !== "running");
      for (const stored of await events.runEventsAfter(runId, after)) {
        await sse.send(stored.event as SseEvent, JSON.parse(stored.data), String(stored.seq));
        after = stored.seq;
      }
      // Events are stored before a run is marked ended: once ended, all were read above.
      if (ended) return;
      await sleep(REMOTE_POLL_MS, undefined, { signal: sse.signal }).catch(() => undefined);
    }
  };

  router.get("/threads/:thread_id/runs/:run_id", async (request, response) => {
    const { thread_id, run_id } = parseInput(RunPath, request.params, "path");
    response.json(runToWire(await requireRun(thread_id, run_id, response)));
  });

  router.delete("/threads/:thread_id/runs/:run_id", async (request, response) => {
    const { thread_id, run_id } = parseInput(RunPath, request.params, "path");
    await requireThread(thread_id, response);
    const handle = runs.handle(run_id);
    if (handle && handle.run.threadId === thread_id && !handle.finished) {
      response.status(409).json({ detail: `Run ${run_id} is ${handle.run.status}; cancel it before deleting it` });
      return;
    }
    if (!(await store.deleteRun(thread_id, run_id))) throw new NotFoundError(`Run ${run_id} not found on thread ${thread_id}`);
    response.status(204).end();
  });

  router.post("/threads/:thread_id/runs/:run_id/cancel", async (request, response) => {
    const { thread_id, run_id } = parseInput(RunPath, request.params, "path");
    const query = parseInput(RunCancelQuery, request.query, "query");
    await requireThread(thread_id, response);
    const handle = await runs.cancel(thread_id, run_id, query.action);
    if (query.wait) {
      if (handle) await handle.done;
      else await finishedElsewhere(thread_id, run_id, responseClosed(response));
    }
    response.status(query.wait ? 204 : 202).end();
  });

  router.get("/threads/:thread_id/runs/:run_id/join", async (request, response) => {
    const { thread_id, run_id } = parseInput(RunPath, request.params, "path");
    await requireThread(thread_id, response);
    const handle = runs.handle(run_id);
    if (handle && handle.run.threadId === thread_id) {
      await respondWhenDone(response, outcomeBody(handle));
      return;
    }
    // A run this instance does not hold (finished long ago, or running on another instance).
    const run = await finishedElsewhere(thread_id, run_id, responseClosed(response), response);
    if (!run) return;
    if (run.status === "error") {
      response.json({ __error__: { error: "RunError", message: `Run ${run_id} failed; its events were on another instance` } });
      return;
    }
    response.json(toWire((await agent.getState({ configurable: { thread_id } })).values));
  });

  router.get("/threads/:thread_id/runs/:run_id/stream", async (request, response) => {
    const { thread_id, run_id } = parseInput(RunPath, request.params, "path");
    const query = parseInput(JoinStreamQuery, request.query, "query");
    await requireThread(thread_id, response);
    const handle = runs.handle(run_id);
    if (!handle || handle.run.threadId !== thread_id) {
      // Not held here: finished long ago, or running on another instance. Its token events are
      // there; here the stream says when it ends and what the thread holds then.
      const known = await requireRun(thread_id, run_id, response);
      const sse = openSse(response, { maxBufferedBytes: deps.streamBufferBytes });
      if (relaysRunEvents(store)) {
        await relayedEvents(store, thread_id, run_id, request.header("last-event-id"), sse);
      } else if (known.status === "pending" || known.status === "running") {
        await sse.send("metadata", { run_id, thread_id, attempt: 1 });
        // No run: the client left, there is nothing more to send.
        const run = await finishedElsewhere(thread_id, run_id, sse.signal);
        if (run?.status === "error") await sse.send("error", { error: "RunError", message: `Run ${run_id} failed` });
        else if (run) await sse.send("values", toWire((await agent.getState({ configurable: { thread_id } })).values));
      }
      sse.end();
      return;
    }
    await streamRun(handle, response, { cancelOnDisconnect: query.cancel_on_disconnect, lastEventId: request.header("last-event-id") });
  });

  return router;
}
