/**
 * Titles for chats nobody named: when a thread's first run succeeds and the thread has no
 * `title` in its metadata, one short model call (the run's model, see src/graph/thread-title.ts)
 * names it, and the name is stored as `metadata.title`.
 *
 * Never in the way: it starts after the run's outcome is recorded and its waiters answered, in
 * the background; it is not in the run's stream nor in the thread's state; a failure (no
 * provider, an error, an empty answer) only leaves the thread untitled, logged at `warn`; and a
 * title the user set meanwhile wins, the generated one being written only where none is
 * (`setMetadataIfAbsent`). Off with `TITLE_GENERATION=off`.
 */
import { setMaxListeners } from "node:events";
import type { Agent } from "../../graph/agent.js";
import { titleModelOf } from "../../graph/agent.js";
import { firstExchange, generateTitle } from "../../graph/thread-title.js";
import type { BaseMessage } from "@langchain/core/messages";
import type { Storage } from "../../storage/storage.js";
import type { RunHandle, RunOutcome } from "./run-handle.js";
import { runConfigurable } from "./run-request.js";
import { withDeadline } from "../../graph/deadline.js";

/** Time one title call may take. */
const TITLE_TIMEOUT_MS = 30_000;

/** What titling needs. */
export interface ThreadTitlesDeps {
  agent: Agent;
  storage: Storage;
  /** `TITLE_GENERATION=on`. */
  enabled: boolean;
}

/** Starts titles after runs, and lets shutdown (and tests) wait for those under way. */
export class ThreadTitles {
  readonly #pending = new Set<Promise<void>>();
  readonly #stopping = new AbortController();

  constructor(private readonly deps: ThreadTitlesDeps) {
    // Each title under way listens to it, and a busy server titles many chats at once: no
    // "possible memory leak" warning at the eleventh (each listener goes when its title ends).
    setMaxListeners(0, this.#stopping.signal);
  }

  /** After a run has ended and been recorded: titles its thread in the background when it should (see the module comment). */
  afterRun(handle: RunHandle, outcome: RunOutcome): void {
    if (!this.deps.enabled || this.#stopping.signal.aborted) return;
    if (outcome.status !== "success" || handle.temporary || handle.threadTitled || handle.threadStatusAfter === "interrupted") return;
    const messages = (outcome.values as { messages?: BaseMessage[] } | null)?.messages;
    const exchange = Array.isArray(messages) ? firstExchange(messages) : undefined;
    if (!exchange) return;
    const work = this.#title(handle, exchange).catch((error: unknown) => {
      const level = this.#stopping.signal.aborted ? "debug" : "warn";
      handle.logger[level]({ err: error }, "could not generate a title for the thread");
    });
    this.#pending.add(work);
    void work.finally(() => this.#pending.delete(work));
  }

  async #title(handle: RunHandle, exchange: NonNullable<ReturnType<typeof firstExchange>>): Promise<void> {
    const { agent, storage } = this.deps;
    const { logger } = handle;
    const { threadId, runId } = handle.run;
    const thread = await storage.threads.getThread(threadId);
    if (!thread || (thread.metadata.title !== undefined && thread.metadata.title !== null)) return;
    // Only the thread's first successful run: a chat whose title failed once is left alone after.
    const successes = await storage.runs.listRuns(threadId, { limit: 2, offset: 0, status: "success" });
    if (successes.length !== 1 || successes[0]!.runId !== runId) return;
    const model = titleModelOf(agent, { configurable: runConfigurable(threadId, handle.body, handle.assistant, handle.owner) });
    if (!model) return;
    const title = await withDeadline(TITLE_TIMEOUT_MS, this.#stopping.signal, (signal) => generateTitle(model, exchange, { signal }));
    if (title === undefined) {
      logger.warn("the model's answer held no title for the thread");
      return;
    }
    const written = await storage.threads.setMetadataIfAbsent(threadId, "title", title);
    logger.debug({ title, written }, written ? "titled the thread" : "the thread was named meanwhile: generated title dropped");
  }

  /** Resolves once every title under way has been stored or given up. */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Aborts the titles under way (titles are optional) and waits for them; none start after. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.settled();
  }
}
