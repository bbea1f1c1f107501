import { existsSync, readFileSync } from "node:fs";
import { z } from "zod";
import { ConfigError } from "./errors.js";

/** Treats `VAR=` (empty, as `.env` files often leave it) the same as an unset variable. */
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (value === "" ? undefined : value), schema.optional());

const positiveInteger = z.coerce.number().int().positive();

/**
 * Provider presets: the usual base URL and key variable of each, so `PROVIDER=groq` plus
 * `GROQ_API_KEY` is all a user needs. `OPENAI_BASE_URL` still wins (say, Ollama on another host).
 */
export const PROVIDERS = {
  openai: { baseUrl: undefined, keyVariable: "OPENAI_API_KEY", keyRequired: true, defaultModel: "gpt-4o-mini" },
  groq: { baseUrl: "https://api.groq.com/openai/v1", keyVariable: "GROQ_API_KEY", keyRequired: true, defaultModel: "llama-3.1-8b-instant" },
  ollama: { baseUrl: "http://localhost:11434/v1", keyVariable: "OLLAMA_API_KEY", keyRequired: false, defaultModel: "llama3.2" },
  vllm: { baseUrl: "http://localhost:8000/v1", keyVariable: "VLLM_API_KEY", keyRequired: false, defaultModel: undefined },
  lmstudio: { baseUrl: "http://localhost:1234/v1", keyVariable: "LMSTUDIO_API_KEY", keyRequired: false, defaultModel: undefined },
  "openai-compatible": { baseUrl: undefined, keyVariable: "OPENAI_API_KEY", keyRequired: false, defaultModel: undefined },
} as const;
export type Provider = keyof typeof PROVIDERS;
/** The origins LangGraph Studio is served from: LangSmith's US and EU sites. */
export const DEFAULT_CORS_ORIGINS = ["https://smith.langchain.com", "https://eu.smith.langchain.com"] as const;
/** What a browser sends in `Origin`: scheme, host and optional port, nothing after. */
const ORIGIN = /^https?:\/\/[^/\s?#]+$/;
/** A DNS name as `ALLOWED_HOSTS` takes it: no scheme, port or path. */
const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

const EnvSchema = z
  .object({
    PROVIDER: optional(z.enum(Object.keys(PROVIDERS) as [Provider, ...Provider[]])),
    OPENAI_API_KEY: optional(z.string()),
    GROQ_API_KEY: optional(z.string()),
    OLLAMA_API_KEY: optional(z.string()),
    VLLM_API_KEY: optional(z.string()),
    LMSTUDIO_API_KEY: optional(z.string()),
    OPENAI_BASE_URL: optional(z.url({ protocol: /^https?$/ })),
    // The default depends on PROVIDER (gpt-4o-mini for OpenAI); see `resolveProvider`.
    MODEL: optional(z.string()),
    TEMPERATURE: optional(z.coerce.number().min(0).max(2)).default(0),
    MAX_OUTPUT_TOKENS: optional(positiveInteger).default(1024),
    CONTEXT_TOKENS: optional(positiveInteger).default(16_384),
    SYSTEM_PROMPT: optional(z.string()).default("You are a helpful assistant."),
    MODEL_MAX_RETRIES: optional(z.coerce.number().int().min(0).max(10)).default(2),
    MODEL_RETRY_BASE_MS: optional(z.coerce.number().int().min(0)).default(500),
    MODEL_RETRY_MAX_MS: optional(z.coerce.number().int().min(0)).default(20_000),
    MODEL_TIMEOUT_MS: optional(positiveInteger).default(60_000),
    // "window" sends only what fits; "summary" also sends a running summary of what was dropped.
    MEMORY_MODE: optional(z.enum(["window", "summary"])).default("window"),
    SUMMARY_TOKENS: optional(positiveInteger).default(512),
    // Model that writes summaries (same provider); unset uses MODEL.
    SUMMARY_MODEL: optional(z.string()),
    // Long-term memory: facts about the user kept in the store across threads (runs may turn it off).
    LONG_TERM_MEMORY: optional(z.enum(["on", "off"])).default("on"),
    // Chats without a title get one from the model after their first exchange (one short call).
    TITLE_GENERATION: optional(z.enum(["on", "off"])).default("on"),
    // Most memories recalled into one prompt.
    MEMORY_RECALL_K: optional(z.coerce.number().int().min(1).max(50)).default(5),
    DATA_DIR: optional(z.string()).default("./data"),
    // PostgreSQL instead of SQLite, for several instances on one database; unset keeps SQLite.
    DATABASE_URL: optional(z.url({ protocol: /^postgres(ql)?$/, error: "must be a postgres:// URL" })),
    DATABASE_SCHEMA: optional(z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, "must be a lowercase SQL identifier")).default("public"),
    DATABASE_POOL_SIZE: optional(z.coerce.number().int().min(1).max(1000)).default(10),
    // "exit" writes one checkpoint per run; "async"/"sync" one per step (finer history, more bytes).
    CHECKPOINT_DURABILITY: optional(z.enum(["exit", "async", "sync"])).default("exit"),
    // Keep only the newest N checkpoints of each thread; unset keeps all. Messages are always kept.
    CHECKPOINT_RETENTION: optional(positiveInteger),
    // Model response cache: "database" is the service's database (the SQLite file in DATA_DIR, or
    // PostgreSQL with DATABASE_URL); "sqlite" and "postgres" say the same and must match it.
    LLM_CACHE: optional(z.enum(["off", "memory", "database", "sqlite", "postgres"])).default("off"),
    // Seconds an entry is served; 0 keeps entries until the size bound evicts them.
    LLM_CACHE_TTL: optional(z.coerce.number().int().min(0)).default(3600),
    LLM_CACHE_MAX_ENTRIES: optional(positiveInteger).default(1000),
    // Only temperature-0 replies are repeatable; caching others serves one sample forever.
    LLM_CACHE_ANY_TEMPERATURE: optional(z.enum(["true", "false", "1", "0"], { error: "must be true or false" }))
      .default("false")
      .transform((value) => value === "true" || value === "1"),
    HOST: optional(z.string()).default("127.0.0.1"),
    PORT: optional(z.coerce.number().int().min(0).max(65_535)).default(8123),
    // Browser origins allowed to call the API; LangGraph Studio's (US and EU) by default, "*" for any.
    CORS_ORIGINS: optional(z.string())
      .default(DEFAULT_CORS_ORIGINS.join(","))
      // Browsers send origins without a trailing slash; one copied from the address bar would never match.
      .transform((value) => value.split(",").map((origin) => origin.trim().replace(/\/+$/, "")).filter(Boolean))
      .refine((origins) => origins.every((origin) => origin === "*" || ORIGIN.test(origin)), {
        error: (issue) => {
          const bad = (issue.input as string[]).find((origin) => origin !== "*" && !ORIGIN.test(origin));
          return `${JSON.stringify(bad)} is not an origin: use scheme://host[:port], e.g. https://smith.langchain.com, or *`;
        },
      }),
    // Host names (beside IP addresses and localhost) the server answers; "*" for any. Unset: none
    // without API keys, no check with them.
    ALLOWED_HOSTS: optional(z.string())
      .transform((value) => value?.split(",").map((host) => host.trim().toLowerCase().replace(/\.$/, "")).filter(Boolean))
      .refine((hosts) => hosts === undefined || hosts.every((host) => host === "*" || HOST_NAME.test(host)), {
        error: "must be host names separated by commas (e.g. agent.example.com,chat.internal), or *",
      }),
    // `owner:key` pairs, comma-separated; or a file of them, one per line. Unset: no authentication.
    API_KEYS: optional(z.string()),
    API_KEYS_FILE: optional(z.string()),
    // With API keys on, a bearer token that opens GET /metrics alone (for a Prometheus scraper).
    METRICS_TOKEN: optional(z.string().min(16, { error: "must be at least 16 characters" })),
    // Webhooks may go to loopback, private and link-local addresses (trusted clients only: it
    // lets a client make the server POST into its own network).
    WEBHOOK_ALLOW_PRIVATE: optional(z.enum(["true", "false", "1", "0"], { error: "must be true or false" }))
      .default("false")
      .transform((value) => value === "true" || value === "1"),
    // How often an instance says it is alive; one silent for 3 beats is presumed dead.
    INSTANCE_HEARTBEAT_MS: optional(z.coerce.number().int().min(50)).default(2000),
    // How often each instance looks for crons that are due (a cron runs at most this late).
    CRON_POLL_MS: optional(z.coerce.number().int().min(10)).default(1000),
    // How often each instance deletes the key-value store's expired items (`ttl`); reads skip them meanwhile.
    STORE_SWEEP_MS: optional(z.coerce.number().int().min(100)).default(60_000),
    // Retrieval: an embeddings model (OpenAI-compatible /v1/embeddings) adds vector search to full-text.
    EMBEDDING_MODEL: optional(z.string()),
    // The embeddings provider, when it is not the chat model's (OPENAI_BASE_URL / OPENAI_API_KEY).
    EMBEDDING_BASE_URL: optional(z.url({ protocol: /^https?$/ })),
    EMBEDDING_API_KEY: optional(z.string()),
    CHUNK_SIZE: optional(z.coerce.number().int().min(100).max(20_000)).default(1000),
    CHUNK_OVERLAP: optional(z.coerce.number().int().min(0)).default(150),
    // Largest document upload (the JSON body of POST /collections/{id}/documents), in bytes.
    DOCUMENT_MAX_BYTES: optional(positiveInteger).default(10_000_000),
    // Most bytes one SSE stream may hold for a client that reads too slowly; past it the stream
    // ends with an error event and the client resumes with Last-Event-ID.
    STREAM_BUFFER_BYTES: optional(z.coerce.number().int().min(65_536)).default(4 * 1024 * 1024),
    // Most pages a PDF may have, and most characters of text any document may have (a PDF's
    // extraction stops as soon as it passes them): a small compressed PDF can hold gigabytes of text.
    DOCUMENT_MAX_PAGES: optional(positiveInteger).default(2000),
    DOCUMENT_MAX_CHARACTERS: optional(positiveInteger).default(10_000_000),
    // PDFs are read (and long texts split) in a worker process with this heap and this deadline.
    DOCUMENT_EXTRACTION_MEMORY_MB: optional(z.coerce.number().int().min(16).max(16_384)).default(512),
    DOCUMENT_EXTRACTION_TIMEOUT_MS: optional(z.coerce.number().int().min(100)).default(60_000),
    SHUTDOWN_GRACE_MS: optional(z.coerce.number().int().min(0)).default(10_000),
    // Minutes a thread created without a `ttl` may stay idle before it is deleted; unset: kept.
    THREAD_TTL: optional(z.coerce.number().positive().finite()),
    // How often each instance deletes threads past their TTL.
    THREAD_TTL_SWEEP_MS: optional(z.coerce.number().int().min(10)).default(60_000),
    LOG_LEVEL: optional(z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"])).default("info"),
  })
  .superRefine((env, context) => {
    if (env.API_KEYS !== undefined && env.API_KEYS_FILE !== undefined) {
      context.addIssue({ code: "custom", path: ["API_KEYS_FILE"], message: "set API_KEYS or API_KEYS_FILE, not both" });
    }
    if (env.MEMORY_MODE === "summary" && env.SUMMARY_TOKENS * 2 > env.CONTEXT_TOKENS - env.MAX_OUTPUT_TOKENS) {
      context.addIssue({
        code: "custom",
        path: ["SUMMARY_TOKENS"],
        message: `must be at most half of CONTEXT_TOKENS less MAX_OUTPUT_TOKENS (${Math.floor((env.CONTEXT_TOKENS - env.MAX_OUTPUT_TOKENS) / 2)}), or no room is left for recent messages`,
      });
    }
    if (env.LLM_CACHE === "sqlite" && env.DATABASE_URL !== undefined) {
      context.addIssue({ code: "custom", path: ["LLM_CACHE"], message: "is sqlite but DATABASE_URL is set: the cache lives in the service's database, use database (or postgres)" });
    }
    if (env.LLM_CACHE === "postgres" && env.DATABASE_URL === undefined) {
      context.addIssue({ code: "custom", path: ["LLM_CACHE"], message: "is postgres but DATABASE_URL is not set: set it, or use database (the SQLite file in DATA_DIR) or memory" });
    }
    if (env.CHUNK_OVERLAP >= env.CHUNK_SIZE) {
      context.addIssue({ code: "custom", path: ["CHUNK_OVERLAP"], message: `must be smaller than CHUNK_SIZE (${env.CHUNK_SIZE})` });
    }
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
export type Config = Omit<z.infer<typeof EnvSchema>, "MODEL"> & {
  /** The model name: `MODEL`, else the provider preset's default. */
  MODEL: string;
  /** The API keys from `API_KEYS` or `API_KEYS_FILE`; undefined when authentication is off. */
  apiKeys: Array<{ owner: string; key: string }> | undefined;
};

type ParsedEnv = z.infer<typeof EnvSchema>;

/**
 * Applies `PROVIDER`: fills `OPENAI_BASE_URL` and `OPENAI_API_KEY` (the two the model client
 * reads) from the preset and its key variable, and `MODEL` from its default. Without `PROVIDER`
 * the variables are used as given, as before presets existed.
 */
function resolveProvider(env: ParsedEnv): Pick<Config, "OPENAI_BASE_URL" | "OPENAI_API_KEY" | "MODEL"> {
  if (env.PROVIDER === undefined) return { OPENAI_BASE_URL: env.OPENAI_BASE_URL, OPENAI_API_KEY: env.OPENAI_API_KEY, MODEL: env.MODEL ?? "gpt-4o-mini" };
  const preset = PROVIDERS[env.PROVIDER];
  const key = env[preset.keyVariable] ?? env.OPENAI_API_KEY;
  const baseUrl = env.OPENAI_BASE_URL ?? preset.baseUrl;
  const model = env.MODEL ?? preset.defaultModel;
  const problems: string[] = [];
  if (preset.keyRequired && key === undefined) problems.push(`${preset.keyVariable}: required with PROVIDER=${env.PROVIDER}`);
  if (baseUrl === undefined && env.PROVIDER !== "openai") problems.push(`OPENAI_BASE_URL: required with PROVIDER=${env.PROVIDER} (the server's /v1 URL)`);
  if (model === undefined) problems.push(`MODEL: required with PROVIDER=${env.PROVIDER} (the name of a model the server serves)`);
  if (problems.length > 0) throw new ConfigError(`Invalid configuration: ${problems.join("; ")}`);
  return { OPENAI_BASE_URL: baseUrl, OPENAI_API_KEY: key, MODEL: model as string };
}

/** Shortest key accepted: anything shorter is guessable. */
export const MINIMUM_KEY_LENGTH = 16;
const OWNER = /^[A-Za-z0-9._@-]{1,64}$/;

/** Parses `owner:key` entries; `source` names the variable in errors. Never echoes a key. */
export function parseApiKeys(text: string, source: string): Array<{ owner: string; key: string }> {
  const entries = text
    .split(/[,\n]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "" && !entry.startsWith("#"));
  const pairs = entries.map((entry, index) => {
    const separator = entry.indexOf(":");
    const owner = entry.slice(0, separator).trim();
    const key = entry.slice(separator + 1).trim();
    if (separator <= 0 || !OWNER.test(owner)) {
      throw new ConfigError(`Invalid configuration: ${source}: entry ${index + 1} must be owner:key, the owner made of letters, digits and ._@-`);
    }
    if (key.length < MINIMUM_KEY_LENGTH) {
      throw new ConfigError(`Invalid configuration: ${source}: the key of ${owner} must be at least ${MINIMUM_KEY_LENGTH} characters`);
    }
    return { owner, key };
  });
  if (pairs.length === 0) throw new ConfigError(`Invalid configuration: ${source}: no owner:key entries`);
  if (new Set(pairs.map((pair) => pair.key)).size !== pairs.length) throw new ConfigError(`Invalid configuration: ${source}: a key is listed twice`);
  return pairs;
}

/**
 * Parses the environment. Throws `ConfigError` naming every invalid variable, e.g.
 * `Invalid configuration: PORT: Too big: expected number to be <=65535`.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = EnvSchema.safeParse(env);
  if (parsed.success) {
    const { API_KEYS: inline, API_KEYS_FILE: file } = parsed.data;
    let apiKeys: Config["apiKeys"];
    if (inline !== undefined) apiKeys = parseApiKeys(inline, "API_KEYS");
    if (file !== undefined) {
      if (!existsSync(file)) throw new ConfigError(`Invalid configuration: API_KEYS_FILE: ${file} does not exist`);
      apiKeys = parseApiKeys(readFileSync(file, "utf8"), "API_KEYS_FILE");
    }
    return { ...parsed.data, ...resolveProvider(parsed.data), apiKeys };
  }
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

/**
 * For entry points (the server, the terminal chat): loads `.env` and the configuration, or prints
 * what is invalid and exits with status 1.
 */
export function loadConfigOrExit(): Config {
  loadDotEnv();
  try {
    return loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
}
