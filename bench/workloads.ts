/** Shared pieces of the benchmarks: the turn text, an instant model, timing helpers. */
import { FakeListChatModel } from "@langchain/core/utils/testing";

/** About 560 characters per message, as in the storage issue's measurements. */
export const TEXT = "The quick brown fox jumps over the lazy dog while the agent remembers everything. ".repeat(7);

/** A model that answers at once, in process: what a turn costs without any provider. */
export const instantModel = () => new FakeListChatModel({ responses: [TEXT] });

/** Milliseconds, rounded for printing. */
export const ms = (value: number) => Number(value.toFixed(2));

/** Mean of `values`. */
export const mean = (values: readonly number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);

/** Runs `count` workers at once, each calling `work(worker)` until all are done; returns elapsed ms. */
export async function inParallel(count: number, work: (worker: number) => Promise<void>): Promise<number> {
  const started = performance.now();
  await Promise.all(Array.from({ length: count }, (_, worker) => work(worker)));
  return performance.now() - started;
}
