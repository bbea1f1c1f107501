/**
 * The run event relay: on PostgreSQL, which several instances share, a run's events are stored so
 * that another instance can stream them (in order, from any point) until they are pruned by age.
 * On SQLite one process owns the file and there is no relay.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunEventStore, StoredRunEvent } from "../../src/storage/run-events.js";
import { postgresAvailable, postgresBackend, sqliteBackend } from "../support/storage-backends.js";

const MINUTE_MS = 60_000;

/** An event as the run manager relays one: its sequence number, name and JSON text. */
const makeEvent = (seq: number, overrides: Partial<StoredRunEvent> = {}): StoredRunEvent => ({
  seq,
  event: "values",
  data: JSON.stringify({ seq, messages: [{ content: `message ${seq}` }] }),
  ...overrides,
});
const newRun = () => `run-${randomUUID()}`;

describe("sqlite run events", () => {
  it("has no relay: one process owns the file", async () => {
    const backend = sqliteBackend();
    try {
      expect((await backend.open()).runEvents).toBeUndefined();
    } finally {
      await backend.dispose();
    }
  });
});

describe.skipIf(!postgresAvailable)("postgres run events", () => {
  const backend = postgresBackend();
  /** The instance that executes the runs, and one that streams them. */
  let executing: RunEventStore;
  let streaming: RunEventStore;
  beforeAll(async () => {
    executing = (await backend.open()).runEvents!;
    streaming = (await backend.open()).runEvents!;
  });
  afterAll(() => backend.dispose());

  /** Makes a run's relayed events `ms` old. */
  const age = (runId: string, ms: number, seqs?: number[]) =>
    backend.sql(
      `UPDATE ${backend.schema}.agent_run_events SET created_at = now() - make_interval(secs => $2::double precision / 1000)
       WHERE run_id = $1 AND ($3::int[] IS NULL OR seq = ANY($3::int[]))`,
      [runId, ms, seqs ?? null],
    );

  it("relays a run's events to another instance, in seq order, after any seq", async () => {
    const runId = newRun();
    const elsewhere = newRun();
    const tricky = makeEvent(3, { event: "messages/partial", data: JSON.stringify({ text: 'line one\nline "two" ✓' }) });
    await executing.appendRunEvents(runId, [makeEvent(1), makeEvent(2)]);
    // Batches may arrive out of order; the relay orders by seq.
    await executing.appendRunEvents(runId, [makeEvent(5), makeEvent(4)]);
    await executing.appendRunEvents(runId, [tricky]);
    await executing.appendRunEvents(elsewhere, [makeEvent(1, { event: "end" })]);
    expect(await streaming.runEventsAfter(runId, 0)).toEqual([makeEvent(1), makeEvent(2), tricky, makeEvent(4), makeEvent(5)]);
    expect(await streaming.runEventsAfter(runId, 2)).toEqual([tricky, makeEvent(4), makeEvent(5)]);
    expect(await streaming.runEventsAfter(runId, 5)).toEqual([]);
    expect(await streaming.runEventsAfter(elsewhere, 0)).toEqual([makeEvent(1, { event: "end" })]);
    expect(await streaming.runEventsAfter(newRun(), 0)).toEqual([]);
  });

  it("keeps the first event of a seq stored twice; an empty batch stores nothing", async () => {
    const runId = newRun();
    await executing.appendRunEvents(runId, [makeEvent(1, { data: '"first"' })]);
    await executing.appendRunEvents(runId, [makeEvent(1, { data: '"again"' }), makeEvent(2)]);
    await executing.appendRunEvents(runId, []);
    expect(await streaming.runEventsAfter(runId, 0)).toEqual([makeEvent(1, { data: '"first"' }), makeEvent(2)]);
  });

  it("prunes the events older than the age given, of every run, and keeps the newer ones", async () => {
    const [old, mixed, fresh] = [newRun(), newRun(), newRun()];
    for (const runId of [old, mixed, fresh]) await executing.appendRunEvents(runId, [makeEvent(1), makeEvent(2), makeEvent(3)]);
    await age(old, 10 * MINUTE_MS);
    await age(mixed, 10 * MINUTE_MS, [1, 2]);
    await age(fresh, 2 * MINUTE_MS);
    await streaming.pruneRunEvents(5 * MINUTE_MS);
    expect(await streaming.runEventsAfter(old, 0)).toEqual([]);
    expect(await streaming.runEventsAfter(mixed, 0)).toEqual([makeEvent(3)]);
    expect(await streaming.runEventsAfter(fresh, 0)).toEqual([makeEvent(1), makeEvent(2), makeEvent(3)]);
  });
});
