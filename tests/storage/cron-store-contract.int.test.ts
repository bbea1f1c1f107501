/**
 * The cron repository contract, run against SQLite and (when a server answers) PostgreSQL:
 * create and get (scoped by owner), update (only the given fields; updatedAt moves), delete
 * (scoped by owner; with the cron's thread), search and count (owner, assistant, thread,
 * enabled, metadata as JSON values; sort fields both ways; pages), which crons are due, and
 * claiming an occurrence: one claimant wins, whichever instance it is on.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Cron, CronSearch, NewCron } from "../../src/storage/crons.js";
import type { Storage } from "../../src/storage/storage.js";
import { type StorageBackend, storageBackends } from "../support/storage-backends.js";

const SECOND = 1000;

/** A stateless cron due in a minute, as the server creates one. */
const makeCron = (overrides: Partial<NewCron> = {}): NewCron => ({
  cronId: randomUUID(),
  assistantId: "agent",
  threadId: null,
  owner: null,
  schedule: "*/5 * * * *",
  timezone: null,
  endTime: null,
  enabled: true,
  onRunCompleted: "delete",
  payload: { assistant_id: "agent", input: { messages: [{ role: "user", content: "hello" }] } },
  metadata: {},
  nextRunDate: new Date(Date.now() + 60 * SECOND),
  ...overrides,
});

const ids = (crons: Cron[]) => crons.map((cron) => cron.cronId);

