/**
 * Request bodies, queries and path parameters of the API, validated at the edge. Each schema and
 * its type share a name; `parseInput` turns a failed parse into a 422 naming the bad fields.
 */
import { isSupportedChannel } from "@langchain/langgraph/stream";
import { z } from "zod";
import { ValidationError } from "../errors.js";
import { DOCUMENT_CONTENT_TYPES } from "../storage/documents.js";
import { MAX_QUERY_CHARACTERS } from "../storage/message-text.js";
import { isTimeZone, scheduleProblem } from "./cron-schedule.js";
import { MessagesIn } from "./message-in.js";

/** Parses `value` with `schema`, or throws `ValidationError` listing every problem by path. */
export function parseInput<T extends z.ZodType>(schema: T, value: unknown, where = "body"): z.infer<T> {
  const parsed = schema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.flatMap((issue) => describeIssue(issue, [], where));
  throw new ValidationError(`Invalid request ${where}: ${[...new Set(problems)].join("; ")}`, { cause: parsed.error });
}

/**
 * `path: message` for one issue. A failed union says only "Invalid input" at its top, so we
 * report the branches that got past the type check instead (e.g. an unknown enum value inside
 * the string-or-array branch), which is what the client needs to fix.
 */
function describeIssue(issue: z.core.$ZodIssue, prefix: PropertyKey[], where: string): string[] {
  const path = [...prefix, ...issue.path];
  if (issue.code === "invalid_union" && issue.errors.length > 0) {
    const typeMismatch = (branch: z.core.$ZodIssue[]) => branch.every((inner) => inner.code === "invalid_type" && inner.path.length === 0);
    const relevant = issue.errors.filter((branch) => !typeMismatch(branch));
    if (relevant.length > 0) return relevant.flat().flatMap((inner) => describeIssue(inner, path, where));
    const expected = [...new Set(issue.errors.flat().map((inner) => (inner.code === "invalid_type" ? inner.expected : undefined)).filter(Boolean))];
    return [`${path.length > 0 ? path.join(".") : where}: expected ${expected.join(" or ")}`];
  }
  return [`${path.length > 0 ? path.join(".") : where}: ${issue.message}`];
}

const Metadata = z.record(z.string(), z.unknown());
/** Most keys a metadata filter may match on: each is a clause, and SQLite caps an expression's depth at 1000. */
export const MAX_FILTER_KEYS = 100;
/** Metadata to match (every key equal), as searches take it. */
const MetadataFilter = Metadata.refine((filter) => Object.keys(filter).length <= MAX_FILTER_KEYS, {
  error: `filters on at most ${MAX_FILTER_KEYS} keys`,
});
const Uuid = z.guid({ message: "must be a UUID" });

/**
 * A thread's time to live: deleted after this many minutes without activity (the SDK sends
 * `{strategy: "delete", ttl}`; a bare number is read the same). Given as minutes, the unit the
 * official API uses; fractions allowed. Read as the number of minutes.
 */
const ThreadTtl = z
  .union([z.number().positive().finite(), z.object({ strategy: z.literal("delete").default("delete"), ttl: z.number().positive().finite() })])
  .transform((ttl) => (typeof ttl === "number" ? ttl : ttl.ttl));

/** Path parameters. */
export const ThreadPath = z.object({ thread_id: Uuid });
export const RunPath = z.object({ thread_id: Uuid, run_id: Uuid });
export const CheckpointPath = z.object({ thread_id: Uuid, checkpoint_id: Uuid });
export const StatelessRunPath = z.object({ run_id: Uuid });

/** A message in any form LangChain coerces (see message-in.ts). */
export { MessageIn } from "./message-in.js";

/** Where the window starts (the graph's `windowStart`): an index into the messages. */
const WindowStart = z.number().int().min(0);
/** The graph's `summary` (`ConversationSummary` in src/graph/state.ts), or null for none. */
const SummaryValue = z.strictObject({ text: z.string(), upTo: z.number().int().min(0) }).nullable();

/**
 * State values a client may write: the graph's channels, each checked for its type, so that what
 * a client reads from the state it can write back. That `windowStart` and `summary.upTo` point
 * into the messages is checked against the thread where it is known (`state-bounds.ts`).
 */
