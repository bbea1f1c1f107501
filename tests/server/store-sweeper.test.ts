/**
 * The store sweeper (src/server/store-sweeper.ts): it deletes expired items on its interval
 * through the store's own `sweepExpired`, survives a failing sweep, and stops cleanly; a store
 * that keeps no TTL is left alone.
 */
import { InMemoryStore } from "@langchain/langgraph-checkpoint";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { StoreSweeper } from "../../src/server/store-sweeper.js";
import { until } from "../support/until.js";

/** An in-memory store whose items under ["expired"] count as expired, and whose sweeps can be made to fail. */
class ExpiringStore extends InMemoryStore {
  sweeps = 0;
  failNext = false;
  async sweepExpired(): Promise<number> {
    this.sweeps += 1;
    if (this.failNext) {
      this.failNext = false;
      throw new Error("database unavailable");
    }
    const expired = await this.search(["expired"], { limit: 1000 });
    for (const item of expired) await this.delete(item.namespace, item.key);
    return expired.length;
  }
}

describe("StoreSweeper", () => {
  it("sweeps expired items on its interval, goes on after a failed sweep, and stops", async () => {
    const store = new ExpiringStore();
    const warnings: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void warnings.push(line) });
    store.failNext = true;
    const sweeper = new StoreSweeper({ store, logger, intervalMs: 100 });
    sweeper.start();
    await until(() => warnings.length > 0);
    expect(warnings[0]).toMatch(/could not delete expired store items/);
    await store.put(["expired"], "old", { text: "gone soon" });
    await store.put(["kept"], "new", { text: "stays" });
    await until(async () => (await store.get(["expired"], "old")) === null);
    expect(await store.get(["kept"], "new")).not.toBeNull();
    await sweeper.stop();
    const sweeps = store.sweeps;
    await store.put(["expired"], "after", { text: "not swept once stopped" });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(store.sweeps).toBe(sweeps);
    expect(await store.get(["expired"], "after")).not.toBeNull();
  });

  it("leaves a store without TTL alone", async () => {
    const store = new InMemoryStore();
    const sweeper = new StoreSweeper({ store, logger: pino({ level: "silent" }), intervalMs: 100 });
    sweeper.start();
    expect(await sweeper.sweepOnce()).toBe(0);
    await sweeper.stop();
  });
});
