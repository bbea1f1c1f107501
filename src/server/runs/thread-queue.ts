/**
 * The per-thread lease: one run at a time per thread, the others queued in order, and state
 * writes (`hold`) that keep runs out while they last. Within this process the queue decides;
 * across instances the database does (`claimRun`, `holdThread`), and a run waits for its claim.
 */
import { setImmediate, setTimeout as sleep } from "node:timers/promises";
import { NotFoundError, ThreadBusyError } from "../../errors.js";
import type { Run } from "../../storage/runs.js";
import type { Storage } from "../../storage/storage.js";
import type { RunHandle } from "./run-handle.js";

/** How often a run waiting for another instance to free its thread asks again. */
const CLAIM_POLL_MS = 50;

/**
 * Waits until the database gives `run` its thread (no other instance runs it, no older run waits
 * there), recording it as started at the thread's newest checkpoint (`headCheckpointId` reads
 * it); rejects with `signal`'s reason once it fires, asking no more, and with a 404 once the
 * thread is gone: deleted through another instance, it took the run's record with it (a delete
 * through this process cancels the run), so no claim could ever succeed. A claim that succeeds
 * found the record, so the thread was there.
 */
export async function waitForClaim(storage: Storage, run: Run, signal: AbortSignal, headCheckpointId: () => Promise<string | undefined>): Promise<void> {
  while (!(await storage.runs.claimRun(run.runId, run.threadId, headCheckpointId))) {
    if (!(await storage.threads.threadExists(run.threadId))) throw new NotFoundError(`Thread ${run.threadId} was deleted`);
    await sleep(CLAIM_POLL_MS, undefined, { signal });
  }
}

/** What the queue has done when a thread's turn comes or its queue empties. */
export interface QueueWork {
  /** Executes a run whose turn came. */
  execute(handle: RunHandle): Promise<void>;
  /** Writes only the input of a run stopped with `interrupt` while queued (it has ended already). */
  keepInput(handle: RunHandle): Promise<void>;
  /** Sets an idle thread's status after its last run (`undefined`: none ran since the lease began). */
  settleThreadStatus(threadId: string, last: RunHandle | undefined): Promise<void>;
}

interface ThreadSlot {
  active: RunHandle | undefined;
  queue: RunHandle[];
  /** The run that ended last, which decides the thread's status once idle. */
  last: RunHandle | undefined;
  /** A state write or copy holds the thread (`hold`): runs wait for it, or are refused. */
  held: boolean;
}

/** The runs of each busy thread of this process: the one running, the ones queued, a state write holding it. */
export class ThreadQueue {
  readonly #slots = new Map<string, ThreadSlot>();
  /** Thread status updates still being written; shutdown waits for them. */
  readonly #settling = new Set<Promise<void>>();

  constructor(
    private readonly storage: Storage,
    private readonly work: QueueWork,
  ) {}

  /** True while the thread has a run running or queued, or a state write holds it. */
  isBusy(threadId: string): boolean {
    const slot = this.#slots.get(threadId);
    return slot !== undefined && (slot.active !== undefined || slot.queue.length > 0 || slot.held);
  }

  /** The run that holds the thread or is next to, if any. */
  current(threadId: string): RunHandle | undefined {
    const slot = this.#slots.get(threadId);
    return slot?.active ?? slot?.queue[0];
  }

  /** The thread's running run and its queued ones, in order. */
  runsOn(threadId: string): RunHandle[] {
    const slot = this.#slots.get(threadId);
    if (!slot) return [];
    return [slot.active, ...slot.queue].filter((handle): handle is RunHandle => handle !== undefined);
  }

  /** Whether `handle` waits in its thread's queue. */
  isQueued(handle: RunHandle): boolean {
    return this.#slots.get(handle.run.threadId)?.queue.includes(handle) ?? false;
  }

  /** Queues `handle` last on its thread; it starts once admitted and its turn comes (`pump`). */
  enqueue(handle: RunHandle): void {
    this.#slot(handle.run.threadId).queue.push(handle);
  }

  /** Takes `handle` out of its thread's queue, if it is there. */
  withdraw(handle: RunHandle): void {
    const queue = this.#slots.get(handle.run.threadId)?.queue;
    if (queue?.includes(handle)) queue.splice(queue.indexOf(handle), 1);
  }

  /** True while the thread has runs other than `except` running or queued. */
  othersOn(threadId: string, except: RunHandle | undefined): boolean {
    const slot = this.#slots.get(threadId);
    if (!slot) return false;
    return (slot.active !== undefined && slot.active !== except) || slot.queue.some((handle) => handle !== except);
  }

  /**
   * Runs `work` holding the thread as a run does, here and for other instances: ThreadBusyError
   * while a run is queued or running; a run that arrives meanwhile is refused with `reject` and
   * otherwise waits until `work` has ended.
   */
  async hold<T>(threadId: string, work: () => Promise<T>): Promise<T> {
    const slot = this.#slot(threadId);
    if (this.isBusy(threadId)) throw new ThreadBusyError(`Thread ${threadId} has a run in progress; update its state when the run ends`);
    slot.held = true;
    try {
      const held = await this.storage.runs.holdThread(threadId, work);
      if ("busyWith" in held) throw new ThreadBusyError(`Thread ${threadId} has a run in progress (${held.busyWith}); update its state when the run ends`);
      return held.value;
    } finally {
      slot.held = false;
      // Runs queued meanwhile start now; with none, the thread's status is the writer's to set.
      if (slot.queue.length > 0) this.pump(threadId);
      else if (!slot.active) this.#slots.delete(threadId);
    }
  }

  /** Starts the next queued run of a thread; when none is left, settles the thread's status. */
  pump(threadId: string): void {
    const slot = this.#slots.get(threadId);
    // A run still being admitted starts when its admission ends (it pumps then).
    if (!slot || slot.active || slot.held || slot.queue[0]?.phase === "admitting") return;
    const next = slot.queue.shift();
    if (!next) {
      this.#slots.delete(threadId);
      // Usually the last run wrote the status before it settled; this covers queues emptied by cancels.
      if (!slot.last?.statusSettled) {
        const settling = this.work.settleThreadStatus(threadId, slot.last);
        this.#settling.add(settling);
        void settling.finally(() => this.#settling.delete(settling));
      }
      return;
    }
    slot.active = next;
    // A run cancelled while queued left the queue, unless it was stopped with `interrupt`: then
    // it stayed, so that its input is written at its place in the order people wrote.
    const turn = next.cancel ? this.work.keepInput(next) : this.work.execute(next);
    void turn.finally(() => {
      slot.active = undefined;
      slot.last = next;
      this.pump(threadId);
    });
  }

  /** Resolves once no run is active and every thread status update has been written. */
  async drained(): Promise<void> {
    while (this.#settling.size > 0 || [...this.#slots.values()].some((slot) => slot.active)) {
      await Promise.all([...this.#settling]);
      await setImmediate();
    }
  }

  #slot(threadId: string): ThreadSlot {
    let slot = this.#slots.get(threadId);
    if (!slot) {
      slot = { active: undefined, queue: [], last: undefined, held: false };
      this.#slots.set(threadId, slot);
    }
    return slot;
  }
}
