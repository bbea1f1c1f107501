import helmet from "helmet";
import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import express, { type Express } from "express";
import { type GenReqId, pinoHttp } from "pino-http";
import type { Agent } from "../graph/agent.js";
import type { LlmCache } from "../storage/llm-cache.js";
import type { Logger, RequestLine } from "../logger.js";
import type { AppDeps } from "./app-deps.js";
import { ensureSystemAssistant } from "./assistants.js";
import { type ApiKeys, authenticate } from "./auth.js";
import { browserAccess } from "./cors.js";
import { errorHandler, isJsonLike, notFound, requireJsonBody } from "./error-handler.js";
import { inputLimits } from "./input-limits.js";
import { type Metrics, createMetrics } from "./metrics.js";
import { Readiness } from "./readiness.js";
import { sameSiteOnly } from "./same-site.js";
import { InstanceMonitor } from "./instance-monitor.js";
import { CronScheduler } from "./cron-scheduler.js";
import { cronsRouter } from "./routes/crons.js";
import { RunManager } from "./run-manager.js";
import { DEFAULT_SWEEP_MS, ThreadSweeper } from "./thread-sweeper.js";
import { DEFAULT_STORE_SWEEP_MS, StoreSweeper } from "./store-sweeper.js";
import { type WebhookOptions, Webhooks } from "./webhooks.js";
import { assistantsRouter } from "./routes/assistants.js";
import { metaRouter } from "./routes/meta.js";
import { runsRouter } from "./routes/runs.js";
import { storeRouter } from "./routes/store.js";
import { runsCancelRouter } from "./routes/runs-cancel.js";
import { threadStreamRouter } from "./routes/thread-stream.js";
import { protocolRouter } from "./routes/protocol.js";
import { threadsRouter } from "./routes/threads.js";
import { webRouter } from "./routes/web.js";
import { collectionsRouter } from "./routes/collections.js";
import { DocumentIndex } from "../retrieval/document-index.js";
import type { Storage } from "../storage/storage.js";

/** `AppDeps` lives in its own module so that the routes, which take it, import no circle with this factory. */
export type { AppDeps } from "./app-deps.js";

/** Heartbeat interval when none is configured. */
const DEFAULT_HEARTBEAT_MS = 2000;
/** Cron poll interval when none is configured. */
const DEFAULT_CRON_POLL_MS = 1000;

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

/** `/ok` is polled by health checks: logging each poll would bury everything else. */
const isHealthCheck = (request: IncomingMessage): boolean => request.url === "/ok";

/**
 * `/ready` and `/metrics` are polled too (by load balancers and scrapers): their request lines
 * are written at debug, unless they fail.
 */
const isPolled = (request: IncomingMessage): boolean => request.url === "/ready" || request.url === "/metrics";

/**
 * The `route` label of a request: its route's pattern (`/threads/:thread_id/runs/wait`), never
 * its path, whose ids would make a new series each; the mount path of the static files it was
 * served from (`/web`); `unmatched` for what no route answered (a 404, a refused key).
 */
function routeOf(request: express.Request): string {
  const route = (request as { route?: { path?: unknown } }).route;
  if (route) {
    const pattern = Array.isArray(route.path) ? route.path.join("|") : String(route.path);
    return request.baseUrl === "" ? pattern : `${request.baseUrl}${pattern}`;
  }
  return request.baseUrl || "unmatched";
}

/** Times every request into `http_request_duration_seconds`, by method, route and status. */
function httpMetrics(metrics: Metrics): express.RequestHandler {
  return (request, response, next) => {
    const started = performance.now();
    // "close" comes for every response, ended or cut off by the client (a stream it left).
    response.once("close", () => {
      metrics.httpRequestDuration.observe({ method: request.method, route: routeOf(request), status: response.statusCode }, (performance.now() - started) / 1000);
    });
    next();
  };
}

/**
 * The request as its debug line shows it. A WebSocket upgrade may carry its key as `?api_key=`,
 * which authentication takes out of the URL only after this line is written: it is left out here
 * (and `query`, a copy of the URL's, altogether).
 */