export const StateValues = z.strictObject({ messages: MessagesIn.optional(), windowStart: WindowStart.optional(), summary: SummaryValue.optional() });
export type StateValues = z.infer<typeof StateValues>;

export const Command = z.strictObject({
  // As LangGraph takes it: the values, or `[channel, value]` pairs.
  update: z
    .union([
      StateValues,
      z.array(z.union([z.tuple([z.literal("messages"), MessagesIn]), z.tuple([z.literal("windowStart"), WindowStart]), z.tuple([z.literal("summary"), SummaryValue])])),
    ])
    .optional(),
  resume: z.unknown().optional(),
  goto: z
    .union([z.string(), z.object({ node: z.string(), input: z.unknown().optional() }), z.array(z.union([z.string(), z.object({ node: z.string(), input: z.unknown().optional() })]))])
    .optional(),
});
export type Command = z.infer<typeof Command>;

/** Stream modes of the LangGraph API that this server produces. */
export const STREAM_MODES = ["values", "updates", "messages", "messages-tuple", "custom", "debug", "tasks", "checkpoints", "tools", "events"] as const;
export type StreamMode = (typeof STREAM_MODES)[number];
const StreamModeName = z.enum(STREAM_MODES, {
  error: (issue) => `unknown stream mode ${JSON.stringify(issue.input)}; use one of ${STREAM_MODES.join(", ")}`,
});

/** A checkpoint of the thread in the path; a `thread_id` in it is ignored, never followed. */
export const CheckpointRef = z
  .object({
    checkpoint_id: Uuid.optional(),
    checkpoint_ns: z.string().nullish(),
    checkpoint_map: z.record(z.string(), z.unknown()).nullish(),
    thread_id: z.string().optional(),
  })
  .transform(({ thread_id: _ignored, ...checkpoint }) => checkpoint);

/** Nodes a run may pause before or after: the agent's own, or all of them. */
const Interruptible = z.union([z.literal("*"), z.array(z.enum(["trim", "model"]))]);

export const RunConfig = z.looseObject({
  tags: z.array(z.string()).optional(),
  recursion_limit: z.number().int().positive().optional(),
  configurable: z.record(z.string(), z.unknown()).optional(),
});

/**
 * Longest `after_seconds`. A delayed run waits in memory (a restart ends it, as any unfinished run),
 * and timers cannot wait longer than about 24.8 days anyway: beyond that they fire at once.
 */
export const MAX_AFTER_SECONDS = 86_400;

export const RunCreate = z.object({
  assistant_id: z.string().min(1),
  input: StateValues.nullish(),
  command: Command.nullish(),
  metadata: Metadata.optional(),
  config: RunConfig.optional(),
  context: z.record(z.string(), z.unknown()).nullish(),
  checkpoint_id: Uuid.optional(),
  checkpoint: CheckpointRef.nullish(),
  stream_mode: z.union([StreamModeName, z.array(StreamModeName)]).optional(),
  stream_subgraphs: z.boolean().optional(),
  stream_resumable: z.boolean().optional(),
  interrupt_before: Interruptible.optional(),
  interrupt_after: Interruptible.optional(),
  on_disconnect: z.enum(["cancel", "continue"]).default("continue"),
  multitask_strategy: z.enum(["reject", "enqueue", "interrupt", "rollback"]).default("reject"),
  if_not_exists: z.enum(["reject", "create"]).default("reject"),
  on_completion: z.enum(["delete", "keep"]).optional(),
  durability: z.enum(["sync", "async", "exit"]).optional(),
  after_seconds: z
    .number()
    .nonnegative()
    .max(MAX_AFTER_SECONDS, { error: `must be at most ${MAX_AFTER_SECONDS} (a day): a delayed run waits in this server's memory` })
    .optional(),
  webhook: z.url({ protocol: /^https?$/, error: "webhook must be an http(s) URL" }).optional(),
  feedback_keys: z
    .array(z.string())
    .max(0, { error: "feedback_keys need LangSmith, which this server does not use" })
    .optional(),
});
export type RunCreate = z.infer<typeof RunCreate>;

export const RunBatch = z.array(RunCreate).min(1).max(100);

