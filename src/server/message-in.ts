/**
 * Messages as clients send them, in every form LangChain's `coerceMessageLikeToMessage` (what
 * LangGraph's messages reducer applies) accepts: a plain string (a human message), a
 * `[role, content]` pair, a dict with `type` (as Python's `langchain_core` dumps a message, nulls
 * for unset fields included) or `role` (OpenAI style), and LangChain's serialised constructor
 * (`{lc: 1, type: "constructor", id: [..., "HumanMessage"], kwargs}`, what a JS message becomes
 * in JSON). Each is checked here, so a bad one is a 422 naming the field rather than a failed run,
 * and normalised to one dict form (`type`, no nulls) so LangChain's defaults apply to unset fields
 * (a `null` id would otherwise be kept instead of getting one).
 */
import { z } from "zod";

/** Message types a dict may name, and what each becomes (LangChain's own names). */
const TYPES = { human: "human", user: "human", ai: "ai", assistant: "ai", system: "system", developer: "developer", tool: "tool", remove: "remove" } as const;
/** Types a `[role, content]` pair may name: those that need nothing but content. */
const PAIR_TYPES = ["human", "user", "ai", "assistant", "system", "developer"] as const;
/** Constructor class names LangChain coerces, and the type each stands for. */
const CLASSES: Record<string, keyof typeof TYPES> = {
  HumanMessage: "human",
  HumanMessageChunk: "human",
  AIMessage: "ai",
  AIMessageChunk: "ai",
  SystemMessage: "system",
  SystemMessageChunk: "system",
  ToolMessage: "tool",
  ToolMessageChunk: "tool",
};

const Content = z.union([z.string(), z.array(z.union([z.string(), z.record(z.string(), z.unknown())]))]);
const Record_ = z.record(z.string(), z.unknown());

/** Drops `null` fields, so that LangChain fills in its defaults (an id, empty kwargs). */
function withoutNulls(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== null));
}

/** A tool call as LangChain keeps it, or as OpenAI sends it (arguments as JSON text). */
const ToolCall = z.union([
  z.looseObject({
    name: z.string(),
    args: Record_.nullish(),
    id: z.string().nullish(),
    type: z.literal("tool_call").nullish(),
  }).transform(withoutNulls),
  z.looseObject({
    id: z.string(),
    type: z.literal("function"),
    function: z.looseObject({
      name: z.string(),
      arguments: z.string().refine((text) => {
        try {
          const parsed: unknown = JSON.parse(text);
          return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
        } catch {
          return false;
        }
      }, "must be a JSON object in text"),
    }),
  }),
]);

/** The fields of a message dict; optional ones may be `null`, as Python dumps unset fields. */
const MessageFields = {
  content: Content.nullish(),
  id: z.string().nullish(),
  name: z.string().nullish(),
  tool_call_id: z.string().nullish(),
  tool_calls: z.array(ToolCall).nullish(),
  invalid_tool_calls: z.array(Record_).nullish(),
  additional_kwargs: Record_.nullish(),
  response_metadata: Record_.nullish(),
  usage_metadata: Record_.nullish(),
  status: z.enum(["success", "error"]).nullish(),
};

/** A message dict with `type` or `role` (`role` wins, as in LangChain), normalised to `type`. */
const MessageDict = z
  .looseObject({
    type: z.enum(Object.keys(TYPES) as [keyof typeof TYPES, ...Array<keyof typeof TYPES>]).nullish(),
    role: z.enum(["user", "human", "assistant", "ai", "system", "developer", "tool"]).nullish(),
    ...MessageFields,
  })
  .refine((message) => (message.type ?? message.role) != null, "a message needs a `type` or a `role`")
  // As OpenAI's own format: only an assistant message that calls tools may leave out its text
  // (and a removal, which names a message by its id and has no text of its own).
  .refine((message) => message.content != null || message.type === "remove" || (TYPES[(message.role ?? message.type) as keyof typeof TYPES] === "ai" && (message.tool_calls?.length ?? 0) > 0), {
    error: "expected string or array (only an AI message with tool_calls, or a removal, may leave content out)",
    path: ["content"],
  })
  .refine((message) => (message.role ?? message.type) !== "tool" || message.tool_call_id != null, "a tool message needs `tool_call_id`")
  .refine((message) => (message.role ?? message.type) !== "remove" || message.id != null, "a remove message needs the `id` of the message to remove")
  .transform(({ role, type, ...rest }) => ({ content: "", ...withoutNulls(rest), type: TYPES[(role ?? type) as keyof typeof TYPES] }));

/** LangChain's serialised constructor of a message class it coerces. */
const SerializedMessage = z
  .looseObject({
    lc: z.literal(1),
    type: z.literal("constructor"),
    id: z.array(z.string()).refine((path) => CLASSES[path.at(-1) ?? ""] !== undefined, {
      error: `must name a message class: ${Object.keys(CLASSES).join(", ")}`,
    }),
    kwargs: z.looseObject({ ...MessageFields, content: Content }),
  })
  .refine((message) => CLASSES[message.id.at(-1) ?? ""] !== "tool" || message.kwargs.tool_call_id != null, {
    error: "a tool message needs `tool_call_id`",
    path: ["kwargs", "tool_call_id"],
  })
  .transform((message) => ({ ...withoutNulls(message.kwargs), type: TYPES[CLASSES[message.id.at(-1) ?? ""] ?? "human"] }));

/** `[role, content]`, as LangChain's prompt tuples. */
const MessagePair = z
  .tuple([z.enum(PAIR_TYPES, { error: `must be one of ${PAIR_TYPES.join(", ")}` }), Content])
  .transform(([type, content]) => ({ type: TYPES[type], content }));

/** A plain string: a human message. */
const MessageText = z.string().transform((content) => ({ type: "human" as const, content }));

/** A message as an object: a serialised constructor when it has `lc`, else a dict (errors name one, not both). */
const MessageObject = z.looseObject({}).transform((value, context): NormalizedMessage => {
  const parsed = ("lc" in value ? SerializedMessage : MessageDict).safeParse(value);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) context.addIssue({ ...issue, input: undefined } as never);
  return z.NEVER;
});

/** A message normalised for LangChain: its type, content, and the fields that were set. */
export interface NormalizedMessage {
  type: (typeof TYPES)[keyof typeof TYPES];
  content?: unknown;
  [field: string]: unknown;
}

/** One message in any form LangChain coerces, normalised to a dict with `type` and no nulls. */
export const MessageIn = z.union([MessageText, MessagePair, MessageObject]);
export type MessageIn = z.infer<typeof MessageIn>;

/** A state's `messages` as LangGraph's reducer takes it: a list, or one message on its own. */
export const MessagesIn = z.union([
  z.array(MessageIn),
  // Flat, so that a bad list is reported by its items only (each branch here fails on its type).
  MessageText.transform((message) => [message]),
  MessageObject.transform((message) => [message]),
]);
