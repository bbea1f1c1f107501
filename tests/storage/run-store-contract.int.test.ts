/**
 * The run repository contract, run against SQLite and (when a server answers) PostgreSQL, with a
 * second storage on the same database standing for another instance (another process on the
 * SQLite file): admission (exclusive refusals, the other unfinished runs), claiming a thread's
 * turn, holding a thread for a state write or copy, cancels asked across instances, settling a
 * thread's status, reading, listing and deleting runs, and taking over the runs a dead instance
 * left, exactly once.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MonotonicClock } from "../../src/monotonic-clock.js";
import type { AbandonedRun, Run, RunStatus } from "../../src/storage/runs.js";
import type { Storage } from "../../src/storage/storage.js";
import { type StorageBackend, postgresAvailable, storageBackends } from "../support/storage-backends.js";

/** Queue order comes from `createdAt`; the clock keeps the runs of one test strictly apart. */
const clock = new MonotonicClock();

/** A pending run on `threadId`, as the server admits one. */
const makeRun = (threadId: string, overrides: Partial<Omit<Run, "updatedAt">> = {}): Omit<Run, "updatedAt"> => ({
  runId: `run-${randomUUID()}`,
  threadId,
  instanceId: "instance-a",
  assistantId: "agent",
  status: "pending",
  metadata: {},
  kwargs: {},
  multitaskStrategy: "enqueue",
  createdAt: clock.now(),
  ...overrides,
});

const FINISHED: RunStatus[] = ["success", "error", "timeout", "interrupted"];
const MINUTE_MS = 60_000;

