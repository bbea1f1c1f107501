/**
 * Joining a thread's stream (`GET /threads/{thread_id}/stream`, the SDK's `threads.joinStream`):
 * the events of the run active on the thread, then of each run after it, one run after the
 * other, for as long as the client stays. A run held here is followed from its log, one that
 * another instance executes from the events it relays through the database. After each run a
 * `metadata` event `{status: "run_done", run_id}` says it ended, as the official server sends.
 *
 * Event ids are `<run_id>:<n>` (`<run_id>:done` for the end), so a client resumes with
 * `Last-Event-ID` after the last event it got; `-` replays every run whose events are still
 * kept. Without it the stream starts with the runs not finished yet, each from its first event.
 * With `stream_mode=state_update`, clients' writes to the thread's state made through this
 * instance come as `state_update` events.
 */
import type { Response } from "express";
import type { AppDeps } from "../app-deps.js";
import type { ThreadStreamMode } from "../schemas.js";
import { type SseEvent, type SseStream, openSse } from "../sse.js";
import type { JoinDeps } from "./join.js";
import { endedElsewhere, relayedEvents } from "./join.js";
import type { StateUpdate } from "./state-updates.js";

/** How often an idle thread is checked for a new run (here or on another instance). */
const THREAD_POLL_MS = 250;
/** Runs of the thread looked at on each check: the newest, which include every unfinished one. */
const RECENT_RUNS = 100;

/** A run of the thread that the stream may follow. */
interface Candidate {
  runId: string;
  createdAt: number;
  active: boolean;
}

/** Where a stream starts: with the runs still active, after an event, or from every run still known. */
type Start = { kind: "active" } | { kind: "everything" } | { kind: "after"; runId: string; seq: number | "done" };

/** Reads `Last-Event-ID`: `-` for everything, `<run_id>:<n>` or `<run_id>:done` to resume. */
export function parseStart(lastEventId: string | undefined): Start {
  if (lastEventId === undefined || lastEventId === "") return { kind: "active" };
  if (lastEventId === "-") return { kind: "everything" };
  const separator = lastEventId.lastIndexOf(":");
  const runId = lastEventId.slice(0, separator);
  const seq = lastEventId.slice(separator + 1);
  if (separator <= 0 || !(seq === "done" || /^\d+$/.test(seq))) return { kind: "everything" };
  return { kind: "after", runId, seq: seq === "done" ? "done" : Number(seq) };
}

const byAge = (a: Candidate, b: Candidate) => a.createdAt - b.createdAt || (a.runId < b.runId ? -1 : a.runId > b.runId ? 1 : 0);

/**
 * Streams the thread's runs to `response` until the client leaves or the thread is gone. Call it
 * once the thread was found for `owner`: from here on, problems are `error` events.
 */