function requestAtDebug(request: { url?: string; query?: unknown; params?: unknown }): Record<string, unknown> {
  const { query: _query, params: _params, ...rest } = request;
  return { ...rest, url: request.url?.replace(/([?&])api_key=[^&]*/g, "$1api_key=[redacted]") };
}

/** The fields of a request's one line at `info`. */
function requestLine(request: IncomingMessage, response: ServerResponse, durationMs: number): RequestLine {
  const url = (request as { originalUrl?: string }).originalUrl ?? request.url ?? "";
  const owner = (response as { locals?: { owner?: string } }).locals?.owner;
  return { method: request.method ?? "", path: url.split("?")[0] ?? url, status: response.statusCode, durationMs, ...(owner === undefined ? {} : { owner }) };
}

/** Request bodies larger than this are refused with 413. */
export const BODY_LIMIT = "1mb";
/** Document uploads larger than this are refused with 413, unless `documentMaxBytes` says otherwise. */
export const DEFAULT_DOCUMENT_MAX_BYTES = 10_000_000;

/** Builds the Express app; `main.ts` (or a test) decides where it listens. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "extended");
  // No upgrade-insecure-requests: the web chat is served over plain http on 127.0.0.1 by default.
  app.use(httpMetrics(deps.metrics));
  app.use(helmet({ contentSecurityPolicy: { directives: { "upgrade-insecure-requests": null } } }));
  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: requestId,
      // `request.log` binds the request id alone (not the whole request, headers and all), so
      // every line a request writes carries it at little cost; the request's own line is below.
      quietReqLogger: true,
      quietResLogger: true,
      customLogLevel: (request, response, error) => {
        if (error || response.statusCode >= 500) return "error";
        return isPolled(request) && response.statusCode < 400 ? "debug" : "info";
      },
      customSuccessObject: (request, response, fields: { responseTime: number }) => requestLine(request, response, fields.responseTime),
      customErrorObject: (request, response, error, fields: { responseTime: number }) => ({
        ...requestLine(request, response, fields.responseTime),
        // pino-http makes up an error for a 5xx; the error handler has logged the real one.
        ...(error.message === `failed with status code ${response.statusCode}` ? {} : { err: error }),
      }),
      customErrorMessage: () => "request failed",
      serializers: { req: requestAtDebug },
      autoLogging: { ignore: isHealthCheck },
    }),
  );
  // The headers only at debug, when the request arrives (so a request that never ends shows too).
  app.use((request, _response, next) => {
    if (!isHealthCheck(request) && !isPolled(request) && request.log.isLevelEnabled("debug")) request.log.debug({ req: request }, "request received");
    next();
  });
  const origins = deps.corsOrigins ?? [];
  // First: a request from a foreign site, or for a host we do not serve, costs nothing more.
  app.use(sameSiteOnly({ allowedOrigins: origins, allowedHosts: deps.allowedHosts ?? (deps.apiKeys ? undefined : []) }));
  // Before authentication: preflights carry no key, and must be answered all the same.
  if (origins.length > 0) app.use(browserAccess(origins));
  // Before the body is read: an unauthenticated request costs no parsing.
  app.use(authenticate(deps.apiKeys, { metricsToken: deps.metricsToken }));
  app.use(requireJsonBody);
  // Not strict: a body of `"text"` or `42` is valid JSON, and gets a 422 from the schema, not a 400.
  // Like the official server, text/plain and untyped bodies are read as JSON too.
  // Document uploads may be larger than other requests; this parser reads them first.
  app.use("/collections", express.json({ limit: deps.documentMaxBytes ?? DEFAULT_DOCUMENT_MAX_BYTES, strict: false, type: isJsonLike }));
  app.use(express.json({ limit: BODY_LIMIT, strict: false, type: isJsonLike }));
  app.use(inputLimits());
  app.use(webRouter(), metaRouter(deps), assistantsRouter(deps), threadsRouter(deps), cronsRouter(deps), runsRouter(deps), runsCancelRouter(deps), threadStreamRouter(deps), protocolRouter(deps), collectionsRouter(deps), storeRouter(deps));
  app.use(notFound, errorHandler);
  return app;
}

/**
 * Builds the server's services on an agent and its SQLite checkpointer: the thread storage (same
 * database file), with runs a previous process left behind marked failed, and the run manager.
 */
