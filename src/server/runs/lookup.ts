/** Threads and runs as their caller may see them: a thread of another owner does not exist. */
import { NotFoundError } from "../../errors.js";
import type { Run, Thread, ThreadStore } from "../../storage/thread-store.js";

/** The thread, if it exists and `owner` may see it; otherwise NotFoundError (404). */
export async function requireThread(store: ThreadStore, threadId: string, owner: string | undefined): Promise<Thread> {
  const thread = await store.getThread(threadId, owner);
  if (!thread) throw new NotFoundError(`Thread ${threadId} not found`);
  return thread;
}

/** The run, if it and its thread exist and `owner` may see the thread; otherwise NotFoundError (404). */
export async function requireRun(store: ThreadStore, threadId: string, runId: string, owner: string | undefined): Promise<Run> {
  await requireThread(store, threadId, owner);
  const run = await store.getRun(threadId, runId);
  if (!run) throw new NotFoundError(`Run ${runId} not found on thread ${threadId}`);
  return run;
}
