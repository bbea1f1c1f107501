/**
 * Joining a run: waiting for its end or streaming its events, whether this instance holds it
 * (its handle: every event, from memory) or not (finished long ago, or running on another
 * instance: its events relayed through the database where the storage relays them, else only its
 * end and what the thread holds then). Whoever polls the database stops when the client leaves.
 */
import type { Response } from "express";
import { setTimeout as sleep } from "node:timers/promises";
import { NotFoundError } from "../../errors.js";
import type { AppDeps } from "../app-deps.js";
import { type SseEvent, openSse } from "../sse.js";
import type { RunEventStore } from "../../storage/run-events.js";
import type { Run, RunRepository } from "../../storage/runs.js";
import type { Storage } from "../../storage/storage.js";
import { toWire } from "../wire.js";
import { requireRun } from "./lookup.js";
import { outcomeBody, respondWhenDone, streamHandle } from "./respond.js";
import type { RunHandle } from "./run-handle.js";

/** How often a run held by another instance is checked on. */
const REMOTE_POLL_MS = 100;

/** What joining needs of the app. */
export type JoinDeps = Pick<AppDeps, "runs" | "storage" | "agent" | "streamBufferBytes" | "metrics">;

/** How a client joins a run's stream. */
export interface JoinStreamOptions {
  cancelOnDisconnect: boolean;
  /** The `Last-Event-ID` header: resume after that event. */
  lastEventId: string | undefined;
}

/** Fires when the response closes: the client left (or it was sent). */
function responseClosed(response: Response): AbortSignal {
  const closed = new AbortController();
  response.once("close", () => closed.abort());
  return closed.signal;
}

/**
 * Waits for a run this instance does not hold to end, polling its record through `lookup` (which
 * throws or returns `null` for a run that does not exist: NotFoundError); `undefined` when
 * `signal` fires first: the client left, so nobody waits any more.
 */
export async function endedElsewhere<T extends Pick<Run, "status">>(lookup: () => Promise<T | null>, threadId: string, runId: string, signal: AbortSignal): Promise<T | undefined> {
  while (!signal.aborted) {
    const run = await lookup();
    if (!run) throw new NotFoundError(`Run ${runId} not found on thread ${threadId}`);
    if (run.status !== "pending" && run.status !== "running") return run;
    await sleep(REMOTE_POLL_MS, undefined, { signal }).catch(() => undefined);
  }
  return undefined;
}

/**
 * Resolves once a cancelled run has ended: `handle` when this instance holds it, else by its
 * record (NotFoundError when it has none), or when the client leaves first.
 */
export async function awaitCancelled(storage: Storage, handle: RunHandle | undefined, threadId: string, runId: string, response: Response): Promise<void> {
  if (handle) await handle.done;
  else await endedElsewhere(() => storage.runs.getRun(threadId, runId), threadId, runId, responseClosed(response));
}

/**
 * `join`: answers with the run's final values (or `{__error__}`) once it ends. A run this instance
 * does not hold is polled until it ends; its thread must stay visible to `owner` meanwhile.
 */
export async function joinRun(deps: JoinDeps, threadId: string, runId: string, owner: string | undefined, response: Response): Promise<void> {
  const handle = deps.runs.handle(runId);
  if (handle && handle.run.threadId === threadId) {
    await respondWhenDone(response, outcomeBody(deps.agent, handle));
    return;
  }
  // A run this instance does not hold (finished long ago, or running on another instance).
  const run = await endedElsewhere(() => requireRun(deps.storage, threadId, runId, owner), threadId, runId, responseClosed(response));
  if (!run) return;
  if (run.status === "error") {
    response.json({ __error__: { error: "RunError", message: `Run ${runId} failed; its events were on another instance` } });
    return;
  }
  response.json(toWire((await deps.agent.getState({ configurable: { thread_id: threadId } })).values));
}

/** `/runs/{run_id}/stream`: joins the stream of a stateless run this instance holds for `owner`. */
export async function joinStatelessStream(deps: JoinDeps, runId: string, owner: string | undefined, response: Response, options: JoinStreamOptions): Promise<void> {
  const handle = deps.runs.handle(runId);
  if (!handle || handle.owner !== owner) throw new NotFoundError(`Run ${runId} not found, or it ended too long ago to be joined`);
  await streamHandle(deps.runs, handle, response, { ...options, maxBufferedBytes: deps.streamBufferBytes, streams: deps.metrics.sseStreams });
}

/** `/threads/{thread_id}/runs/{run_id}/stream`: joins a run's stream, held here or not. */
export async function joinRunStream(
  deps: JoinDeps,
  threadId: string,
  runId: string,
  owner: string | undefined,
  response: Response,
  options: JoinStreamOptions,
): Promise<void> {
  const handle = deps.runs.handle(runId);
  if (handle && handle.run.threadId === threadId) {
    await streamHandle(deps.runs, handle, response, { ...options, maxBufferedBytes: deps.streamBufferBytes, streams: deps.metrics.sseStreams });
    return;
  }
  // Not held here: finished long ago, or running on another instance. Its token events are
  // there; here the stream says when it ends and what the thread holds then.
  const known = await requireRun(deps.storage, threadId, runId, owner);
  const sse = openSse(response, { maxBufferedBytes: deps.streamBufferBytes, streams: deps.metrics.sseStreams });
  if (deps.storage.runEvents) {
    const after = options.lastEventId === undefined ? -1 : Number.parseInt(options.lastEventId, 10);
    const send = (event: SseEvent, data: unknown, seq: number) => sse.send(event, data, String(seq));
    await relayedEvents(deps.storage.runs, deps.storage.runEvents, threadId, runId, Number.isNaN(after) ? -1 : after, sse.signal, send);
  } else if (known.status === "pending" || known.status === "running") {
    await sse.send("metadata", { run_id: runId, thread_id: threadId, attempt: 1 });
    // No run: the client left, there is nothing more to send.
    const run = await endedElsewhere(() => deps.storage.runs.getRun(threadId, runId), threadId, runId, sse.signal);
    if (run?.status === "error") await sse.send("error", { error: "RunError", message: `Run ${runId} failed` });
    else if (run) await sse.send("values", toWire((await deps.agent.getState({ configurable: { thread_id: threadId } })).values));
  }
  sse.end();
}

/**
 * Passes on the events another instance relayed for a run: what is stored after the event
 * numbered `after` (-1: all), then new ones as they arrive, until the run has ended and every
 * event was sent, or `signal` fires.
 */
export async function relayedEvents(
  runs: RunRepository,
  runEvents: RunEventStore,
  threadId: string,
  runId: string,
  after: number,
  signal: AbortSignal,
  send: (event: SseEvent, data: unknown, seq: number) => Promise<void>,
): Promise<void> {
  while (!signal.aborted) {
    const run = await runs.getRun(threadId, runId);
    const ended = !run || (run.status !== "pending" && run.status !== "running");
    for (const stored of await runEvents.runEventsAfter(runId, after)) {
      await send(stored.event as SseEvent, JSON.parse(stored.data), stored.seq);
      after = stored.seq;
    }
    // Events are stored before a run is marked ended: once ended, all were read above.
    if (ended) return;
    await sleep(REMOTE_POLL_MS, undefined, { signal }).catch(() => undefined);
  }
}
