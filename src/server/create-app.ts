import cors from "cors";
import helmet from "helmet";
import { randomUUID } from "node:crypto";
import express, { type Express } from "express";
import { type GenReqId, pinoHttp } from "pino-http";
import type { Agent } from "../graph/agent.js";
import type { RevertibleCheckpointer } from "../graph/checkpointer.js";
import type { Logger } from "../logger.js";
import { type ApiKeys, authenticate } from "./auth.js";
import { errorHandler, isJsonLike, notFound, requireJsonBody } from "./error-handler.js";
import { RunManager } from "./run-manager.js";
import { assistantsRouter } from "./routes/assistants.js";
import { metaRouter } from "./routes/meta.js";
import { runsRouter } from "./routes/runs.js";
import { threadsRouter } from "./routes/threads.js";
import { PostgresCheckpointer } from "../graph/postgres-checkpointer.js";
import type { SqliteCheckpointer } from "../graph/sqlite-checkpointer.js";
import { PostgresThreadStore } from "./storage/postgres-thread-store.js";
import { SqliteThreadStore } from "./storage/sqlite-thread-store.js";
import type { RunStatus, ThreadStore } from "./storage/thread-store.js";

/** Everything the HTTP app needs; the factory reads no environment and opens no socket. */
export interface AppDeps {
  agent: Agent;
  checkpointer: RevertibleCheckpointer;
  store: ThreadStore;
  runs: RunManager;
  logger: Logger;
  /** Browser origins allowed by CORS (`["*"]` for any); none when empty. */
  corsOrigins?: string[];
  /** With keys, every request but `/ok` must authenticate and sees only its owner's threads. */
  apiKeys?: ApiKeys;
}

/**
 * The request's id: the caller's `x-request-id` when it is a sane token (so a proxy's id follows
 * the request into our logs), else a new UUID. Sent back in `x-request-id`.
 */
const requestId: GenReqId = (request, response) => {
  const given = request.headers["x-request-id"];
  const id = typeof given === "string" && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
  response.setHeader("x-request-id", id);
  return id;
};

/** Request bodies larger than this are refused with 413. */
export const BODY_LIMIT = "1mb";

/** Builds the Express app; `main.ts` (or a test) decides where it listens. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "extended");
  app.use(helmet());
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: requestId,
      customProps: (_request, response) => ({ owner: (response as unknown as { locals?: { owner?: string } }).locals?.owner }),
      autoLogging: { ignore: (request) => request.url === "/ok" },
    }),
  );
  const origins = deps.corsOrigins ?? [];
  if (origins.length > 0) {
    // Exposed so browser clients (the SDK, Studio) can read run ids and pagination.
    app.use(
      cors({
        origin: origins.includes("*") ? true : origins,
        exposedHeaders: ["Content-Location", "Location", "X-Pagination-Next", "X-Pagination-Total", "X-Request-Id"],
      }),
    );
  }
  // Before the body is read: an unauthenticated request costs no parsing.
  app.use(authenticate(deps.apiKeys));
  app.use(requireJsonBody);
  // Not strict: a body of `"text"` or `42` is valid JSON, and gets a 422 from the schema, not a 400.
  // Like the official server, text/plain and untyped bodies are read as JSON too.
  app.use(express.json({ limit: BODY_LIMIT, strict: false, type: isJsonLike }));
  app.use(metaRouter(), assistantsRouter(deps), threadsRouter(deps), runsRouter(deps));
  app.use(notFound, errorHandler);
  return app;
}

/**
 * Builds the server's services on an agent and its SQLite checkpointer: the thread store (same
 * database file), with runs a previous process left behind marked failed, and the run manager.
 */
export async function createServerDeps(parts: {
  agent: Agent;
  checkpointer: SqliteCheckpointer | PostgresCheckpointer;
  logger: Logger;
  corsOrigins?: string[];
  apiKeys?: ApiKeys;
}): Promise<AppDeps> {
  // Threads and runs live beside the checkpoints: the same SQLite file or PostgreSQL schema.
  const { checkpointer } = parts;
  const store = checkpointer instanceof PostgresCheckpointer ? new PostgresThreadStore(checkpointer.pool, { schema: checkpointer.schema }) : new SqliteThreadStore(checkpointer.db);
  if (checkpointer instanceof PostgresCheckpointer) await checkpointer.setup();
  await store.setup();
  await recoverAbandonedRuns(store, parts.checkpointer, parts.agent, parts.logger);
  const runs = new RunManager({ agent: parts.agent, checkpointer: parts.checkpointer, store, logger: parts.logger });
  return { ...parts, store, runs };
}

/**
 * Settles the runs a previous process left unfinished (it crashed or was killed). A run whose
 * final checkpoint was written had finished: it is marked `success`. Any other run that started is
 * undone back to where its thread was when it started, so no half-written turn remains, and
 * marked `error`; runs that never started are marked `error` too. No thread is left `busy`.
 */
export async function recoverAbandonedRuns(store: ThreadStore, checkpointer: RevertibleCheckpointer, agent: Agent, logger: Logger): Promise<void> {
  const abandoned = await store.abandonedRuns();
  const outcomes: Array<{ runId: string; status: RunStatus }> = [];
  for (const run of abandoned) {
    if (run.headCheckpointId === undefined) {
      outcomes.push({ runId: run.runId, status: "error" });
      continue;
    }
    const head = run.headCheckpointId ?? undefined;
    const newest = await checkpointer.headCheckpointId(run.threadId);
    const wroteSomething = newest !== undefined && newest !== head;
    const finished = wroteSomething && (await agent.getState({ configurable: { thread_id: run.threadId } })).next.length === 0;
    if (wroteSomething && !finished) await checkpointer.revertThread(run.threadId, head);
    outcomes.push({ runId: run.runId, status: finished ? "success" : "error" });
  }
  // Also frees threads left `busy` by a process that stopped between a run's end and its thread's update.
  await store.closeAbandonedRuns(outcomes);
  if (outcomes.length === 0) return;
  logger.warn(
    { runs: outcomes.length, failed: outcomes.filter((outcome) => outcome.status === "error").length },
    "settled runs left unfinished by a previous process",
  );
}
