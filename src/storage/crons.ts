/**
 * Crons: runs started on a schedule, on one thread or each on a new one. The schedule itself
 * (parsing, the next time) is the server's; storage keeps each cron's next run date and lets
 * exactly one instance claim each occurrence.
 */

/** What a stateless cron does with the thread of each run once it ends. */
export type CronThreadAction = "delete" | "keep";

/** A cron's record. */
export interface Cron {
  cronId: string;
  assistantId: string;
  /** The thread every run goes to; `null` for a stateless cron (a new thread each run). */
  threadId: string | null;
  /** Who created it, when API keys are on; `null` without authentication. */
  owner: string | null;
  /** Cron syntax, as croner reads it (5, 6 or 7 fields). */
  schedule: string;
  /** IANA time zone of the schedule; `null` is UTC. */
  timezone: string | null;
  /** No run starts after this time; `null` for none. */
  endTime: Date | null;
  enabled: boolean;
  /** Stateless crons only (`null` on a thread's). */
  onRunCompleted: CronThreadAction | null;
  /** The run request each occurrence starts (the LangGraph API's `payload`, snake_case). */
  payload: Record<string, unknown>;
  metadata: Record<string, unknown>;
  /** The next occurrence to start; `null` when none will (past its end, or never matching). */
  nextRunDate: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A cron to insert; its times are the repository's. */
export type NewCron = Omit<Cron, "createdAt" | "updatedAt">;

/** What an update may change; omitted fields stay as they are. */
export type CronPatch = Partial<Pick<Cron, "schedule" | "timezone" | "endTime" | "enabled" | "onRunCompleted" | "payload" | "metadata" | "nextRunDate">>;

export type CronSortField = "cron_id" | "assistant_id" | "thread_id" | "created_at" | "updated_at" | "next_run_date";

/** Filters of cron search and count; every given filter must match. */
export interface CronFilter {
  /** Only this owner's crons; undefined means every cron (authentication off). */
  owner?: string;
  assistantId?: string;
  threadId?: string;
  enabled?: boolean;
  /** Each key must equal the given JSON value in the cron's metadata. */
  metadata?: Record<string, unknown>;
}

export interface CronSearch extends CronFilter {
  limit: number;
  offset: number;
  sortBy: CronSortField;
  sortOrder: "asc" | "desc";
}

/**
 * Where crons live. Lookups return `null` for unknown ids (or another owner's); the route decides
 * on 404. A thread's crons go with the thread. Implementations: SQLite, PostgreSQL.
 */
export interface CronRepository {
  /** Creates or migrates the table; idempotent. */
  setup(): Promise<void>;
  createCron(cron: NewCron): Promise<Cron>;
  /** The cron, or `null` when it does not exist or (with `owner` given) belongs to someone else. */
  getCron(cronId: string, owner?: string): Promise<Cron | null>;
  /** Applies `patch` and touches `updatedAt`; `null` when the cron does not exist. */
  updateCron(cronId: string, patch: CronPatch): Promise<Cron | null>;
  /** Deletes the cron (with `owner` given, only that owner's); returns whether it existed. */
  deleteCron(cronId: string, owner?: string): Promise<boolean>;
  searchCrons(search: CronSearch): Promise<Cron[]>;
  countCrons(filter: CronFilter): Promise<number>;
  /** Enabled crons whose next run date is at or before `now`, oldest due first, at most `limit`. */
  dueCrons(now: Date, limit: number): Promise<Cron[]>;
  /**
   * Claims the occurrence `seen` of a cron: moves its next run date to `next` only if it still is
   * `seen` and the cron is enabled, atomically for every instance on the database. Returns the
   * cron as it now is when this caller won the occurrence, `null` when another one did (or the
   * cron was changed, disabled or deleted meanwhile). Leaves `updatedAt` alone.
   */
  claimOccurrence(cronId: string, seen: Date, next: Date | null): Promise<Cron | null>;
}
