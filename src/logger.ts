import { pino, type Logger } from "pino";
import type { Config } from "./config.js";

/** Paths whose values never reach the log: credentials in headers and config. */
export const REDACTED_PATHS = [
  "req.headers.authorization",
  'req.headers["x-api-key"]',
  "config.OPENAI_API_KEY",
  "OPENAI_API_KEY",
  "API_KEYS",
  "apiKeys",
  "config.API_KEYS",
  "config.apiKeys",
  "DATABASE_URL",
  "config.DATABASE_URL",
];

/** The service's structured JSON logger. */
export function createLogger(config: Pick<Config, "LOG_LEVEL">): Logger {
  return pino({ level: config.LOG_LEVEL, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } });
}

export type { Logger };
