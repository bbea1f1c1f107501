import { existsSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "./errors.js";

/** Treats `VAR=` (empty, as `.env` files often leave it) the same as an unset variable. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

const positiveInteger = z.coerce.number().int().positive();

const EnvSchema = z
  .object({
    OPENAI_API_KEY: optional(z.string()),
    OPENAI_BASE_URL: optional(z.url({ protocol: /^https?$/ })),
    MODEL: optional(z.string()).default("gpt-4o-mini"),
    TEMPERATURE: optional(z.coerce.number().min(0).max(2)).default(0),
    MAX_OUTPUT_TOKENS: optional(positiveInteger).default(1024),
    CONTEXT_TOKENS: optional(positiveInteger).default(16_384),
    SYSTEM_PROMPT: optional(z.string()).default("You are a helpful assistant."),
    MODEL_MAX_RETRIES: optional(z.coerce.number().int().min(0).max(10)).default(2),
    MODEL_RETRY_BASE_MS: optional(z.coerce.number().int().min(0)).default(500),
    MODEL_RETRY_MAX_MS: optional(z.coerce.number().int().min(0)).default(20_000),
    MODEL_TIMEOUT_MS: optional(positiveInteger).default(60_000),
    DATA_DIR: optional(z.string()).default("./data"),
    // "exit" writes one checkpoint per run; "async"/"sync" one per step (finer history, more bytes).
    CHECKPOINT_DURABILITY: optional(z.enum(["exit", "async", "sync"])).default("exit"),
    // Keep only the newest N checkpoints of each thread; unset keeps all. Messages are always kept.
    CHECKPOINT_RETENTION: optional(positiveInteger),
    HOST: optional(z.string()).default("127.0.0.1"),
    PORT: optional(z.coerce.number().int().min(0).max(65_535)).default(8123),
    // Browser origins allowed to call the API; LangGraph Studio's by default, "*" for any.
    CORS_ORIGINS: optional(z.string())
      .default("https://smith.langchain.com")
      .transform((value) => value.split(",").map((origin) => origin.trim()).filter(Boolean)),
    SHUTDOWN_GRACE_MS: optional(z.coerce.number().int().min(0)).default(10_000),
    LOG_LEVEL: optional(z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])).default("info"),
  })
  .superRefine((env, context) => {
    // The prompt has to leave room for something besides the reply.
    if (env.MAX_OUTPUT_TOKENS >= env.CONTEXT_TOKENS) {
      context.addIssue({
        code: "custom",
        path: ["MAX_OUTPUT_TOKENS"],
        message: `must be smaller than CONTEXT_TOKENS (${env.CONTEXT_TOKENS})`,
      });
    }
  });

/** The service's configuration, parsed from the environment once at start. */
export type Config = z.infer<typeof EnvSchema>;

/**
 * Parses the environment. Throws `ConfigError` naming every invalid variable, e.g.
 * `Invalid configuration: PORT: Too big: expected number to be <=65535`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
  throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`, { cause: parsed.error });
}

/**
 * Loads `path` (default `.env`) into `process.env` when it exists; variables already set win.
 * Lives here so that this module stays the only one that touches `process.env`.
 */
export function loadDotEnv(path = ".env"): void {
  if (existsSync(path)) process.loadEnvFile(path);
}

/** True when some model provider is configured; without one runs fail with a clear error. */
export const hasModelProvider = (config: Config): boolean =>
  config.OPENAI_API_KEY !== undefined || config.OPENAI_BASE_URL !== undefined;