describe.each(storageBackends)("%s cron repository", (_name, createBackend) => {
  let backend: StorageBackend;
  let storage: Storage;
  beforeAll(async () => {
    backend = createBackend();
    storage = await backend.open();
  });
  afterAll(() => backend?.dispose());

  const create = (overrides: Partial<NewCron> = {}) => storage.crons.createCron(makeCron(overrides));
  const search = (filter: Partial<CronSearch>) => storage.crons.searchCrons({ limit: 100, offset: 0, sortBy: "created_at", sortOrder: "asc", ...filter });

  it("sets up idempotently, also from several storages at once", async () => {
    await storage.setup();
    await Promise.all([backend.open(), backend.open()]);
    const cron = await create();
    expect(await (await backend.open()).crons.getCron(cron.cronId)).toEqual(cron);
  });

  it("creates a cron and reads it back as created; unknown ids and other owners' crons are not found", async () => {
    const endTime = new Date(Date.UTC(2099, 0, 1, 12, 30));
    const nextRunDate = new Date(Date.UTC(2098, 5, 1, 8, 0, 5));
    const wanted = makeCron({ owner: "alice", timezone: "Europe/Paris", endTime, nextRunDate, metadata: { team: "ops", nested: { a: [1] } } });
    const created = await storage.crons.createCron(wanted);
    expect(created).toEqual({ ...wanted, createdAt: expect.any(Date), updatedAt: expect.any(Date) });
    expect(created.updatedAt.getTime()).toBe(created.createdAt.getTime());
    expect(await storage.crons.getCron(created.cronId)).toEqual(created);
    expect(await storage.crons.getCron(created.cronId, "alice")).toEqual(created);
    expect(await storage.crons.getCron(created.cronId, "bob")).toBeNull();
    expect(await storage.crons.getCron(randomUUID())).toBeNull();
  });

  it("updates only the given fields, clears end time and next run date with null, and moves updatedAt", async () => {
    const cron = await create({ endTime: new Date(Date.now() + 3600 * SECOND), metadata: { keep: 1 } });
    const updated = await storage.crons.updateCron(cron.cronId, { schedule: "0 9 * * *", timezone: "Asia/Tokyo", enabled: false, endTime: null, nextRunDate: null, payload: { assistant_id: "agent" } });
    expect(updated).toEqual({
      ...cron,
      schedule: "0 9 * * *",
      timezone: "Asia/Tokyo",
      enabled: false,
      endTime: null,
      nextRunDate: null,
      payload: { assistant_id: "agent" },
      updatedAt: expect.any(Date),
    });
    expect(updated!.updatedAt.getTime()).toBeGreaterThan(cron.updatedAt.getTime());
    expect(await storage.crons.getCron(cron.cronId)).toEqual(updated);
    expect(await storage.crons.updateCron(randomUUID(), { enabled: true })).toBeNull();
  });

  it("deletes a cron only for its owner, once", async () => {
    const cron = await create({ owner: "alice" });
    expect(await storage.crons.deleteCron(cron.cronId, "bob")).toBe(false);
    expect(await storage.crons.deleteCron(cron.cronId, "alice")).toBe(true);
    expect(await storage.crons.deleteCron(cron.cronId)).toBe(false);
    expect(await storage.crons.getCron(cron.cronId)).toBeNull();
  });

  it("deletes a thread's crons with the thread", async () => {
    const threadId = randomUUID();
    await storage.threads.createThread({ threadId, metadata: {} });
    const cron = await create({ threadId, onRunCompleted: null });
    expect((await storage.crons.getCron(cron.cronId))?.threadId).toBe(threadId);
    await storage.threads.deleteThread(threadId);
    expect(await storage.crons.getCron(cron.cronId)).toBeNull();
  });

  it("searches and counts by owner, assistant, thread, enabled and metadata (as JSON values)", async () => {
    const owner = `owner-${randomUUID()}`;
    const threadId = randomUUID();
    await storage.threads.createThread({ threadId, metadata: {} });
    const a = await create({ owner, metadata: { kind: "report", flag: true } });
    const b = await create({ owner, assistantId: "other", metadata: { kind: "report", flag: 1 } });
    const c = await create({ owner, threadId, onRunCompleted: null, enabled: false });
    await create({ owner: "someone else", metadata: { kind: "report", flag: true } });
    expect(ids(await search({ owner }))).toEqual([a.cronId, b.cronId, c.cronId]);
    expect(ids(await search({ owner, assistantId: "agent" }))).toEqual([a.cronId, c.cronId]);
    expect(ids(await search({ owner, threadId }))).toEqual([c.cronId]);
    expect(ids(await search({ owner, enabled: false }))).toEqual([c.cronId]);
    expect(ids(await search({ owner, metadata: { kind: "report" } }))).toEqual([a.cronId, b.cronId]);
    // true and 1 are different JSON values.
    expect(ids(await search({ owner, metadata: { flag: true } }))).toEqual([a.cronId]);
    expect(await storage.crons.countCrons({ owner })).toBe(3);
    expect(await storage.crons.countCrons({ owner, enabled: true, metadata: { kind: "report" } })).toBe(2);
    expect(await storage.crons.countCrons({ owner: `nobody-${randomUUID()}` })).toBe(0);
  });

  it("sorts by every field both ways and pages", async () => {
    const owner = `owner-${randomUUID()}`;
    const base = Date.now() + 3600 * SECOND;
    // Created in one order, due in the reverse one.
    const made: Cron[] = [];
    for (let index = 0; index < 4; index += 1) made.push(await create({ owner, assistantId: `assistant-${index}`, nextRunDate: new Date(base - index * SECOND) }));
    const created = ids(made);
    expect(ids(await search({ owner, sortBy: "created_at", sortOrder: "asc" }))).toEqual(created);
    expect(ids(await search({ owner, sortBy: "created_at", sortOrder: "desc" }))).toEqual([...created].reverse());
    expect(ids(await search({ owner, sortBy: "next_run_date", sortOrder: "asc" }))).toEqual([...created].reverse());
    expect(ids(await search({ owner, sortBy: "assistant_id", sortOrder: "desc" }))).toEqual([...created].reverse());
    expect(ids(await search({ owner, sortBy: "cron_id", sortOrder: "asc" }))).toEqual([...created].sort());
    await storage.crons.updateCron(made[1]!.cronId, { enabled: true });
    expect(ids(await search({ owner, sortBy: "updated_at", sortOrder: "desc" }))[0]).toBe(made[1]!.cronId);
    expect(ids(await search({ owner, limit: 2, offset: 1 }))).toEqual(created.slice(1, 3));
  });

  it("lists enabled crons that are due, oldest first", async () => {
    const now = new Date();
    const earlier = await create({ nextRunDate: new Date(now.getTime() - 5 * SECOND) });
    const early = await create({ nextRunDate: new Date(now.getTime() - 2 * SECOND) });
    const disabled = await create({ nextRunDate: new Date(now.getTime() - 3 * SECOND), enabled: false });
    const later = await create({ nextRunDate: new Date(now.getTime() + 60 * SECOND) });
    const finished = await create({ nextRunDate: null });
    const due = ids(await storage.crons.dueCrons(now, 1000));
    expect(due.indexOf(earlier.cronId)).toBeLessThan(due.indexOf(early.cronId));
    expect(due.indexOf(earlier.cronId)).toBeGreaterThanOrEqual(0);
    for (const cron of [disabled, later, finished]) expect(due).not.toContain(cron.cronId);
  });

  it("lets one claimant win an occurrence, whichever storage (instance) it comes through", async () => {
    const seen = new Date(Date.now() - SECOND);
    const cron = await create({ nextRunDate: seen });
    const others = [storage, await backend.open(), await backend.open()];
    const next = new Date(seen.getTime() + 60 * SECOND);
    const claims = await Promise.all(others.flatMap((other) => [other.crons.claimOccurrence(cron.cronId, seen, next), other.crons.claimOccurrence(cron.cronId, seen, next)]));
    const won = claims.filter((claim) => claim !== null);
    expect(won).toHaveLength(1);
    expect(won[0]).toEqual({ ...cron, nextRunDate: next });
    // The next occurrence is claimed from the new date; a stale one no more.
    expect(await storage.crons.claimOccurrence(cron.cronId, seen, null)).toBeNull();
    expect((await storage.crons.claimOccurrence(cron.cronId, next, null))?.nextRunDate).toBeNull();
    // A disabled cron's occurrence cannot be claimed.
    const disabled = await create({ nextRunDate: seen, enabled: false });
    expect(await storage.crons.claimOccurrence(disabled.cronId, seen, next)).toBeNull();
  });
});