export async function streamThread(
  deps: JoinDeps & Pick<AppDeps, "logger">,
  threadId: string,
  owner: string | undefined,
  response: Response,
  options: { modes: readonly ThreadStreamMode[]; lastEventId: string | undefined },
): Promise<void> {
  const { storage, runs } = deps;
  const sse = openSse(response, { maxBufferedBytes: deps.streamBufferBytes, streams: deps.metrics.sseStreams });
  const wanted = (event: SseEvent) => options.modes.includes("run_modes") || (options.modes.includes("lifecycle") && (event === "metadata" || event === "error"));
  const announceEnd = options.modes.includes("run_modes") || options.modes.includes("lifecycle");

  const candidates = async (): Promise<Candidate[]> => {
    const found = new Map<string, Candidate>();
    for (const run of await storage.runs.listRuns(threadId, { limit: RECENT_RUNS, offset: 0 })) {
      found.set(run.runId, { runId: run.runId, createdAt: run.createdAt.getTime(), active: run.status === "pending" || run.status === "running" });
    }
    // Runs held here whose record is not written yet, or was deleted by a rollback while running.
    for (const handle of runs.unfinished()) {
      if (handle.run.threadId === threadId) found.set(handle.run.runId, { runId: handle.run.runId, createdAt: handle.run.createdAt.getTime(), active: true });
    }
    return [...found.values()].sort(byAge);
  };

  /** Runs already passed (or not to be streamed), and where to resume inside one. */
  const passed = new Set<string>();
  let resume: { runId: string; after: number } | undefined;
  const start = parseStart(options.lastEventId);
  const initial = await candidates();
  if (start.kind === "active") for (const candidate of initial) if (!candidate.active) passed.add(candidate.runId);
  if (start.kind === "after") {
    const from = initial.find((candidate) => candidate.runId === start.runId);
    for (const candidate of initial) if (from ? byAge(candidate, from) < 0 : candidate.runId < start.runId) passed.add(candidate.runId);
    if (start.seq === "done") passed.add(start.runId);
    else resume = { runId: start.runId, after: start.seq };
  }

  // A write can only happen while no run holds the thread, so it falls between two runs: it is
  // sent once every run created before it was. It has no id: resuming after one would otherwise
  // skip nothing, or everything.
  const writes: Array<{ at: number; update: StateUpdate }> = [];
  let wakeUp: () => void = () => undefined;
  const unsubscribe = options.modes.includes("state_update")
    ? runs.stateUpdates.subscribe(threadId, (update) => {
        writes.push({ at: Date.now(), update });
        wakeUp();
      })
    : () => undefined;
  try {
    while (!sse.signal.aborted) {
      const next = (await candidates()).find((candidate) => !passed.has(candidate.runId));
      while (writes.length > 0 && (!next || (writes[0]?.at ?? 0) <= next.createdAt)) await sse.send("state_update", writes.shift()?.update);
      if (!next) {
        // Idle: stop if the thread was deleted (or is no longer the caller's), else look again soon.
        if (!(await storage.threads.getThread(threadId, owner))) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(awake, THREAD_POLL_MS);
          function awake() {
            clearTimeout(timer);
            sse.signal.removeEventListener("abort", awake);
            wakeUp = () => undefined;
            resolve();
          }
          wakeUp = awake;
          sse.signal.addEventListener("abort", awake, { once: true });
        });
        continue;
      }
      passed.add(next.runId);
      const after = resume?.runId === next.runId ? resume.after : -1;
      const sent = await forwardRun(deps, threadId, next, after, sse, wanted);
      // A run that ended before the stream reached it, with its events gone, leaves no trace.
      if (announceEnd && !sse.signal.aborted && (sent > 0 || next.active || after >= 0)) {
        await sse.send("metadata", { status: "run_done", run_id: next.runId }, `${next.runId}:done`);
      }
    }
  } catch (error) {
    deps.logger.error({ err: error, threadId }, "thread stream failed");
    const message = "The thread's stream failed; reconnect with Last-Event-ID to resume";
    if (!sse.signal.aborted) await sse.send("error", { error: "ThreadStreamError", message });
  } finally {
    unsubscribe();
    sse.end();
  }
}

/**
 * Sends the events of one run after its event `after` (-1: all) that `wanted` lets through,
 * until it has ended; returns how many of its events there were to send.
 */
async function forwardRun(deps: JoinDeps, threadId: string, candidate: Candidate, after: number, sse: SseStream, wanted: (event: SseEvent) => boolean): Promise<number> {
  const { runId } = candidate;
  let count = 0;
  const send = async (event: SseEvent, data: unknown, seq: number | string) => {
    count += 1;
    if (wanted(event)) await sse.send(event, data, `${runId}:${seq}`);
  };
  const handle = deps.runs.handle(runId);
  if (handle && handle.run.threadId === threadId) {
    for await (const { id, event, data } of handle.log.follow(after < 0 ? undefined : String(after), sse.signal)) await send(event, data, id);
  } else if (deps.storage.runEvents) {
    await relayedEvents(deps.storage.runs, deps.storage.runEvents, threadId, runId, after, sse.signal, send);
  } else if (candidate.active) {
    // Executed by an instance that relays nothing: all there is to say is when it ends (a run
    // deleted meanwhile, by a rollback, has ended too).
    await endedElsewhere(async () => (await deps.storage.runs.getRun(threadId, runId)) ?? { status: "interrupted" }, threadId, runId, sse.signal);
  }
  return count;
}