/** Fields of a run on the wire, which `select` may name. */
export const RUN_FIELDS = ["run_id", "thread_id", "assistant_id", "created_at", "updated_at", "status", "metadata", "kwargs", "multitask_strategy"] as const;

export const RunListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(10),
  offset: z.coerce.number().int().min(0).default(0),
  status: z.enum(["pending", "running", "success", "error", "timeout", "interrupted"]).optional(),
  // `?select=run_id&select=status` as the SDK sends it: one value is a string, several an array.
  select: z
    .union([z.string(), z.array(z.string())])
    .transform((select) => (Array.isArray(select) ? select : [select]))
    .pipe(z.array(z.enum(RUN_FIELDS, { error: (issue) => `unknown field ${JSON.stringify(issue.input)}; select from ${RUN_FIELDS.join(", ")}` })))
    .optional(),
});

const Flag = z
  .union([z.boolean(), z.string()])
  .transform((value) => (typeof value === "boolean" ? value : ["1", "true", "yes"].includes(value.toLowerCase())));

export const RunCancelQuery = z.object({
  wait: Flag.default(false),
  action: z.enum(["interrupt", "rollback"]).default("interrupt"),
});

/**
 * `POST /runs/cancel` (the official `RunsCancel`): every run with a `status` (on one thread when
 * `thread_id` is given too), or the runs `run_ids` of the thread `thread_id`.
 */
export const RunsCancel = z
  .object({
    status: z.enum(["pending", "running", "all"]).optional(),
    thread_id: Uuid.optional(),
    run_ids: z.array(Uuid).min(1).max(1000).optional(),
  })
  .refine((body) => body.status !== undefined || (body.thread_id !== undefined && body.run_ids !== undefined), {
    error: "name the runs to cancel: `status`, or `thread_id` with `run_ids`",
  })
  .refine((body) => body.status === undefined || body.run_ids === undefined, { error: "give either `status` or `run_ids`, not both", path: ["run_ids"] });

export const RunsCancelQuery = z.object({ action: z.enum(["interrupt", "rollback"]).default("interrupt") });

export const JoinStreamQuery = z.object({ cancel_on_disconnect: Flag.default(false) });

/** What a thread's stream carries: every run's events, only their start and end, or state writes. */
export const THREAD_STREAM_MODES = ["run_modes", "lifecycle", "state_update"] as const;
export type ThreadStreamMode = (typeof THREAD_STREAM_MODES)[number];
const ThreadStreamModes = z
  .union([z.string(), z.array(z.string())])
  .transform((modes) => (Array.isArray(modes) ? modes : [modes]))
  .pipe(z.array(z.enum(THREAD_STREAM_MODES, { error: (issue) => `unknown stream mode ${JSON.stringify(issue.input)}; use ${THREAD_STREAM_MODES.join(", ")}` })));

/** `GET /threads/{id}/stream`: the SDK sends `stream_mode`, the official reference names `stream_modes`; either, or both. */
export const ThreadStreamQuery = z
  .object({ stream_mode: ThreadStreamModes.optional(), stream_modes: ThreadStreamModes.optional() })
  .transform(({ stream_mode = [], stream_modes = [] }) => {
    const modes = [...new Set([...stream_mode, ...stream_modes])];
    return { modes: modes.length > 0 ? modes : (["run_modes"] as ThreadStreamMode[]) };
  });

export const ThreadCreate = z.object({
  thread_id: Uuid.optional(),
  metadata: Metadata.optional(),
  if_exists: z.enum(["raise", "do_nothing"]).default("raise"),
  supersteps: z
    .array(z.object({ updates: z.array(z.object({ values: StateValues.nullish(), command: Command.nullish(), as_node: z.string() })) }))
    .optional(),
  ttl: ThreadTtl.nullish(),
});
export type ThreadCreate = z.infer<typeof ThreadCreate>;

export const ThreadPatch = z.object({ metadata: Metadata.optional(), ttl: ThreadTtl.nullish() });

const ThreadStatusName = z.enum(["idle", "busy", "interrupted", "error"]);

