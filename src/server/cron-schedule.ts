/**
 * Cron schedules, read by croner: 5 fields (minute precision), 6 (seconds first) or 7 (with the
 * year), in an IANA time zone or UTC. The one place that parses a schedule or computes its next
 * time, for the routes (validation, `next_run_date`) and the scheduler alike.
 */
import { Cron } from "croner";

/** Why `schedule` (in `timezone`, UTC when absent) is not a usable schedule; `undefined` when it is. */
export function scheduleProblem(schedule: string, timezone?: string | null): string | undefined {
  try {
    new Cron(schedule, { timezone: timezone ?? "UTC", paused: true }).nextRun();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Whether `name` is an IANA time zone this runtime knows (e.g. `Europe/Paris`, `UTC`). */
export function isTimeZone(name: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

/**
 * The first time `schedule` matches strictly after `after`, or `null` when there is none or it
 * would come after `endTime` (no run starts after a cron's end).
 */
export function nextOccurrence(schedule: string, timezone: string | null, after: Date, endTime: Date | null = null): Date | null {
  const next = new Cron(schedule, { timezone: timezone ?? "UTC", paused: true }).nextRun(after);
  if (!next || (endTime && next.getTime() > endTime.getTime())) return null;
  return next;
}
