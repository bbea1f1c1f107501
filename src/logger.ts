import { Writable } from "node:stream";
import { pino, type Logger } from "pino";
import { prettyFactory } from "pino-pretty";
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
  "METRICS_TOKEN",
  "config.METRICS_TOKEN",
  "DATABASE_URL",
  "config.DATABASE_URL",
];

/** The fields of the one line each HTTP request writes (see `create-app.ts`). */
export interface RequestLine {
  method: string;
  /** The path, without the query. */
  path: string;
  status: number;
  durationMs: number;
  /** The API key's owner, when keys are on. */
  owner?: string;
}

/** Where the logger writes, and how. */
export interface LoggerOptions {
  /** Coloured single lines for a person at a terminal; JSON lines (for machines, tests, pipes) when false. */
  pretty?: boolean;
  /** Where lines go; standard output by default. */
  destination?: NodeJS.WritableStream;
}

/**
 * The service's logger: one JSON object per line, or, with `pretty`, one coloured line per entry
 * (`[12:00:01.234] INFO: POST /threads/search 200 3 ms reqId=… owner=ada`). Credentials are
 * redacted either way.
 */
export function createLogger(config: Pick<Config, "LOG_LEVEL">, options: LoggerOptions = {}): Logger {
  const settings = { level: config.LOG_LEVEL, redact: { paths: REDACTED_PATHS, censor: "[redacted]" } };
  const destination = options.destination ?? process.stdout;
  if (!options.pretty) return options.destination ? pino(settings, options.destination) : pino(settings);
  return pino(settings, prettyStream(destination));
}

/** Writes each JSON line pino gives it as a human line on `destination`. */
function prettyStream(destination: NodeJS.WritableStream): Writable {
  const prettify = prettyFactory({ colorize: true, singleLine: true, ignore: "pid,hostname", translateTime: "SYS:HH:MM:ss.l" });
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      const text = chunk.toString();
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(text) as Record<string, unknown>;
      } catch {
        // Not one entry (pino writes one per call): better shown raw than lost.
        destination.write(text);
        return callback();
      }
      destination.write(prettify(readableEntry(entry)));
      callback();
    },
  });
}

/**
 * A request line says what happened in its message (`GET /threads 200 3 ms`), so its fields are
 * not repeated after it; other entries are shown as they are.
 */
function readableEntry(entry: Record<string, unknown>): Record<string, unknown> {
  const { method, path, status, durationMs, ...rest } = entry;
  if (typeof method !== "string" || typeof path !== "string" || typeof status !== "number") return entry;
  // "request aborted" (the client left before the answer ended) is worth keeping; "completed" is not.
  const aborted = rest.msg === "request aborted" ? " (aborted)" : "";
  return { ...rest, msg: `${method} ${path} ${status} ${String(durationMs)} ms${aborted}` };
}

export type { Logger };
