/**
 * Request bodies, queries and path parameters of the API, validated at the edge. Each schema and
 * its type share a name; `parseInput` turns a failed parse into a 422 naming the bad fields.
 */
import { z } from "zod";
import { ValidationError } from "../errors.js";
import { DOCUMENT_CONTENT_TYPES } from "../storage/documents.js";

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

/** A message as clients send it: LangChain dicts (`type`) or OpenAI style (`role`). */
export const MessageIn = z
  .looseObject({
    type: z.enum(["human", "ai", "system", "developer", "tool", "remove"]).optional(),
    role: z.enum(["user", "human", "assistant", "ai", "system", "developer", "tool"]).optional(),
    content: z.union([z.string(), z.array(z.union([z.string(), z.record(z.string(), z.unknown())]))]),
    id: z.string().optional(),
    name: z.string().optional(),
    tool_call_id: z.string().optional(),
    tool_calls: z.array(z.looseObject({ name: z.string(), args: z.record(z.string(), z.unknown()).optional(), id: z.string().optional() })).optional(),
  })
  .refine((message) => message.type !== undefined || message.role !== undefined, "a message needs a `type` or a `role`")
  .refine((message) => !(message.type === "tool" || message.role === "tool") || message.tool_call_id !== undefined, "a tool message needs `tool_call_id`");

/** State values a client may write: the graph's only public channel is `messages`. */
export const StateValues = z.strictObject({ messages: z.array(MessageIn).optional() });
export type StateValues = z.infer<typeof StateValues>;

export const Command = z.strictObject({
  update: z.union([StateValues, z.array(z.tuple([z.string(), z.unknown()]))]).optional(),
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

export const RunListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(10),
  offset: z.coerce.number().int().min(0).default(0),
  status: z.enum(["pending", "running", "success", "error", "timeout", "interrupted"]).optional(),
});

const Flag = z
  .union([z.boolean(), z.string()])
  .transform((value) => (typeof value === "boolean" ? value : ["1", "true", "yes"].includes(value.toLowerCase())));

export const RunCancelQuery = z.object({
  wait: Flag.default(false),
  action: z.enum(["interrupt", "rollback"]).default("interrupt"),
});

export const JoinStreamQuery = z.object({ cancel_on_disconnect: Flag.default(false) });

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

export const ThreadHistory = z.object({
  limit: z.number().int().min(1).max(1000).default(10),
  before: z.union([z.string(), z.object({ configurable: z.object({ checkpoint_id: z.string() }).loose() }).loose(), CheckpointRef]).nullish(),
  metadata: MetadataFilter.optional(),
  checkpoint: CheckpointRef.optional(),
});

export const ThreadHistoryQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(10),
  before: z.string().optional(),
});

export const AssistantSearch = z.object({
  metadata: MetadataFilter.optional(),
  graph_id: z.string().optional(),
  name: z.string().optional(),
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).default(0),
  sort_by: z.enum(["assistant_id", "graph_id", "created_at", "updated_at", "name"]).optional(),
  sort_order: z.enum(["asc", "desc"]).optional(),
  select: z.array(z.string()).optional(),
});

export const AssistantCount = z.object({ metadata: MetadataFilter.optional(), graph_id: z.string().optional(), name: z.string().optional() });

export const AssistantVersions = z.object({
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).default(0),
  metadata: MetadataFilter.optional(),
});

/**
 * `?xray=true` (Studio), `?xray=1` or a depth such as `?xray=2`. Digits are read as a depth
 * first: as a flag, "2" would mean false.
 */
export const GraphQuery = z.object({ xray: z.union([z.coerce.number().int().nonnegative(), Flag]).optional() });

export const SubgraphsQuery = z.object({ recurse: Flag.optional() });

export const AssistantLatestVersion = z.object({ version: z.number().int().min(1) });

/** The key-value store's requests, checked although the store is always empty (see not-offered.ts). */
const Namespace = z.array(z.string());

export const StoreNamespaceSearch = z.object({
  prefix: Namespace.optional(),
  suffix: Namespace.optional(),
  max_depth: z.number().int().min(1).optional(),
  limit: z.number().int().min(1).max(1000).default(100),
  offset: z.number().int().min(0).default(0),
});

export const StoreItemSearch = z.object({
  namespace_prefix: Namespace.default([]),
  filter: MetadataFilter.nullish(),
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).default(0),
  query: z.string().nullish(),
});

/** `GET`/`DELETE /store/items`: the namespace as the SDK sends it, dot-joined (`a.b`), and the key. */
export const StoreItemQuery = z.object({ namespace: z.string().optional(), key: z.string().min(1) });

export const StoreItemDelete = z.object({ namespace: Namespace, key: z.string().min(1) });

export const CronSearch = z.object({
  assistant_id: z.string().optional(),
  thread_id: z.string().optional(),
  limit: z.number().int().min(1).max(1000).default(10),
  offset: z.number().int().min(0).default(0),
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