export async function createServerDeps(parts: {
  agent: Agent;
  /** Where threads, runs, checkpoints and documents live; set up here, closed by the caller. */
  storage: Storage;
  logger: Logger;
  corsOrigins?: string[];
  apiKeys?: ApiKeys;
  /** With keys, a bearer token that opens `/metrics` alone (`METRICS_TOKEN`). */
  metricsToken?: string;
  allowedHosts?: string[];
  /** The app's metrics; new ones when unset. */
  metrics?: Metrics;
  /**
   * Whether the server takes traffic: marked ready here once storage is set up. `main.ts` gives
   * the one its starting listener answers `/ready` from; a new one when unset.
   */
  readiness?: Readiness;
  /** Interval of this instance's heartbeat (`INSTANCE_HEARTBEAT_MS`). */
  heartbeatMs?: number;
  /** Interval of the polls for due crons (`CRON_POLL_MS`). */
  cronPollMs?: number;
  /** Interval of the sweeps of the store's expired items (`STORE_SWEEP_MS`). */
  storeSweepMs?: number;
  llmCache?: LlmCache;
  /** The agent's document index; without one, collections are kept in `storage` and no run can search them. */
  documents?: DocumentIndex;
  documentMaxBytes?: number;
  streamBufferBytes?: number;
  /** Which webhook targets runs may name (`WEBHOOK_ALLOW_PRIVATE`); public addresses only by default. */
  webhooks?: WebhookOptions;
  /** TTL in minutes of threads created without one (`THREAD_TTL`). */
  threadTtlMinutes?: number;
  /** Time between sweeps for threads past their TTL (`THREAD_TTL_SWEEP_MS`). */
  threadTtlSweepMs?: number;
  /** Title untitled threads after their first run with one short model call (`TITLE_GENERATION`); off when unset. */
  titleGeneration?: boolean;
}): Promise<AppDeps> {
  // Fail at start, not on the first turn (where a broken database or cache would only be logged).
  const { storage } = parts;
  const metrics = parts.metrics ?? createMetrics();
  const readiness = parts.readiness ?? new Readiness();
  storage.observeQueries(metrics.queryObserver(storage.backend));
  await storage.setup();
  await ensureSystemAssistant(storage.assistants);
  await parts.llmCache?.setup();
  const { checkpointer } = storage;
  const documents = parts.documents ?? new DocumentIndex({ store: storage.documents });
  await documents.setup();
  const monitor = new InstanceMonitor({ storage, checkpointer, agent: parts.agent, logger: parts.logger, heartbeatMs: parts.heartbeatMs ?? DEFAULT_HEARTBEAT_MS });
  await monitor.start();
  const runs = new RunManager({ agent: parts.agent, checkpointer, storage, logger: parts.logger, instanceId: monitor.id, documents, webhooks: new Webhooks(parts.webhooks), threadTtlMinutes: parts.threadTtlMinutes, titleGeneration: parts.titleGeneration, metrics });
  monitor.cancels = runs;
  const crons = new CronScheduler({ storage, runs, logger: parts.logger, pollMs: parts.cronPollMs ?? DEFAULT_CRON_POLL_MS });
  crons.start();
  const sweeper = new ThreadSweeper({ agent: parts.agent, storage, logger: parts.logger, intervalMs: parts.threadTtlSweepMs ?? DEFAULT_SWEEP_MS });
  sweeper.start();
  const storeSweeper = new StoreSweeper({ store: storage.store, logger: parts.logger, intervalMs: parts.storeSweepMs ?? DEFAULT_STORE_SWEEP_MS });
  storeSweeper.start();
  readiness.markReady();
  return { ...parts, metrics, readiness, checkpointer, runs, monitor, crons, documents, sweeper, storeSweeper };
}
