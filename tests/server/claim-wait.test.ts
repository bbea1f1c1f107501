/**
 * A run waiting for another instance to free its thread (its store's `claimRun` says "not yet")
 * stops asking the moment it is cancelled, whether the cancel comes while it sleeps between two
 * asks or while an ask is in flight, and its wait leaves no abort listeners piling up; a thread
 * deleted elsewhere meanwhile fails the run once it gets its turn, the model never called.
 */
import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { type RunHandle, RunManager } from "../../src/server/run-manager.js";
import { RunCreate } from "../../src/server/schemas.js";
import type { RunRepository } from "../../src/storage/runs.js";
import { testBackends } from "../support/server.js";
import { useStubAndServer } from "../support/use-server.js";
import { until } from "../support/until.js";

const user = (content: string) => ({ messages: [{ role: "user", content }] });

describe.each(await testBackends())("a run waiting for its claim (%s)", (backend) => {
  const fixture = useStubAndServer(backend);

  /**
   * A second manager on the same database whose thread is always held by "another instance". It
   * shares the server's heartbeating instance id, so the instance monitor leaves its runs alone.
   */
  function heldElsewhere(onClaim: (calls: number) => void = () => undefined, options: { freedAfter?: number } = {}) {
    const counter = { calls: 0 };
    const runs = new Proxy(fixture.server.deps.storage.runs, {
      get(target, property, receiver) {
        if (property === "claimRun") {
          return async (...args: Parameters<RunRepository["claimRun"]>) => {
            counter.calls += 1;
            onClaim(counter.calls);
            // Once "the other instance" is done, the database decides.
            return options.freedAfter !== undefined && counter.calls > options.freedAfter ? target.claimRun(...args) : false;
          };
        }
        const value = Reflect.get(target, property, receiver);
        return typeof value === "function" ? value.bind(target) : value;
      },
    }) as RunRepository;
    const { agent, checkpointer, logger, storage } = fixture.server.deps;
    return { counter, manager: new RunManager({ agent, checkpointer, storage: { ...storage, runs }, logger, instanceId: fixture.server.deps.monitor?.id }) };
  }

  /** Whether `handle` ends before its manager asks `more` more times for the thread. */
  async function endsBeforeAsking(handle: RunHandle, counter: { calls: number }, more: number): Promise<boolean> {
    const limit = counter.calls + more;
    let ended = false;
    void handle.done.then(() => (ended = true));
    await until(() => ended || counter.calls >= limit);
    return ended;
  }

  it("cancelled while it sleeps between two asks: stops asking, no listeners left behind", async () => {
    const { counter, manager } = heldElsewhere();
    const thread = await fixture.server.client.threads.create();
    const handle = await manager.create(thread.thread_id, RunCreate.parse({ assistant_id: "agent", input: user("waiting"), multitask_strategy: "enqueue" }));
    await until(() => counter.calls >= 6);
    // One sleep at a time: the listeners of the sleeps already over are gone.
    expect(getEventListeners(handle.controller.signal, "abort").length).toBeLessThanOrEqual(1);
    await manager.cancel(thread.thread_id, handle.run.runId, "rollback");
    const asked = counter.calls;
    expect(await endsBeforeAsking(handle, counter, 3)).toBe(true);
    expect(counter.calls - asked).toBeLessThanOrEqual(1);
    expect((await handle.done).status).toBe("interrupted");
    expect(getEventListeners(handle.controller.signal, "abort")).toHaveLength(0);
    expect(fixture.stub.requests).toHaveLength(0);
    await manager.shutdown(0);
  });

  it("cancelled while an ask is in flight: asks no more", async () => {
    let cancel = () => undefined as void;
    const { counter, manager } = heldElsewhere((calls) => {
      if (calls === 3) cancel();
    });
    const thread = await fixture.server.client.threads.create();
    const handle = await manager.create(thread.thread_id, RunCreate.parse({ assistant_id: "agent", input: user("waiting"), multitask_strategy: "enqueue" }));
    cancel = () => void manager.cancel(thread.thread_id, handle.run.runId, "rollback");
    expect(await endsBeforeAsking(handle, counter, 10)).toBe(true);
    expect(counter.calls).toBe(3);
    expect((await handle.done).status).toBe("interrupted");
    expect(getEventListeners(handle.controller.signal, "abort")).toHaveLength(0);
    expect(fixture.stub.requests).toHaveLength(0);
    await manager.shutdown(0);
  });

  it("the thread deleted by another instance while the run waited: the run fails saying so, without calling the model", async () => {
    const { storage, checkpointer } = fixture.server.deps;
    const thread = await fixture.server.client.threads.create();
    const { counter, manager } = heldElsewhere(() => undefined, { freedAfter: 4 });
    const handle = await manager.create(thread.thread_id, RunCreate.parse({ assistant_id: "agent", input: user("waiting"), multitask_strategy: "enqueue" }));
    await until(() => counter.calls >= 2);
    // As another instance deletes it: straight in the database, no cancel reaches this process.
    await storage.threads.deleteThread(thread.thread_id);
    await checkpointer.deleteThread(thread.thread_id);
    const outcome = await handle.done;
    expect(outcome.status).toBe("error");
    expect(outcome.error?.message).toBe(`Thread ${thread.thread_id} was deleted`);
    expect(fixture.stub.requests).toHaveLength(0);
    expect((await checkpointer.getTuple({ configurable: { thread_id: thread.thread_id, checkpoint_ns: "" } })) ?? undefined).toBeUndefined();
    await manager.shutdown(0);
  });
});
