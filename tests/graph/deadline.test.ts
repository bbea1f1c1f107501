/**
 * Deadlines of model calls: they abort as `AbortSignal.timeout` does, and leave no timer behind
 * once the call settled (a timer keeps its async context, the whole run, alive until it fires).
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { deadline, withDeadline } from "../../src/graph/deadline.js";

// The collector, to see what a settled call leaves reachable.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

describe("deadline", () => {
  it("aborts with a TimeoutError once the time is up", async () => {
    const timeout = deadline(20);
    expect(timeout.signal.aborted).toBe(false);
    await sleep(60);
    expect(timeout.signal.aborted).toBe(true);
    expect(timeout.timedOut).toBe(true);
    expect((timeout.signal.reason as DOMException).name).toBe("TimeoutError");
  });

  it("never aborts once cleared", async () => {
    const timeout = deadline(20);
    timeout.clear();
    await sleep(60);
    expect(timeout.signal.aborted).toBe(false);
  });

  it("lets the async context of a settled call go, where AbortSignal.timeout keeps it until it fires", async () => {
    // What a run's model call is made in: LangChain's run tree, the graph's loop and state.
    const context = new AsyncLocalStorage<object>();
    const collectable = async (call: () => Promise<unknown>) => {
      const ref = await (async () => {
        const run = { state: new Array(1000).fill("message") };
        await context.run(run, call);
        return new WeakRef(run);
      })();
      for (let attempt = 0; attempt < 5 && ref.deref(); attempt += 1) {
        await sleep(10);
        gc();
      }
      return ref.deref() === undefined;
    };
    // The signal stays reachable after the call, as a signal combined with a longer-lived one does.
    const kept: AbortSignal[] = [];
    expect(await collectable(() => withDeadline(60_000, undefined, async (signal) => kept.push(signal)))).toBe(true);
    // The bug this replaces: the run stayed in memory for the whole timeout.
    expect(await collectable(async () => kept.push(AbortSignal.timeout(60_000)))).toBe(false);
  });

  it("lets a settled call's signal go, though the client left an abort listener on it", async () => {
    // A run's signal lives as long as the run; the OpenAI client listens on each call's signal
    // and never stops listening. Node holds a composite signal with a listener until it aborts.
    const run = new AbortController();
    const signalCollected = async (make: () => AbortSignal, clear = () => {}) => {
      const ref = (() => {
        const signal = make();
        const client = new AbortController();
        signal.addEventListener("abort", () => client.abort());
        return new WeakRef(signal);
      })();
      clear();
      for (let attempt = 0; attempt < 5 && ref.deref(); attempt += 1) {
        await sleep(10);
        gc();
      }
      return ref.deref() === undefined;
    };
    let timeout: ReturnType<typeof deadline> | undefined;
    const settle = () => {
      timeout?.clear();
      timeout = undefined;
    };
    expect(await signalCollected(() => (timeout = deadline(60_000, run.signal)).signal, settle)).toBe(true);
    // The bug this replaces: every call's composite signal stayed in memory.
    const stale = new AbortController();
    expect(await signalCollected(() => AbortSignal.any([run.signal, stale.signal]))).toBe(false);
    // The caller's abort still reaches a call under way.
    const call = deadline(60_000, run.signal);
    run.abort(new Error("stopped"));
    expect(call.signal.aborted).toBe(true);
    expect(call.timedOut).toBe(false);
    call.clear();
  });

  it("withDeadline answers what the work answers, and fails as it fails", async () => {
    expect(await withDeadline(60_000, undefined, async () => "answer")).toBe("answer");
    await expect(withDeadline(60_000, undefined, async () => Promise.reject(new Error("provider down")))).rejects.toThrow("provider down");
  });

  it("withDeadline aborts the work at the deadline, or when the caller's signal fires first", async () => {
    const late = withDeadline(20, undefined, (signal) => sleep(5_000, undefined, { signal }));
    await expect(late).rejects.toMatchObject({ name: "AbortError" });
    const caller = new AbortController();
    const stopped = withDeadline(60_000, caller.signal, (signal) => sleep(5_000, undefined, { signal }));
    caller.abort(new Error("stopped by the user"));
    await expect(stopped).rejects.toMatchObject({ name: "AbortError" });
  });
});
