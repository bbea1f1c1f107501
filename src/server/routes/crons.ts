/**
 * Crons (`/runs/crons`, `/threads/{thread_id}/runs/crons`): create, search, count, update,
 * delete, as the SDK's `CronsClient` calls them. A cron is checked as its runs will be (assistant,
 * thread, input, webhook) before anything is written; with API keys each owner sees only theirs.
 * The runs themselves are started by the CronScheduler.
 */
import { randomUUID } from "node:crypto";
import { type Request, type Response, Router } from "express";
import { NotFoundError, ValidationError } from "../../errors.js";
import type { Cron } from "../../storage/crons.js";
import { assistantIdOf } from "../assistants.js";
import type { AppDeps } from "../app-deps.js";
import { ownerOf } from "../auth.js";
import { nextOccurrence, scheduleProblem } from "../cron-schedule.js";
import { cronRunRequest } from "../cron-scheduler.js";
import { CRON_FIELDS, CronCount, CronCreate, CronPath, CronSearch, CronUpdate, ThreadPath, parseInput } from "../schemas.js";
import { cronToWire } from "../wire.js";

/** The fields that were given: the payload keeps what the client asked for, not `undefined`s. */
const given = (record: Record<string, unknown>) => Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));

/** Crons' routes. */
export function cronsRouter(deps: AppDeps): Router {
  const { storage, runs } = deps;
  const router = Router();

  const requireCron = async (cronId: string, response: Response): Promise<Cron> => {
    const cron = await storage.crons.getCron(cronId, ownerOf(response));
    if (!cron) throw new NotFoundError(`Cron ${cronId} not found`);
    return cron;
  };
  /** Every check an occurrence's run will pass (404 for an unknown thread or assistant, 422 for bad input), writing nothing. */
  const checkRuns = (cron: Pick<Cron, "payload" | "threadId" | "onRunCompleted">, response: Response) =>
    runs.check(cron.threadId ?? undefined, cronRunRequest(cron), ownerOf(response));
  const nextRun = (schedule: string, timezone: string | null, endTime: Date | null) => {
    const next = nextOccurrence(schedule, timezone, new Date(), endTime);
    // Past its end is allowed (it runs no more); a schedule that never matches is a mistake.
    if (!next && !endTime) throw new ValidationError(`Invalid request body: schedule: ${JSON.stringify(schedule)} never matches a time after now`);
    return next;
  };

  const create = async (request: Request, response: Response, threadId: string | null) => {
    const body = parseInput(CronCreate, request.body);
    const { schedule, timezone = null, end_time, enabled, on_run_completed, checkpoint_during: _notKept, ...run } = body;
    assertSchedule(schedule, timezone);
    const payload = given(run);
    const onRunCompleted = threadId === null ? on_run_completed : null;
    await checkRuns({ payload, threadId, onRunCompleted }, response);
    const endTime = end_time ? new Date(end_time) : null;
    const cron = await storage.crons.createCron({
      cronId: randomUUID(),
      assistantId: assistantIdOf(body.assistant_id),
      threadId,
      owner: ownerOf(response) ?? null,
      schedule,
      timezone,
      endTime,
      enabled,
      onRunCompleted,
      payload,
      metadata: body.metadata ?? {},
      nextRunDate: nextRun(schedule, timezone, endTime),
    });
    response.json(cronToWire(cron));
  };

  router.post("/runs/crons", (request, response) => create(request, response, null));
  router.post("/threads/:thread_id/runs/crons", (request, response) => create(request, response, parseInput(ThreadPath, request.params, "path").thread_id));

  router.post("/runs/crons/search", async (request, response) => {
    const body = parseInput(CronSearch, request.body);
    const crons = await storage.crons.searchCrons({
      owner: ownerOf(response),
      assistantId: assistantFilter(body.assistant_id),
      threadId: body.thread_id,
      enabled: body.enabled,
      metadata: body.metadata,
      limit: body.limit,
      offset: body.offset,
      sortBy: body.sort_by,
      sortOrder: body.sort_order,
    });
    const now = new Date().toISOString();
    const select = body.select ?? CRON_FIELDS.filter((field) => field !== "now");
    response.json(
      crons.map((cron) => {
        const wire: Record<string, unknown> = { ...cronToWire(cron), now };
        return Object.fromEntries(select.map((field) => [field, wire[field]]));
      }),
    );
  });

  router.post("/runs/crons/count", async (request, response) => {
    const body = parseInput(CronCount, request.body);
    response.json(await storage.crons.countCrons({ owner: ownerOf(response), assistantId: assistantFilter(body.assistant_id), threadId: body.thread_id, metadata: body.metadata }));
  });

  router.patch("/runs/crons/:cron_id", async (request, response) => {
    const { cron_id } = parseInput(CronPath, request.params, "path");
    const body = parseInput(CronUpdate, request.body);
    const cron = await requireCron(cron_id, response);
    const { schedule = cron.schedule, timezone = cron.timezone, end_time, enabled, on_run_completed, ...run } = body;
    assertSchedule(schedule, timezone);
    const changes = given(run);
    const payload = { ...cron.payload, ...changes };
    const onRunCompleted = cron.threadId === null ? (on_run_completed ?? cron.onRunCompleted) : null;
    if (Object.keys(changes).length > 0) await checkRuns({ payload, threadId: cron.threadId, onRunCompleted }, response);
    const endTime = end_time === undefined ? cron.endTime : end_time === null ? null : new Date(end_time);
    // A new timing starts from now: a cron enabled again does not catch up on what it skipped.
    const retimed = body.schedule !== undefined || body.timezone !== undefined || end_time !== undefined || enabled !== undefined;
    const updated = await storage.crons.updateCron(cron_id, {
      schedule,
      timezone,
      endTime,
      enabled,
      onRunCompleted,
      payload,
      metadata: changes.metadata === undefined ? undefined : (changes.metadata as Record<string, unknown>),
      nextRunDate: retimed ? nextRun(schedule, timezone, endTime) : undefined,
    });
    if (!updated) throw new NotFoundError(`Cron ${cron_id} not found`);
    response.json(cronToWire(updated));
  });

  router.delete("/runs/crons/:cron_id", async (request, response) => {
    const { cron_id } = parseInput(CronPath, request.params, "path");
    if (!(await storage.crons.deleteCron(cron_id, ownerOf(response)))) throw new NotFoundError(`Cron ${cron_id} not found`);
    response.status(204).end();
  });

  return router;
}

/** A schedule and time zone each valid may still fail together (a time that does not exist there). */
function assertSchedule(schedule: string, timezone: string | null): void {
  const problem = scheduleProblem(schedule, timezone);
  if (problem) throw new ValidationError(`Invalid request body: schedule: ${JSON.stringify(schedule)} in time zone ${timezone ?? "UTC"}: ${problem}`);
}

/** Crons keep the resolved assistant id: `agent` finds them as its id does. */
const assistantFilter = (idOrGraphId: string | undefined): string | undefined => (idOrGraphId === undefined ? undefined : assistantIdOf(idOrGraphId));
