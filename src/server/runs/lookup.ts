/** Threads and runs as their caller may see them: a thread of another owner does not exist. */
import { NotFoundError } from "../../errors.js";
import type { Run } from "../../storage/runs.js";
import type { Storage } from "../../storage/storage.js";
import type { Thread } from "../../storage/threads.js";

/** The thread, if it exists and `owner` may see it; otherwise NotFoundError (404). */
export async function requireThread(storage: Storage, threadId: string, owner: string | undefined): Promise<Thread> {
  const thread = await storage.threads.getThread(threadId, owner);
  if (!thread) throw new NotFoundError(`Thread ${threadId} not found`);
  return thread;
}

/** The run, if it and its thread exist and `owner` may see the thread; otherwise NotFoundError (404). */
export async function requireRun(storage: Storage, threadId: string, runId: string, owner: string | undefined): Promise<Run> {
  await requireThread(storage, threadId, owner);
  const run = await storage.runs.getRun(threadId, runId);
  if (!run) throw new NotFoundError(`Run ${runId} not found on thread ${threadId}`);
  return run;
}
