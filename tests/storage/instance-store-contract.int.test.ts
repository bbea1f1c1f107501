/**
 * The instance repository contract on SQLite and (when a server answers) PostgreSQL. On SQLite
 * one server process owns the file: a second one is refused while the first lives and beats,
 * and let in once it has crashed or gone silent. On PostgreSQL any number of instances share the
 * database, and an instance counts as alive while it beats: its runs are left alone until it
 * goes silent or is removed.
 */
import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DatabaseInUseError } from "../../src/errors.js";
import type { Storage } from "../../src/storage/storage.js";
import { type StorageBackend, postgresAvailable, storageBackends } from "../support/storage-backends.js";

const MINUTE_MS = 60_000;
const registration = { pid: process.pid, staleMs: MINUTE_MS };

/** The id of a process that has exited. */
const exitedPid = () => {
  const child = spawnSync(process.execPath, ["-e", ""]);
  if (child.pid === undefined || child.status !== 0) throw new Error("no process started");
  return child.pid;
};

describe.each(storageBackends)("%s instance repository", (name, createBackend) => {
  let backend: StorageBackend;
  /** A server instance, and another one on the same database. */
  let storage: Storage;
  let other: Storage;
  /** Instances the test registered: removed after it, so that none keeps the next test out. */
  const registered: string[] = [];
  const newInstance = (label: string) => {
    const instanceId = `${label}-${randomUUID()}`;
    registered.push(instanceId);
    return instanceId;
  };
  beforeAll(async () => {
    backend = createBackend();
    storage = await backend.open();
    other = await backend.open();
  });
  afterEach(async () => {
    for (const instanceId of registered.splice(0)) await storage.instances.removeInstance(instanceId);
  });
  afterAll(() => backend?.dispose());

  if (name === "sqlite") {
    it("refuses a second server while the first one's process lives and beats; the refused one is not recorded", async () => {
      const first = newInstance("first");
      await storage.instances.registerInstance(first, registration);
      // Registering again under its own id (a restart of the same instance) is no conflict.
      await storage.instances.registerInstance(first, registration);
      const second = newInstance("second");
      await expect(other.instances.registerInstance(second, registration)).rejects.toBeInstanceOf(DatabaseInUseError);
      await storage.instances.removeInstance(first);
      // Had the refused one been recorded, it would keep this one out.
      await other.instances.registerInstance(newInstance("third"), registration);
    });

    it("of two servers starting at once, exactly one is let in", async () => {
      const results = await Promise.allSettled([
        storage.instances.registerInstance(newInstance("left"), registration),
        other.instances.registerInstance(newInstance("right"), registration),
      ]);
      expect(results.map((result) => result.status).toSorted()).toEqual(["fulfilled", "rejected"]);
      expect(results.find((result) => result.status === "rejected")?.reason).toBeInstanceOf(DatabaseInUseError);
    });

    it("lets a server in once the other one has been silent for staleMs; a heartbeat keeps it alive", async () => {
      const first = newInstance("first");
      await storage.instances.registerInstance(first, registration);
      await backend.ageHeartbeat(first, 2 * MINUTE_MS);
      await storage.instances.heartbeat(first);
      await expect(other.instances.registerInstance(newInstance("too-early"), registration)).rejects.toBeInstanceOf(DatabaseInUseError);
      await backend.ageHeartbeat(first, 2 * MINUTE_MS);
      await other.instances.registerInstance(newInstance("second"), registration);
    });

    it("lets a server in when the other one's process is gone, however fresh its heartbeat", async () => {
      await storage.instances.registerInstance(newInstance("crashed"), { pid: exitedPid(), staleMs: MINUTE_MS });
      await other.instances.registerInstance(newInstance("second"), registration);
    });

    it("counts an instance that only beats (no process id: an earlier release) as alive while it beats", async () => {
      const earlier = newInstance("earlier-release");
      await storage.instances.heartbeat(earlier);
      await expect(other.instances.registerInstance(newInstance("too-early"), registration)).rejects.toBeInstanceOf(DatabaseInUseError);
      await backend.ageHeartbeat(earlier, 2 * MINUTE_MS);
      await other.instances.registerInstance(newInstance("second"), registration);
    });
  } else {
    it("registers any number of instances: several servers share the database", async () => {
      await storage.instances.registerInstance(newInstance("first"), registration);
      await other.instances.registerInstance(newInstance("second"), registration);
      await Promise.all([storage.instances.registerInstance(newInstance("third"), registration), other.instances.registerInstance(newInstance("fourth"), registration)]);
    });

    it("an instance is alive while it beats: its runs are taken only once it is silent for staleMs, or removed", async () => {
      const live = newInstance("live");
      await storage.instances.registerInstance(live, registration);
      const thread = await storage.threads.createThread({ threadId: `thread-${randomUUID()}`, metadata: {} });
      const run = {
        runId: `run-${randomUUID()}`,
        threadId: thread!.threadId,
        instanceId: live,
        assistantId: "agent",
        status: "pending" as const,
        metadata: {},
        kwargs: {},
        multitaskStrategy: "enqueue" as const,
        createdAt: new Date(),
      };
      await storage.runs.admitRun(run, { exclusive: true });
      const survivor = newInstance("survivor");
      await other.instances.registerInstance(survivor, registration);
      const takes = async () => (await other.runs.takeAbandonedRuns({ self: survivor, staleMs: MINUTE_MS })).some((taken) => taken.runId === run.runId);

      expect(await takes()).toBe(false);
      await backend.ageHeartbeat(live, MINUTE_MS / 2);
      expect(await takes()).toBe(false);
      // Silent past staleMs, then beating again before anyone took its runs: alive.
      await backend.ageHeartbeat(live, 2 * MINUTE_MS);
      await storage.instances.heartbeat(live);
      expect(await takes()).toBe(false);
      await storage.instances.removeInstance(live);
      expect(await takes()).toBe(true);
    });
  }
});

if (!postgresAvailable) describe.skip("postgres instance repository (PostgreSQL unreachable)", () => it("runs the contract", () => undefined));
