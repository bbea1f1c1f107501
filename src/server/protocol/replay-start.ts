/**
 * Where a subscription that names no `since` starts: at the thread's current run, as the
 * protocol's per-run event buffer would. The thread keeps its previous run's events too (for
 * `since` after a restart or from another instance), but a new stream that replayed them would
 * hand the client that run's end first: the SDK's ThreadStream (and RemoteGraph on it) then stops
 * at that old `completed`, before the run it just started has said anything.
 */
import type { AppDeps } from "../app-deps.js";

const ACTIVE = new Set(["pending", "running"]);

/**
 * The number after which a subscription without `since` replays: before the newest run's first
 * event, or after its last when that run has ended and another is queued or starting (its
 * events come next); 0 when the thread has none.
 */
export async function currentRunStart(deps: Pick<AppDeps, "runs" | "storage">, threadId: string): Promise<number> {
  const { runId, events } = await deps.runs.feed.runEvents(threadId);
  const first = events[0];
  if (runId === undefined || first === undefined) return 0;
  const run = await deps.storage.runs.getRun(threadId, runId);
  if (run && ACTIVE.has(run.status)) return first.seq - 1;
  if (!(await deps.storage.runs.hasActiveRuns(threadId))) return first.seq - 1;
  // Ended, so all its events are stored by now: read its last again (it may have gone on since).
  const ended = await deps.runs.feed.runEvents(threadId, runId);
  return ended.events.at(-1)?.seq ?? first.seq - 1;
}
