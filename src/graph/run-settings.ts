/**
 * What a run (and so an assistant, whose configuration is a run's defaults) can configure: one
 * zod schema, from which both the checks and the JSON Schema that LangGraph Studio renders as a
 * form are made. The values are read from the run's `configurable` (with `context` merged in by
 * the server); other keys are allowed, as they fill the system prompt's `{variables}`.
 */
import { z } from "zod";
import { ValidationError } from "../errors.js";

/** How a thread remembers what left the window (`MEMORY_MODE`). */
export const MEMORY_MODES = ["window", "summary"] as const;
export type MemoryMode = (typeof MEMORY_MODES)[number];

/** Largest token count accepted for a budget: far above any model's context, well inside a safe integer. */
const MAX_BUDGET_TOKENS = 10_000_000;

const tokens = () => z.number().int().min(1).max(MAX_BUDGET_TOKENS);
const TOKENS_RULE = `must be an integer from 1 to ${MAX_BUDGET_TOKENS}`;

/** Each setting: its schema, the title and description a form shows, and the rule its error message states. */
const FIELDS = {
  system_prompt: {
    schema: z.string(),
    title: "System prompt",
    rule: "must be a string",
    description: "The system prompt; {name} placeholders are filled from the other configurable keys ({{ and }} are literal braces)",
  },
  model: { schema: z.string().trim().min(1), title: "Model", rule: "must be a non-empty string (a model name)", description: "The model name sent to the provider" },
  temperature: { schema: z.number().min(0).max(2), title: "Temperature", rule: "must be a number from 0 to 2", description: "Sampling temperature: 0 is the most deterministic" },
  max_tokens: { schema: tokens(), title: "Max output tokens", rule: TOKENS_RULE, description: "Longest reply, in tokens; this room is kept free in the context budget" },
  context_tokens: {
    schema: tokens(),
    title: "Context tokens",
    rule: TOKENS_RULE,
    description: "The prompt budget: the system prompt, the summary, the window of recent messages and the reply fit in it; older messages are not sent",
  },
  memory_mode: {
    schema: z.enum(MEMORY_MODES),
    title: "Memory mode",
    rule: `must be one of ${MEMORY_MODES.map((mode) => `"${mode}"`).join(", ")}`,
    description: 'What happens to messages that leave the window: "window" drops them, "summary" folds them into a running summary sent with the system prompt',
  },
  summary_tokens: { schema: tokens(), title: "Summary tokens", rule: TOKENS_RULE, description: "Longest summary in summary memory mode, in tokens; kept free in the context budget" },
  collection_id: { schema: z.string(), title: "Document collection", rule: "must be a collection id (a string)", description: "The document collection the run can search (search_documents tool)" },
  long_term_memory: {
    schema: z.boolean(),
    title: "Long-term memory",
    rule: "must be true or false",
    description:
      "Whether the agent remembers facts about the user (configurable.user_id) across conversations: recalls them into the system prompt, learns new ones after each turn, and offers the save_memory and forget_memory tools",
  },
} as const;

type Fields = typeof FIELDS;
const shape = Object.fromEntries(
  Object.entries(FIELDS).map(([key, { schema, title, description }]) => [key, schema.meta({ title, description }).optional()]),
) as { [Key in keyof Fields]: z.ZodOptional<Fields[Key]["schema"]> };

/** The known settings: every one optional, the agent's defaults fill the rest. */
const KnownSettings = z.object(shape);

/**
 * The run settings as a run's `configurable` holds them (see the module comment): the known
 * settings, and any other key (a template variable).
 */
export const RunSettingsSchema = z.looseObject(shape).meta({ title: "AgentConfigurable", description: "What a run or an assistant configures" });

/** The settings a run named (known keys only; a key left out or `null` is not set). */
export type RunSettings = z.infer<typeof KnownSettings>;

/** The known keys, in the schema's order. */
export const RUN_SETTING_KEYS = Object.keys(FIELDS) as Array<keyof RunSettings>;

/** A run's settings with the agent's defaults filled in (the collection stays optional). */
export type ResolvedRunSettings = Required<Omit<RunSettings, "collection_id">> & { collection_id?: string };

/** A value as an error message quotes it, shortened. */
function quote(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * Reads the run settings from a run's `configurable`. A known key that is `null` counts as not
 * set (JSON Schema forms send cleared fields so); `collection_id` may also be `""`. Unknown keys
 * are ignored here. Throws `ValidationError` (422) naming each bad field and its rule, e.g.
 * `configurable.temperature must be a number from 0 to 2 (got 5)`.
 */
export function parseRunSettings(configurable: Record<string, unknown>): RunSettings {
  const known: Record<string, unknown> = {};
  for (const key of RUN_SETTING_KEYS) {
    const value = configurable[key];
    if (value === undefined || value === null || (key === "collection_id" && value === "")) continue;
    known[key] = value;
  }
  const parsed = KnownSettings.safeParse(known);
  if (!parsed.success) {
    const problems = [...new Set(parsed.error.issues.map((issue) => String(issue.path[0])))].map(
      (key) => `configurable.${key} ${FIELDS[key as keyof Fields]?.rule ?? "is not valid"} (got ${quote(known[key])})`,
    );
    throw new ValidationError(problems.join("; "), { cause: parsed.error });
  }
  const settings: Record<string, unknown> = {};
  for (const key of RUN_SETTING_KEYS) if (parsed.data[key] !== undefined) settings[key] = parsed.data[key];
  return settings as RunSettings;
}

/**
 * The settings of a run: what its `configurable` names over `defaults` (the agent's), checked
 * together: the reply must leave room in the context, and in summary mode so must the summary.
 */
export function resolveRunSettings(configurable: Record<string, unknown>, defaults: ResolvedRunSettings): ResolvedRunSettings {
  const named = parseRunSettings(configurable);
  const settings: ResolvedRunSettings = { ...defaults, ...named };
  const from = (key: keyof RunSettings) => (named[key] === undefined ? `${key} (the default, ${String(settings[key])})` : `configurable.${key} (${String(settings[key])})`);
  if (settings.max_tokens >= settings.context_tokens) {
    throw new ValidationError(`${from("max_tokens")} must be smaller than ${from("context_tokens")}: the reply must leave room for the prompt`);
  }
  const room = Math.floor((settings.context_tokens - settings.max_tokens) / 2);
  if (settings.memory_mode === "summary" && settings.summary_tokens > room) {
    throw new ValidationError(
      `${from("summary_tokens")} must be at most half of context_tokens less max_tokens (${room}) in summary memory mode, or no room is left for recent messages`,
    );
  }
  return settings;
}

/** A JSON Schema object (the parts this module writes). */
export type JsonSchema = Record<string, unknown> & { properties?: Record<string, Record<string, unknown>> };

/**
 * The settings as JSON Schema (2020-12): per field its type, limits, title, description and, where
 * `defaults` has one (the service's configured defaults), its default. Other keys are template
 * variables: strings, numbers or booleans.
 */
export function runSettingsJsonSchema(defaults: Partial<ResolvedRunSettings> = {}): JsonSchema {
  const schema = z.toJSONSchema(RunSettingsSchema, { io: "input" }) as JsonSchema;
  const properties: Record<string, Record<string, unknown>> = {};
  for (const [key, property] of Object.entries(schema.properties ?? {})) {
    const value = defaults[key as keyof ResolvedRunSettings];
    properties[key] = value === undefined ? property : { ...property, default: value };
  }
  return { ...schema, properties, additionalProperties: { type: ["string", "number", "boolean"] } };
}