export const ThreadCount = z.object({
  metadata: MetadataFilter.optional(),
  status: ThreadStatusName.optional(),
  values: z.record(z.string(), z.unknown()).optional(),
  // Ours, beside the official fields: search by what was said (see src/storage/message-text.ts).
  query: z
    .string()
    .max(MAX_QUERY_CHARACTERS)
    .optional()
    .describe(
      "Only threads whose title (`metadata.title`) or a message of the user or the assistant (on any branch of the history) contains this text, ignoring case; blank: no filter. Not in the official API.",
    ),
});

export const ThreadSearch = ThreadCount.extend({
  ids: z.array(Uuid).optional(),
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).default(0),
  sort_by: z.enum(["thread_id", "status", "created_at", "updated_at"]).default("created_at"),
  sort_order: z.enum(["asc", "desc"]).default("desc"),
  select: z.array(z.string()).optional(),
  extract: z.unknown().optional(),
});
export type ThreadSearch = z.infer<typeof ThreadSearch>;

export const ThreadStateUpdate = z.object({
  values: z.union([StateValues, z.array(StateValues)]).nullish(),
  as_node: z.string().optional(),
  checkpoint_id: Uuid.optional(),
  checkpoint: CheckpointRef.nullish(),
});

export const ThreadStateQuery = z.object({ subgraphs: Flag.optional() });

export const ThreadStateAtCheckpoint = z.object({
  checkpoint: CheckpointRef,
  subgraphs: z.boolean().optional(),
});

/** A past state's fields as the history returns them, which `select` may pick. */
export const HISTORY_FIELDS = ["values", "next", "tasks", "metadata", "created_at", "checkpoint", "parent_checkpoint", "checkpoint_id", "parent_checkpoint_id"] as const;

export const ThreadHistory = z.object({
  limit: z.number().int().min(1).max(1000).default(10),
  before: z.union([z.string(), z.object({ configurable: z.object({ checkpoint_id: z.string() }).loose() }).loose(), CheckpointRef]).nullish(),
  metadata: MetadataFilter.optional(),
  checkpoint: CheckpointRef.optional(),
  // Our extension, as on the threads search: a client that walks a long chat's branches asks
  // for the checkpoint ids alone, not every past state's full values (quadratic in turns).
  select: z.array(z.enum(HISTORY_FIELDS)).min(1).optional(),
});

export const ThreadHistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(10),
  before: z.string().optional(),
});

/** An assistant's fields as the API returns them, which `select` may pick. */
export const ASSISTANT_FIELDS = ["assistant_id", "graph_id", "name", "description", "config", "context", "metadata", "version", "created_at", "updated_at"] as const;

/** An assistant's config: the run config defaults its runs start from. */
export const AssistantConfig = z.looseObject({
  tags: z.array(z.string()).optional(),
  recursion_limit: z.number().int().positive().optional(),
  configurable: z.record(z.string(), z.unknown()).optional(),
});

export const AssistantCreate = z.object({
  assistant_id: Uuid.optional(),
  graph_id: z.string().min(1),
  config: AssistantConfig.nullish(),
  context: z.record(z.string(), z.unknown()).nullish(),
  metadata: Metadata.nullish(),
  if_exists: z.enum(["raise", "do_nothing"]).default("raise"),
  name: z.string().max(1000).nullish(),
  description: z.string().max(10_000).nullish(),
});
export type AssistantCreate = z.infer<typeof AssistantCreate>;

/** A change: the fields given replace the current ones, `metadata` is merged into it. */
export const AssistantPatch = z.object({
  graph_id: z.string().min(1).nullish(),
  config: AssistantConfig.nullish(),
  context: z.record(z.string(), z.unknown()).nullish(),
  metadata: Metadata.nullish(),
  name: z.string().max(1000).nullish(),
  description: z.string().max(10_000).nullish(),
});
export type AssistantPatch = z.infer<typeof AssistantPatch>;

/** `DELETE /assistants/{id}?delete_threads=true` also deletes the threads whose metadata names it. */
export const AssistantDeleteQuery = z.object({ delete_threads: Flag.default(false) });

export const AssistantSearch = z.object({
  metadata: MetadataFilter.nullish(),
  graph_id: z.string().nullish(),
  name: z.string().nullish(),
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).default(0),
  sort_by: z.enum(["assistant_id", "graph_id", "created_at", "updated_at", "name"]).default("created_at"),
  sort_order: z.enum(["asc", "desc"]).default("desc"),
  select: z.array(z.enum(ASSISTANT_FIELDS)).nullish(),
});