describe.each(storageBackends)("%s run repository", (name, createBackend) => {
  let backend: StorageBackend;
  /** This instance. */
  let storage: Storage;
  /** Another instance on the same database. */
  let other: Storage;
  beforeAll(async () => {
    backend = createBackend();
    storage = await backend.open();
    other = await backend.open();
  });
  afterAll(() => backend?.dispose());

  const newThread = async () => {
    const thread = await storage.threads.createThread({ threadId: `thread-${randomUUID()}`, metadata: {} });
    if (!thread) throw new Error("thread id taken");
    return thread.threadId;
  };
  /** Admits a run (not exclusively, unless asked), failing the test if it is refused. */
  const admit = async (threadId: string, overrides: Partial<Omit<Run, "updatedAt">> = {}, on: Storage = storage) => {
    const admitted = await on.runs.admitRun(makeRun(threadId, overrides), { exclusive: false });
    if (!("run" in admitted)) throw new Error(`refused: busy with ${admitted.busyWith}`);
    return admitted.run;
  };
  const statusOf = async (run: Run) => (await storage.runs.getRun(run.threadId, run.runId))?.status;
  /** An instance id no other test uses. */
  const newInstance = (label: string) => `${label}-${randomUUID()}`;

  describe("admission", () => {
    it("stores the run as given: its createdAt too, which orders the queue", async () => {
      const threadId = await newThread();
      const createdAt = new Date(Date.now() - MINUTE_MS);
      const run = makeRun(threadId, {
        createdAt,
        metadata: { user: "alice", nested: { n: 1 } },
        kwargs: { input: { messages: [{ role: "user", content: "hi" }] }, stream_mode: ["values"] },
        multitaskStrategy: "rollback",
      });
      const admitted = await storage.runs.admitRun(run, { exclusive: true });
      expect(admitted).toEqual({ run: { ...run, updatedAt: createdAt }, others: [] });
      const { instanceId: _instanceId, ...stored } = run;
      expect(await other.runs.getRun(threadId, run.runId)).toEqual(expect.objectContaining({ ...stored, updatedAt: createdAt }));
    });

    it("exclusive: refused while a run is pending or running, on any instance, naming it and inserting nothing", async () => {
      const threadId = await newThread();
      const first = await admit(threadId);
      const refused = makeRun(threadId);
      expect(await storage.runs.admitRun(refused, { exclusive: true })).toEqual({ busyWith: first.runId });
      expect(await other.runs.admitRun(makeRun(threadId), { exclusive: true })).toEqual({ busyWith: first.runId });
      expect(await storage.runs.claimRun(first.runId, threadId)).toBe(true);
      expect(await other.runs.admitRun(makeRun(threadId), { exclusive: true })).toEqual({ busyWith: first.runId });
      expect((await storage.runs.listRuns(threadId, { limit: 10, offset: 0 })).map((run) => run.runId)).toEqual([first.runId]);
      expect(await storage.runs.getRun(threadId, refused.runId)).toBeNull();
      await storage.runs.setRunStatus(first.runId, "success");
      expect(await other.runs.admitRun(makeRun(threadId), { exclusive: true })).toMatchObject({ others: [] });
    });

    it("not exclusive: admitted, with the thread's other unfinished runs of every instance, not finished ones or other threads'", async () => {
      const threadId = await newThread();
      const elsewhere = await newThread();
      await admit(threadId, { status: "success" });
      await admit(threadId, { status: "error" });
      const pending = await admit(threadId);
      const running = await admit(threadId, { instanceId: "instance-b" }, other);
      await other.runs.setRunStatus(running.runId, "running");
      await admit(elsewhere);
      const admitted = await storage.runs.admitRun(makeRun(threadId), { exclusive: false });
      expect("run" in admitted && admitted.others.toSorted()).toEqual([pending.runId, running.runId].toSorted());
    });

    it("two instances admitting exclusively at once: exactly one is admitted, the other told which", async () => {
      for (let round = 0; round < 5; round += 1) {
        const threadId = await newThread();
        const results = await Promise.all([
          storage.runs.admitRun(makeRun(threadId), { exclusive: true }),
          other.runs.admitRun(makeRun(threadId, { instanceId: "instance-b" }), { exclusive: true }),
        ]);
        const admitted = results.flatMap((result) => ("run" in result ? [result.run.runId] : []));
        expect(admitted).toHaveLength(1);
        expect(results.filter((result) => "busyWith" in result)).toEqual([{ busyWith: admitted[0] }]);
        expect(await storage.runs.listRuns(threadId, { limit: 10, offset: 0 })).toHaveLength(1);
      }
    });

    it("threadBusy: an admitted run marks its thread busy and stamps its metadata with it; a refused one changes nothing", async () => {
      const threadId = await newThread();
      await storage.threads.updateThread(threadId, { metadata: { kept: true, graph_id: "old" } });
      const before = (await storage.threads.getThread(threadId))!;
      const first = await storage.runs.admitRun(makeRun(threadId), { exclusive: true, threadBusy: { metadata: { graph_id: "agent", assistant_id: "a-1" } } });
      expect("run" in first).toBe(true);
      const busy = (await other.threads.getThread(threadId))!;
      expect(busy).toMatchObject({ status: "busy", metadata: { kept: true, graph_id: "agent", assistant_id: "a-1" } });
      expect(busy.updatedAt.getTime()).toBeGreaterThan(before.updatedAt.getTime());
      // Refused: the thread keeps what the first run set, no other stamp.
      await storage.runs.settleThreadStatus(threadId, "idle", { untouched: true });
      const refused = await other.runs.admitRun(makeRun(threadId), { exclusive: true, threadBusy: { metadata: { graph_id: "other" } } });
      expect("busyWith" in refused).toBe(true);
      expect((await storage.threads.getThread(threadId))?.metadata).toEqual({ kept: true, graph_id: "agent", assistant_id: "a-1" });
      // An empty stamp (already stamped): busy, metadata as it was.
      const idle = await newThread();
      await storage.threads.updateThread(idle, { metadata: { kept: 1 } });
      await storage.runs.admitRun(makeRun(idle), { exclusive: false, threadBusy: { metadata: {} } });
      expect(await storage.threads.getThread(idle)).toMatchObject({ status: "busy", metadata: { kept: 1 } });
    });
  });

  describe("claiming a thread's turn", () => {
    it("claims a pending run when nothing runs on its thread, once", async () => {
      const threadId = await newThread();
      // Each instance has its own clock: an hour back, so that updatedAt is later, whichever set it.
      const run = await admit(threadId, { createdAt: new Date(Date.now() - 60 * MINUTE_MS) });
      expect(await storage.runs.claimRun(run.runId, threadId)).toBe(true);
      const claimed = await storage.runs.getRun(threadId, run.runId);
      expect(claimed?.status).toBe("running");
      expect(claimed!.updatedAt.getTime()).toBeGreaterThan(run.createdAt.getTime());
      expect(await storage.runs.claimRun(run.runId, threadId)).toBe(false);
      expect(await other.runs.claimRun(run.runId, threadId)).toBe(false);
    });

    it("refuses while another run is running, and claims once that one has finished", async () => {
      const threadId = await newThread();
      const first = await admit(threadId);
      const second = await admit(threadId, { instanceId: "instance-b" }, other);
      expect(await storage.runs.claimRun(first.runId, threadId)).toBe(true);
      expect(await other.runs.claimRun(second.runId, threadId)).toBe(false);
      expect(await statusOf(second)).toBe("pending");
      await storage.runs.setRunStatus(first.runId, "interrupted");
      expect(await other.runs.claimRun(second.runId, threadId)).toBe(true);
    });

    it("refuses a run while an older one of another instance waits: the oldest goes first", async () => {
      const threadId = await newThread();
      // Admitted young first, so that the order is createdAt's, not the order of admission.
      const younger = await admit(threadId, { instanceId: "instance-b", createdAt: new Date(Date.now() + MINUTE_MS) }, other);
      const older = await admit(threadId, { instanceId: "instance-a" });
      expect(await other.runs.claimRun(younger.runId, threadId)).toBe(false);
      expect(await storage.runs.claimRun(older.runId, threadId)).toBe(true);
      expect(await other.runs.claimRun(younger.runId, threadId)).toBe(false);
      await storage.runs.setRunStatus(older.runId, "success");
      expect(await other.runs.claimRun(younger.runId, threadId)).toBe(true);
    });

    it("does not hold a run back for an older one of its own instance: that instance's queue orders them", async () => {
      const threadId = await newThread();
      await admit(threadId, { instanceId: "instance-a" });
      const younger = await admit(threadId, { instanceId: "instance-a" });
      expect(await storage.runs.claimRun(younger.runId, threadId)).toBe(true);
    });

    it("two instances claiming one run at once: exactly one gets it", async () => {
      for (let round = 0; round < 5; round += 1) {
        const threadId = await newThread();
        const run = await admit(threadId);
        const claims = await Promise.all([storage.runs.claimRun(run.runId, threadId), other.runs.claimRun(run.runId, threadId)]);
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect(await statusOf(run)).toBe("running");
      }
    });

    it("claims nothing for an unknown or finished run", async () => {
      const threadId = await newThread();
      expect(await storage.runs.claimRun(`run-${randomUUID()}`, threadId)).toBe(false);
      const finished = await admit(threadId, { status: "success" });
      expect(await storage.runs.claimRun(finished.runId, threadId)).toBe(false);
      expect(await statusOf(finished)).toBe("success");
    });
  });

  describe("a claim with the thread's head", () => {
    it("records a claimed run as started at the checkpoint the reader gives, as a survivor finds it; a refused claim records nothing", async () => {
      const dead = newInstance("dead");
      const threadId = await newThread();
      const elsewhere = await newThread();
      const first = await admit(threadId, { instanceId: dead });
      const second = await admit(threadId, { instanceId: dead });
      const onEmpty = await admit(elsewhere, { instanceId: dead });
      const head = (checkpointId: string | undefined) => async () => checkpointId;
      expect(await storage.runs.claimRun(first.runId, threadId, head("checkpoint-1"))).toBe(true);
      // Refused while the first runs: nothing recorded for it.
      expect(await storage.runs.claimRun(second.runId, threadId, head("checkpoint-stale"))).toBe(false);
      expect(await statusOf(second)).toBe("pending");
      expect(await other.runs.claimRun(onEmpty.runId, elsewhere, head(undefined))).toBe(true);
      expect(await statusOf(first)).toBe("running");
      // What a survivor finds should the instance die now.
      const survivor = newInstance("survivor");
      await storage.instances.heartbeat(survivor);
      const taken = (await storage.runs.takeAbandonedRuns({ self: survivor, staleMs: MINUTE_MS })).filter((run) => [threadId, elsewhere].includes(run.threadId));
      expect(taken.toSorted((left, right) => left.runId.localeCompare(right.runId))).toEqual(
        [
          { runId: first.runId, threadId, status: "running", headCheckpointId: "checkpoint-1" },
          { runId: second.runId, threadId, status: "pending", headCheckpointId: undefined },
          { runId: onEmpty.runId, threadId: elsewhere, status: "running", headCheckpointId: null },
        ].toSorted((left, right) => left.runId.localeCompare(right.runId)),
      );
      await storage.runs.closeAbandonedRuns(taken.map((run) => ({ runId: run.runId, status: "error" as const })));
    });
  });

  describe("ending a run", () => {
    /** Whether the thread's values projection contains `values` (what a values search matches). */
    const hasValues = async (threadId: string, values: Record<string, unknown>) => (await storage.threads.countThreads({ ids: [threadId], values })) === 1;

    it("records the run's status and settles its thread with its values, in one step", async () => {
      const threadId = await newThread();
      const run = await admit(threadId, { createdAt: new Date(Date.now() - 60 * MINUTE_MS) });
      await storage.runs.claimRun(run.runId, threadId);
      await storage.threads.updateThread(threadId, { status: "busy" });
      await other.runs.endRun({ ...run, status: "success" }, { settle: "interrupted", values: { answer: 42 } });
      const ended = (await storage.runs.getRun(threadId, run.runId))!;
      expect(ended.status).toBe("success");
      expect(ended.updatedAt.getTime()).toBeGreaterThan(run.createdAt.getTime());
      expect((await storage.threads.getThread(threadId))?.status).toBe("interrupted");
      expect(await hasValues(threadId, { answer: 42 })).toBe(true);
      expect(await storage.runs.hasActiveRuns(threadId)).toBe(false);
    });

    it("while another run holds the thread: the thread keeps its status, takes the values", async () => {
      const threadId = await newThread();
      const run = await admit(threadId);
      await storage.runs.claimRun(run.runId, threadId);
      await admit(threadId, { instanceId: "instance-b" }, other);
      await storage.threads.updateThread(threadId, { status: "busy" });
      await storage.runs.endRun({ ...run, status: "error" }, { settle: "error", values: { step: 1 } });
      expect(await statusOf(run)).toBe("error");
      expect((await storage.threads.getThread(threadId))?.status).toBe("busy");
      expect(await hasValues(threadId, { step: 1 })).toBe(true);
    });

    it("without settle: the values alone, the status untouched; without either, the run alone", async () => {
      const threadId = await newThread();
      const [first, second] = [await admit(threadId), await admit(threadId)];
      await storage.threads.updateThread(threadId, { status: "busy" });
      await storage.runs.endRun({ ...first, status: "success" }, { values: { step: 2 } });
      expect((await storage.threads.getThread(threadId))?.status).toBe("busy");
      expect(await hasValues(threadId, { step: 2 })).toBe(true);
      await storage.runs.endRun({ ...second, status: "timeout" }, {});
      expect([await statusOf(first), await statusOf(second)]).toEqual(["success", "timeout"]);
      expect(await hasValues(threadId, { step: 2 })).toBe(true);
    });

    it("forget: a run rolled back leaves no record, and its thread settles", async () => {
      const threadId = await newThread();
      const kept = await admit(threadId, { status: "success" });
      const run = await admit(threadId);
      await storage.threads.updateThread(threadId, { status: "busy" });
      await storage.runs.endRun({ ...run, status: "interrupted", forget: true }, { settle: "idle" });
      expect(await storage.runs.getRun(threadId, run.runId)).toBeNull();
      expect((await storage.runs.listRuns(threadId, { limit: 10, offset: 0 })).map((listed) => listed.runId)).toEqual([kept.runId]);
      expect((await storage.threads.getThread(threadId))?.status).toBe("idle");
    });
  });

  describe("holding a thread", () => {
    it("runs the work when no run holds the thread; refuses, running nothing, while one is pending or running", async () => {
      const threadId = await newThread();
      let calls = 0;
      const work = async () => {
        calls += 1;
        return { written: calls };
      };
      expect(await storage.runs.holdThread(threadId, work)).toEqual({ value: { written: 1 } });
      const run = await admit(threadId, {}, other);
      expect(await storage.runs.holdThread(threadId, work)).toEqual({ busyWith: run.runId });
      expect(await storage.runs.claimRun(run.runId, threadId)).toBe(true);
      expect(await storage.runs.holdThread(threadId, work)).toEqual({ busyWith: run.runId });
      expect(calls).toBe(1);
      await storage.runs.setRunStatus(run.runId, "error");
      expect(await storage.runs.holdThread(threadId, work)).toEqual({ value: { written: 2 } });
    });

    it("passes the work's failure on, and holds nothing after it", async () => {
      const threadId = await newThread();
      await expect(storage.runs.holdThread(threadId, async () => Promise.reject(new Error("write failed")))).rejects.toThrow("write failed");
      const run = await admit(threadId, { instanceId: "instance-b" }, other);
      expect(await other.runs.claimRun(run.runId, threadId)).toBe(true);
    });

    // Only PostgreSQL is shared by instances: on SQLite the one server's queue keeps its runs out.
    if (name === "postgres") {
      it("while the work runs, another instance may admit a run but not start it; it starts once the work ends", async () => {
        const threadId = await newThread();
        const seen: Array<{ admitted: boolean; claimedThere: boolean; claimedHere: boolean }> = [];
        const queued = makeRun(threadId, { instanceId: "instance-b" });
        const held = await storage.runs.holdThread(threadId, async () => {
          const admitted = await other.runs.admitRun(queued, { exclusive: false });
          seen.push({
            admitted: "run" in admitted,
            claimedThere: await other.runs.claimRun(queued.runId, threadId),
            claimedHere: await storage.runs.claimRun(queued.runId, threadId),
          });
          return "written";
        });
        expect(held).toEqual({ value: "written" });
        expect(seen).toEqual([{ admitted: true, claimedThere: false, claimedHere: false }]);
        expect(await statusOf({ ...queued, updatedAt: queued.createdAt })).toBe("pending");
        expect(await other.runs.claimRun(queued.runId, threadId)).toBe(true);
      });

      it("holds only its own thread: another thread's run starts meanwhile", async () => {
        const [held, free] = [await newThread(), await newThread()];
        const started = await storage.runs.holdThread(held, async () => {
          const run = await admit(free, { instanceId: "instance-b" }, other);
          return other.runs.claimRun(run.runId, free);
        });
        expect(started).toEqual({ value: true });
      });
    }
  });

  it("hasActiveRuns: while a run of the thread is pending or running, on any instance", async () => {
    const threadId = await newThread();
    const elsewhere = await newThread();
    expect(await storage.runs.hasActiveRuns(threadId)).toBe(false);
    await admit(elsewhere);
    expect(await storage.runs.hasActiveRuns(threadId)).toBe(false);
    for (const status of FINISHED) await admit(threadId, { status });
    expect(await storage.runs.hasActiveRuns(threadId)).toBe(false);
    const run = await admit(threadId, {}, other);
    expect(await storage.runs.hasActiveRuns(threadId)).toBe(true);
    await other.runs.claimRun(run.runId, threadId);
    expect(await storage.runs.hasActiveRuns(threadId)).toBe(true);
    await other.runs.setRunStatus(run.runId, "timeout");
    expect(await storage.runs.hasActiveRuns(threadId)).toBe(false);
  });

  describe("cancels across instances", () => {
    it("a cancel asked on any instance reaches the instance that runs the run, and only it", async () => {
      const threadId = await newThread();
      const [a, b] = [newInstance("instance-a"), newInstance("instance-b")];
      const pending = await admit(threadId, { instanceId: a });
      const running = await admit(threadId, { instanceId: b }, other);
      await other.runs.setRunStatus(running.runId, "running");
      await other.runs.requestCancel(pending.runId, "interrupt");
      await storage.runs.requestCancel(running.runId, "rollback");
      expect(await storage.runs.cancelRequests(a)).toEqual([{ runId: pending.runId, threadId, action: "interrupt" }]);
      expect(await other.runs.cancelRequests(b)).toEqual([{ runId: running.runId, threadId, action: "rollback" }]);
      expect(await storage.runs.cancelRequests(newInstance("instance-c"))).toEqual([]);
      // Asking is not cancelling: the runs stay as they were until their instance acts.
      expect([await statusOf(pending), await statusOf(running)]).toEqual(["pending", "running"]);
    });

    it("only for unfinished runs: a finished run is not asked, and an asked run is no longer once it finishes", async () => {
      const threadId = await newThread();
      const instance = newInstance("instance");
      const finished = await admit(threadId, { instanceId: instance, status: "success" });
      await storage.runs.requestCancel(finished.runId, "interrupt");
      expect(await storage.runs.cancelRequests(instance)).toEqual([]);
      const running = await admit(threadId, { instanceId: instance });
      await storage.runs.setRunStatus(running.runId, "running");
      await other.runs.requestCancel(running.runId, "interrupt");
      // The later request wins: one per run.
      await other.runs.requestCancel(running.runId, "rollback");
      expect(await storage.runs.cancelRequests(instance)).toEqual([{ runId: running.runId, threadId, action: "rollback" }]);
      await storage.runs.setRunStatus(running.runId, "interrupted");
      expect(await storage.runs.cancelRequests(instance)).toEqual([]);
      await storage.runs.requestCancel(`run-${randomUUID()}`, "interrupt");
    });
  });

  it("settleThreadStatus: sets the thread's status unless a pending or running run still holds it", async () => {
    const threadId = await newThread();
    await storage.threads.updateThread(threadId, { metadata: { kept: true } });
    const before = (await storage.threads.getThread(threadId))!;
    await storage.runs.settleThreadStatus(threadId, "error");
    const settled = (await storage.threads.getThread(threadId))!;
    expect(settled).toMatchObject({ status: "error", metadata: { kept: true } });
    expect(settled.updatedAt.getTime()).toBeGreaterThan(before.updatedAt.getTime());
    const run = await admit(threadId, {}, other);
    await storage.runs.settleThreadStatus(threadId, "idle");
    expect((await storage.threads.getThread(threadId))?.status).toBe("error");
    await other.runs.claimRun(run.runId, threadId);
    await storage.runs.settleThreadStatus(threadId, "interrupted");
    expect((await storage.threads.getThread(threadId))?.status).toBe("error");
    await other.runs.setRunStatus(run.runId, "success");
    await storage.runs.settleThreadStatus(threadId, "idle");
    expect((await storage.threads.getThread(threadId))?.status).toBe("idle");
  });

  describe("reading, listing, updating and deleting runs", () => {
    it("getRun finds a run on its own thread only", async () => {
      const threadId = await newThread();
      const elsewhere = await newThread();
      const run = await admit(threadId);
      expect((await storage.runs.getRun(threadId, run.runId))?.runId).toBe(run.runId);
      expect(await storage.runs.getRun(elsewhere, run.runId)).toBeNull();
      expect(await storage.runs.getRun(threadId, `run-${randomUUID()}`)).toBeNull();
    });

    it("listRuns: the thread's runs newest first by createdAt, filtered by status, paged", async () => {
      const threadId = await newThread();
      const elsewhere = await newThread();
      const start = Date.now();
      // Admitted out of createdAt order: the list follows createdAt.
      const runs = [];
      for (const [offset, status] of [[3, "success"], [1, "error"], [4, "pending"], [0, "success"], [2, "success"]] as const) {
        runs.push(await admit(threadId, { createdAt: new Date(start + offset * 1000), status }));
      }
      await admit(elsewhere);
      const newestFirst = runs.toSorted((left, right) => right.createdAt.getTime() - left.createdAt.getTime()).map((run) => run.runId);
      const list = (options: { limit?: number; offset?: number; status?: RunStatus }) =>
        storage.runs.listRuns(threadId, { limit: 10, offset: 0, ...options }).then((listed) => listed.map((run) => run.runId));
      expect(await list({})).toEqual(newestFirst);
      expect(await list({ limit: 2 })).toEqual(newestFirst.slice(0, 2));
      expect(await list({ limit: 2, offset: 2 })).toEqual(newestFirst.slice(2, 4));
      expect(await list({ offset: 5 })).toEqual([]);
      const successes = runs.filter((run) => run.status === "success");
      expect(await list({ status: "success" })).toEqual(newestFirst.filter((runId) => successes.some((run) => run.runId === runId)));
      expect(await list({ status: "success", limit: 1, offset: 1 })).toEqual(newestFirst.filter((runId) => successes.some((run) => run.runId === runId)).slice(1, 2));
      expect(await list({ status: "timeout" })).toEqual([]);
    });

    it("setRunStatus sets the status and moves updatedAt on", async () => {
      const threadId = await newThread();
      const run = await admit(threadId, { createdAt: new Date(Date.now() - 60 * MINUTE_MS) });
      await storage.runs.setRunStatus(run.runId, "running", { headCheckpointId: undefined });
      const running = (await storage.runs.getRun(threadId, run.runId))!;
      expect(running.status).toBe("running");
      expect(running.updatedAt.getTime()).toBeGreaterThan(run.createdAt.getTime());
      await storage.runs.setRunStatus(run.runId, "success");
      const done = (await storage.runs.getRun(threadId, run.runId))!;
      expect(done.status).toBe("success");
      expect(done.updatedAt.getTime()).toBeGreaterThan(running.updatedAt.getTime());
      expect(done.createdAt).toEqual(run.createdAt);
    });

    it("deleteRun deletes a run of its own thread only; the thread is free once its only run is gone", async () => {
      const threadId = await newThread();
      const elsewhere = await newThread();
      const run = await admit(threadId);
      const kept = await admit(threadId, { status: "success" });
      expect(await storage.runs.deleteRun(elsewhere, run.runId)).toBe(false);
      expect(await storage.runs.getRun(threadId, run.runId)).not.toBeNull();
      expect(await other.runs.deleteRun(threadId, run.runId)).toBe(true);
      expect(await storage.runs.deleteRun(threadId, run.runId)).toBe(false);
      expect(await storage.runs.getRun(threadId, run.runId)).toBeNull();
      expect((await storage.runs.listRuns(threadId, { limit: 10, offset: 0 })).map((listed) => listed.runId)).toEqual([kept.runId]);
      expect(await storage.runs.hasActiveRuns(threadId)).toBe(false);
    });
  });

  describe("runs a dead instance left", () => {
    /** The runs of `threads` among those taken: the database is shared with the other tests. */
    const takenOf = (taken: AbandonedRun[], threads: string[]) => taken.filter((run) => threads.includes(run.threadId));
    /** An instance that beat once, `silentMs` ago. */
    const silentInstance = async (label: string, silentMs: number) => {
      const instanceId = newInstance(label);
      await storage.instances.heartbeat(instanceId);
      await backend.ageHeartbeat(instanceId, silentMs);
      return instanceId;
    };

    it("takes them oldest first, with where each thread was when its run started; they hold their threads", async () => {
      const dead = await silentInstance("dead", 10 * MINUTE_MS);
      const survivor = newInstance("survivor");
      await storage.instances.heartbeat(survivor);
      const threads = [await newThread(), await newThread(), await newThread(), await newThread()];
      const [t1, t2, t3, t4] = threads as [string, string, string, string];
      const start = Date.now() - MINUTE_MS;
      // Admitted in another order than createdAt's.
      const neverStarted = await admit(t1, { instanceId: dead, createdAt: new Date(start + 3000) });
      const startedOnEmpty = await admit(t2, { instanceId: dead, createdAt: new Date(start + 1000) }, other);
      await other.runs.setRunStatus(startedOnEmpty.runId, "running", { headCheckpointId: undefined });
      const startedOnHead = await admit(t3, { instanceId: dead, createdAt: new Date(start + 2000) }, other);
      await other.runs.setRunStatus(startedOnHead.runId, "running", { headCheckpointId: "checkpoint-3" });
      // Neither a finished run of the dead instance nor a run of the survivor's own is taken.
      await admit(t4, { instanceId: dead, status: "success" });
      await admit(t4, { instanceId: survivor });

      const taken = await storage.runs.takeAbandonedRuns({ self: survivor, staleMs: MINUTE_MS });
      expect(takenOf(taken, threads)).toEqual([
        { runId: startedOnEmpty.runId, threadId: t2, status: "running", headCheckpointId: null },
        { runId: startedOnHead.runId, threadId: t3, status: "running", headCheckpointId: "checkpoint-3" },
        { runId: neverStarted.runId, threadId: t1, status: "pending", headCheckpointId: undefined },
      ]);
      // Still unfinished, so still holding their threads against queued runs.
      expect(await storage.runs.hasActiveRuns(t1)).toBe(true);
      expect(await other.runs.admitRun(makeRun(t2), { exclusive: true })).toEqual({ busyWith: startedOnEmpty.runId });
      const queued = await admit(t3, { instanceId: survivor });
      expect(await storage.runs.claimRun(queued.runId, t3)).toBe(false);
      // They are the survivor's now: it does not take them again.
      expect(takenOf(await storage.runs.takeAbandonedRuns({ self: survivor, staleMs: MINUTE_MS }), threads)).toEqual([]);

      // Should the survivor die before settling them, the next one takes them.
      await backend.ageHeartbeat(survivor, 10 * MINUTE_MS);
      const next = newInstance("next");
      await other.instances.heartbeat(next);
      const abandoned = [startedOnEmpty.runId, startedOnHead.runId, neverStarted.runId];
      const takenByNext = await other.runs.takeAbandonedRuns({ self: next, staleMs: MINUTE_MS });
      expect(takenByNext.filter((run) => abandoned.includes(run.runId)).map((run) => run.runId)).toEqual(abandoned);
    });

    if (name === "postgres") {
      it("on PostgreSQL, takes only runs of instances silent for staleMs or unknown; a live instance's stay", async () => {
        const live = newInstance("live");
        await storage.instances.registerInstance(live, { pid: process.pid, staleMs: MINUTE_MS });
        const late = await silentInstance("late", MINUTE_MS / 2);
        const stale = await silentInstance("stale", 2 * MINUTE_MS);
        const threadId = await newThread();
        const ofLive = await admit(threadId, { instanceId: live });
        const ofLate = await admit(threadId, { instanceId: late });
        const ofStale = await admit(threadId, { instanceId: stale });
        const ofUnknown = await admit(threadId, { instanceId: newInstance("never-beat") });
        const survivor = newInstance("survivor");
        await other.instances.heartbeat(survivor);
        const taken = takenOf(await other.runs.takeAbandonedRuns({ self: survivor, staleMs: MINUTE_MS }), [threadId]);
        expect(taken.map((run) => run.runId)).toEqual([ofStale.runId, ofUnknown.runId]);
        expect(await statusOf(ofLive)).toBe("pending");
        expect(await statusOf(ofLate)).toBe("pending");
      });

      it("on PostgreSQL, two survivors taking at once never both take a run", async () => {
        for (let round = 0; round < 3; round += 1) {
          const dead = await silentInstance("dead", 10 * MINUTE_MS);
          const threads: string[] = [];
          const runIds: string[] = [];
          for (let index = 0; index < 10; index += 1) {
            const threadId = await newThread();
            threads.push(threadId);
            runIds.push((await admit(threadId, { instanceId: dead })).runId);
          }
          // Each survivor beats first, as the instance monitor does: a silent one would look dead to the other.
          const survivors = [newInstance("first"), newInstance("second")] as const;
          await storage.instances.heartbeat(survivors[0]);
          await other.instances.heartbeat(survivors[1]);
          const [first, second] = await Promise.all([
            storage.runs.takeAbandonedRuns({ self: survivors[0], staleMs: MINUTE_MS }),
            other.runs.takeAbandonedRuns({ self: survivors[1], staleMs: MINUTE_MS }),
          ]);
          const [mine, theirs] = [takenOf(first, threads).map((run) => run.runId), takenOf(second, threads).map((run) => run.runId)];
          expect(mine.filter((runId) => theirs.includes(runId))).toEqual([]);
          expect([...mine, ...theirs].toSorted()).toEqual(runIds.toSorted());
        }
      });
    } else {
      it("on SQLite, takes every other instance's unfinished runs, even one that beats: one server owns the file", async () => {
        const live = newInstance("live");
        await other.instances.heartbeat(live);
        const threadId = await newThread();
        const ofLive = await admit(threadId, { instanceId: live });
        const taken = takenOf(await storage.runs.takeAbandonedRuns({ self: newInstance("survivor"), staleMs: MINUTE_MS }), [threadId]);
        expect(taken.map((run) => run.runId)).toEqual([ofLive.runId]);
      });
    }

    it("closing them sets their final status and frees the busy threads no live run holds", async () => {
      const dead = await silentInstance("dead", 10 * MINUTE_MS);
      const survivor = newInstance("survivor");
      await storage.instances.heartbeat(survivor);
      const [failed, finished, stillQueued, leftBusy, interrupted] = [await newThread(), await newThread(), await newThread(), await newThread(), await newThread()];
      const failedRun = await admit(failed, { instanceId: dead });
      const finishedRun = await admit(finished, { instanceId: dead });
      const abandonedBeforeQueued = await admit(stillQueued, { instanceId: dead });
      const queuedRun = await admit(stillQueued, { instanceId: survivor });
      for (const threadId of [failed, finished, stillQueued, leftBusy]) await storage.threads.updateThread(threadId, { status: "busy" });
      // A thread of no run at all, left busy by a process that stopped between a run's end and the thread's update.
      await storage.threads.updateThread(interrupted, { status: "interrupted" });
      const taken = takenOf(await storage.runs.takeAbandonedRuns({ self: survivor, staleMs: MINUTE_MS }), [failed, finished, stillQueued]);
      expect(taken.map((run) => run.runId).toSorted()).toEqual([failedRun.runId, finishedRun.runId, abandonedBeforeQueued.runId].toSorted());

      await storage.runs.closeAbandonedRuns([
        { runId: failedRun.runId, status: "error" },
        { runId: finishedRun.runId, status: "success" },
        { runId: abandonedBeforeQueued.runId, status: "error" },
      ]);
      expect([await statusOf(failedRun), await statusOf(finishedRun), await statusOf(abandonedBeforeQueued), await statusOf(queuedRun)]).toEqual([
        "error",
        "success",
        "error",
        "pending",
      ]);
      const threadStatus = async (threadId: string) => (await storage.threads.getThread(threadId))?.status;
      expect(await threadStatus(failed)).toBe("idle");
      expect(await threadStatus(finished)).toBe("idle");
      expect(await threadStatus(leftBusy)).toBe("idle");
      // The queued run still holds its thread; a thread that was not busy keeps its status.
      expect(await threadStatus(stillQueued)).toBe("busy");
      expect(await threadStatus(interrupted)).toBe("interrupted");
      // The queued run may start now.
      expect(await storage.runs.claimRun(queuedRun.runId, stillQueued)).toBe(true);
    });

    it("closing none still frees busy threads no run holds", async () => {
      const threadId = await newThread();
      await storage.threads.updateThread(threadId, { status: "busy" });
      await other.runs.closeAbandonedRuns([]);
      expect((await storage.threads.getThread(threadId))?.status).toBe("idle");
    });
  });
});

if (!postgresAvailable) describe.skip("postgres run repository (PostgreSQL unreachable)", () => it("runs the contract", () => undefined));
