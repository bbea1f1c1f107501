/**
 * Thread search by values (`values` of POST /threads/search and /threads/count): a thread matches
 * when its current values contain the filter, as jsonb's `@>` decides (the official server's rule;
 * its in-memory store also lets a thread that never had values match any filter, where here a new
 * thread's values are `{}`, matched only by filters `{}` contains, as PostgreSQL's `@>` would).
 *
 * Where the answer comes from. Each thread record keeps a projection of its current values, in
 * the API's JSON form, updated wherever its state changes (a run's end, a state write, a copy):
 * every channel but `messages`. Filters on those channels are answered by the database alone
 * (a GIN index on PostgreSQL), reading no checkpoint.
 *
 * `messages` is left out on purpose: a second copy of every conversation would double what the
 * service keeps at rest, and no small index of messages (ids, types, lengths) can answer
 * containment of arbitrary message content exactly. A filter on `messages` is answered exactly
 * instead: the database picks the threads that match every other filter (its values too), in the
 * requested order, and only those threads' states are read and checked, page by page, until the
 * requested page is full. At most `MESSAGES_FILTER_MAX_READS` states are read per request; past
 * that the request is refused (422) and asks for narrower filters, rather than answered partly.
 */
import { ValidationError } from "../errors.js";
import type { Agent } from "../graph/agent.js";
import type { Logger } from "../logger.js";
import { jsonContains } from "../storage/json-containment.js";
import type { Storage } from "../storage/storage.js";
import type { Thread, ThreadFilter, ThreadSearch } from "../storage/threads.js";
import { toWire } from "./wire.js";

/** Most thread states one search or count with a `messages` filter reads. */
export const MESSAGES_FILTER_MAX_READS = 1000;
/** Candidates fetched from the database at a time while checking a `messages` filter. */
const CANDIDATE_PAGE = 100;

/** What is kept of a thread's values for search: every channel but `messages`, in the API's JSON form. */
export function valuesProjection(values: Record<string, unknown>): Record<string, unknown> {
  // Left out before the conversion: a long thread's messages are most of its values.
  const { messages: _messages, ...rest } = values;
  return toWire(rest) as Record<string, unknown>;
}

/** The thread's current values in the API's JSON form. */
export async function currentValues(agent: Agent, threadId: string): Promise<Record<string, unknown>> {
  return toWire((await agent.getState({ configurable: { thread_id: threadId } })).values ?? {}) as Record<string, unknown>;
}

/** Records the projection of the thread's values (read from its state unless given). */
export async function recordThreadValues(deps: { agent: Agent; storage: Storage }, threadId: string, values?: Record<string, unknown>): Promise<void> {
  await deps.storage.threads.setThreadValues(threadId, valuesProjection(values ?? (await currentValues(deps.agent, threadId))));
}

/** A search result: the thread, and its values when they were read to check it. */
export interface ValuesMatch {
  thread: Thread;
  values?: Record<string, unknown>;
}

/** Splits a values filter into what the stored projection answers and the `messages` part. */
function splitFilter(values: Record<string, unknown> | undefined): { stored: Record<string, unknown> | undefined; messages: unknown } {
  if (!values || !Object.hasOwn(values, "messages")) return { stored: values, messages: undefined };
  const { messages, ...stored } = values;
  return { stored, messages };
}

/**
 * Walks the threads matching `filter` but its `messages` part, in the search's order, and yields
 * those whose state matches it too; reads at most `MESSAGES_FILTER_MAX_READS` states.
 */
async function* checkedMatches(deps: { agent: Agent; storage: Storage }, search: ThreadSearch, messages: unknown): AsyncGenerator<ValuesMatch> {
  const wanted = { messages };
  let read = 0;
  for (let offset = 0; ; offset += CANDIDATE_PAGE) {
    const candidates = await deps.storage.threads.searchThreads({ ...search, values: splitFilter(search.values).stored, limit: CANDIDATE_PAGE, offset });
    for (const thread of candidates) {
      if (++read > MESSAGES_FILTER_MAX_READS) throw tooManyCandidates();
      const values = await currentValues(deps.agent, thread.threadId);
      if (jsonContains(values, wanted)) yield { thread, values };
    }
    if (candidates.length < CANDIDATE_PAGE) return;
  }
}

const tooManyCandidates = () =>
  new ValidationError(
    `a values filter on messages checks each thread's messages, and more than ${MESSAGES_FILTER_MAX_READS} threads match the other filters: narrow them (metadata, status, ids, other values)`,
  );

/** One page of threads matching `search`, values filter included (see the module's comment). */
export async function searchThreads(deps: { agent: Agent; storage: Storage }, search: ThreadSearch): Promise<ValuesMatch[]> {
  const { messages } = splitFilter(search.values);
  if (messages === undefined) return (await deps.storage.threads.searchThreads(search)).map((thread) => ({ thread }));
  const page: ValuesMatch[] = [];
  let skipped = 0;
  for await (const match of checkedMatches(deps, search, messages)) {
    if (skipped < search.offset) skipped += 1;
    else page.push(match);
    if (page.length === search.limit) break;
  }
  return page;
}

/** How many threads match `filter`, values filter included. */
export async function countThreads(deps: { agent: Agent; storage: Storage }, filter: ThreadFilter): Promise<number> {
  const { messages } = splitFilter(filter.values);
  if (messages === undefined) return deps.storage.threads.countThreads(filter);
  // A count reads every candidate: refuse before reading any when there are too many.
  if ((await deps.storage.threads.countThreads({ ...filter, values: splitFilter(filter.values).stored })) > MESSAGES_FILTER_MAX_READS) throw tooManyCandidates();
  let count = 0;
  const all: ThreadSearch = { ...filter, limit: CANDIDATE_PAGE, offset: 0, sortBy: "created_at", sortOrder: "asc" };
  for await (const _match of checkedMatches(deps, all, messages)) count += 1;
  return count;
}

/**
 * Records the values projection of threads that have none (those of a release before it), a
 * batch at a time, so that `values` filters find them; runs in the background at start. Never
 * overwrites a projection written meanwhile (a run that ended). Several instances may run it at
 * once: they write the same thing.
 */
export async function backfillThreadValues(deps: { agent: Agent; storage: Storage; logger: Logger }, signal?: AbortSignal): Promise<number> {
  let filled = 0;
  const failed = new Set<string>();
  for (;;) {
    const batch = (await deps.storage.threads.threadsWithoutValues(CANDIDATE_PAGE + failed.size)).filter((threadId) => !failed.has(threadId));
    if (batch.length === 0 || signal?.aborted) break;
    for (const threadId of batch) {
      try {
        if (await deps.storage.threads.setThreadValues(threadId, valuesProjection(await currentValues(deps.agent, threadId)), { onlyIfMissing: true })) filled += 1;
      } catch (error) {
        // One unreadable thread must not stop the others, nor be retried forever.
        failed.add(threadId);
        deps.logger.warn({ err: error, threadId }, "could not record a thread's values for search");
      }
    }
  }
  if (filled > 0) deps.logger.info({ threads: filled }, "recorded the values of threads of an earlier release, for search");
  return filled;
}