export const AssistantCount = z.object({ metadata: MetadataFilter.nullish(), graph_id: z.string().nullish(), name: z.string().nullish() });

export const AssistantVersions = z.object({
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).default(0),
  metadata: MetadataFilter.nullish(),
});

/**
 * `?xray=true` (Studio), `?xray=1` or a depth such as `?xray=2`. Digits are read as a depth
 * first: as a flag, "2" would mean false.
 */
export const GraphQuery = z.object({ xray: z.union([z.coerce.number().int().nonnegative(), Flag]).optional() });

export const SubgraphsQuery = z.object({ recurse: Flag.optional() });

export const AssistantLatestVersion = z.object({ version: z.number().int().min(1) });

/**
 * The key-value store's requests (`/store`). A namespace label may not be empty, nor hold a
 * period (`GET` sends the namespace dot-joined), a colon or NUL: stores refuse them. A value is
 * a JSON object; `ttl` is in minutes, as LangGraph's store has it.
 */
const NamespaceLabel = z
  .string()
  .min(1, "namespace labels cannot be empty")
  .refine((label) => !/[.:\0]/.test(label), { error: (issue) => `namespace labels cannot contain periods or colons; got ${JSON.stringify(issue.input)}` });
const Namespace = z.array(NamespaceLabel);
/** The namespace of an item: at least one label. */
const ItemNamespace = Namespace.min(1, "a namespace is required (at least one label)");
const ItemKey = z.string().min(1, "a key is required");
const RefreshTtl = z.boolean().nullish();

export const StoreNamespaceSearch = z.object({
  prefix: Namespace.nullish(),
  suffix: Namespace.nullish(),
  max_depth: z.number().int().min(1).nullish(),
  limit: z.number().int().min(1).max(1000).default(100),
  offset: z.number().int().min(0).default(0),
});
export type StoreNamespaceSearch = z.infer<typeof StoreNamespaceSearch>;

export const StoreItemSearch = z.object({
  namespace_prefix: Namespace.default([]),
  filter: MetadataFilter.nullish(),
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).default(0),
  query: z.string().nullish(),
  refresh_ttl: RefreshTtl,
});
export type StoreItemSearch = z.infer<typeof StoreItemSearch>;

export const StoreItemPut = z.object({
  namespace: ItemNamespace,
  key: ItemKey,
  value: z.record(z.string(), z.unknown(), { error: "value must be a JSON object" }),
  /** false: not indexed for semantic search; a list: the fields to index; null or unset: the store's default. */
  index: z.union([z.literal(false), z.array(z.string().min(1))]).nullish(),
  /** Minutes until the item expires (restarted by reads that refresh it); null or unset: never. */
  ttl: z.number().positive("ttl must be a positive number of minutes").nullish(),
});
export type StoreItemPut = z.infer<typeof StoreItemPut>;

/** `GET /store/items`: the namespace as the SDK sends it, dot-joined (`a.b`), the key, and `refresh_ttl`. */
export const StoreItemQuery = z.object({
  namespace: z
    .string()
    .default("")
    .transform((joined) => (joined === "" ? [] : joined.split(".")))
    .pipe(ItemNamespace),
  key: ItemKey,
  refresh_ttl: Flag.optional(),
});
export type StoreItemQuery = z.infer<typeof StoreItemQuery>;

export const StoreItemDelete = z.object({ namespace: ItemNamespace, key: ItemKey });
export type StoreItemDelete = z.infer<typeof StoreItemDelete>;

/** Crons: a run request repeated on a schedule (croner's cron syntax, in `timezone` or UTC). */
export const CronPath = z.object({ cron_id: Uuid });
const CronSchedule = z.string().superRefine((schedule, context) => {
  const problem = scheduleProblem(schedule);
  if (problem) context.addIssue({ code: "custom", message: `invalid cron schedule ${JSON.stringify(schedule)}: ${problem}` });
});
const CronTimezone = z.string().refine(isTimeZone, { error: (issue) => `unknown time zone ${JSON.stringify(issue.input)}; use an IANA name such as Europe/Paris` });
const CronEndTime = z.iso.datetime({ offset: true, error: "end_time must be an ISO 8601 date and time with a time zone, e.g. 2030-01-01T00:00:00Z" });
/** The run fields a cron may change after it is created (the SDK's `crons.update`). */
const CronRunFields = RunCreate.pick({
  input: true, metadata: true, config: true, context: true, webhook: true, interrupt_before: true, interrupt_after: true,
  stream_mode: true, stream_subgraphs: true, stream_resumable: true, durability: true,
});
export const CronCreate = CronRunFields.extend({
  assistant_id: RunCreate.shape.assistant_id,
  multitask_strategy: RunCreate.shape.multitask_strategy,
  checkpoint_during: z.boolean().optional(),
  schedule: CronSchedule,
  timezone: CronTimezone.nullish(),
  end_time: CronEndTime.nullish(),
  enabled: z.boolean().default(true),
  on_run_completed: z.enum(["delete", "keep"]).default("delete"),
});
export type CronCreate = z.infer<typeof CronCreate>;
export const CronUpdate = CronRunFields.partial().extend({
  schedule: CronSchedule.optional(),
  timezone: CronTimezone.optional(),
  end_time: CronEndTime.nullish(),
  enabled: z.boolean().optional(),
  on_run_completed: z.enum(["delete", "keep"]).optional(),
});
export type CronUpdate = z.infer<typeof CronUpdate>;
export const CronCount = z.object({ assistant_id: z.string().optional(), thread_id: Uuid.optional(), metadata: MetadataFilter.optional() });
export const CRON_FIELDS = ["cron_id", "assistant_id", "thread_id", "end_time", "schedule", "created_at", "updated_at", "user_id", "payload", "next_run_date", "metadata", "now", "timezone", "enabled", "on_run_completed"] as const;
export const CronSearch = CronCount.extend({
  enabled: z.boolean().optional(),
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).default(0),
  sort_by: z.enum(["cron_id", "assistant_id", "thread_id", "created_at", "updated_at", "next_run_date"]).default("created_at"),
  sort_order: z.enum(["asc", "desc"]).default("desc"),
  select: z.array(z.enum(CRON_FIELDS)).optional(),
});

/** Collections of documents (retrieval). */
export const CollectionPath = z.object({ collection_id: Uuid });
export const DocumentPath = z.object({ collection_id: Uuid, document_id: Uuid });

export const CollectionCreate = z.object({
  name: z.string().trim().min(1, "must not be empty").max(200),
  metadata: Metadata.optional(),
});
export type CollectionCreate = z.infer<typeof CollectionCreate>;

export const CollectionList = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  offset: z.coerce.number().int().min(0).default(0),
});

/** A document upload: text or Markdown in `content`, a PDF as base64 in `content_base64`. */
export const DocumentCreate = z
  .object({
    source: z.string().trim().min(1, "must name the document (a file name, a title or a URL)").max(500),
    content_type: z.enum(DOCUMENT_CONTENT_TYPES).optional(),
    content: z.string().optional(),
    content_base64: z.string().optional(),
    metadata: Metadata.optional(),
  })
  .refine((body) => (body.content === undefined) !== (body.content_base64 === undefined), "send the document in exactly one of `content` (text, Markdown) and `content_base64` (PDF)");
export type DocumentCreate = z.infer<typeof DocumentCreate>;

export const CollectionSearch = z.object({
  query: z.string().trim().min(1, "must not be empty").max(2000),
  k: z.number().int().min(1).max(50).default(5),
});

/** A command of the agent streaming protocol (`POST /threads/{id}/commands`, or a WebSocket frame): its envelope. */
export const ProtocolCommand = z.object({
  id: z.number().int().nonnegative(),
  method: z.string().min(1),
  params: z.record(z.string(), z.unknown()).optional(),
});
export type ProtocolCommand = z.infer<typeof ProtocolCommand>;

/** The filter of a protocol event stream (`POST /threads/{id}/stream/events`): the protocol's `EventStreamRequest`. */
export const EventStreamRequest = z.strictObject({
  channels: z.array(z.string().refine(isSupportedChannel, { error: "unknown channel" })).min(1),
  namespaces: z.array(z.array(z.string())).optional(),
  depth: z.number().int().nonnegative().optional(),
  since: z.number().int().nonnegative().optional(),
});
