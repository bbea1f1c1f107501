import { Client } from "@langchain/langgraph-sdk";
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Writable } from "node:stream";
import { pino } from "pino";
import { type AppDeps, createApp, createServerDeps } from "../../src/server/create-app.js";
import { closeSockets, serveUpgrades } from "../../src/server/protocol/websocket.js";
import { createAgentFromConfig } from "../../src/composition/agent-from-config.js";
import type { PostgresCheckpointer } from "../../src/storage/postgres/checkpointer.js";
import { createLogger } from "../../src/logger.js";
import type { Agent } from "../../src/graph/agent.js";
import type { Storage } from "../../src/storage/storage.js";
import { apiKeys } from "../../src/server/auth.js";
import type { Resolver } from "../../src/server/webhooks.js";
import { makeConfig, makeTempDir, removeDir } from "./fixtures.js";
import type { OpenAiStub } from "./openai-stub.js";
import { TEST_DATABASE_URL, dropSchema, postgresReachable, schemaName } from "./postgres.js";

/** Where a test server keeps threads. */
export type Backend = "sqlite" | "postgres";

/** The backends to run the HTTP suites on: SQLite always, PostgreSQL when a server answers (else said loudly). */
export async function testBackends(): Promise<Backend[]> {
  return (await postgresReachable()) ? ["sqlite", "postgres"] : ["sqlite"];
}

/** A running test server: the app on 127.0.0.1:0 with its own temp database. */
export interface TestServer {
  baseUrl: string;
  client: Client;
  deps: AppDeps;
  dataDir: string;
  /** Log lines the server wrote (JSON text), when started with `captureLogs`. */
  logs: string[];
  /** `fetch` relative to the server, JSON body in and out. */
  request(path: string, init?: { method?: string; body?: unknown; raw?: string; headers?: Record<string, string> }): Promise<{ status: number; body: unknown; headers: Headers }>;
  close(options?: { keepData?: boolean }): Promise<void>;
}

/** Starts the app on a free port against the stub model; `dataDir` reuses an existing database. */
export async function startServer(
  stub: OpenAiStub | undefined,
  options: {
    env?: Record<string, string>;
    dataDir?: string;
    captureLogs?: boolean;
    /** The level of the captured logs: debug by default, to see everything. */
    logLevel?: "debug" | "info";
    /** Captured as a person at a terminal sees them (`LoggerOptions.pretty`), not as JSON. */
    prettyLogs?: boolean;
    apiKey?: string;
    backend?: Backend;
    /** Resolves webhook host names instead of DNS. */
    resolve?: Resolver;
    /** Serves this graph, built on the server's storage, instead of the configured agent. */
    agent?: (storage: Storage) => Agent;
  } = {},
): Promise<TestServer> {
  const dataDir = options.dataDir ?? makeTempDir();
  // PostgreSQL runs in a schema of its own, dropped on close.
  const schema = options.backend === "postgres" ? schemaName() : undefined;
  const database: Record<string, string> = schema ? { DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: schema, DATABASE_POOL_SIZE: "8" } : {};
  const config = makeConfig(stub, dataDir, { ...database, ...options.env });
  const logs: string[] = [];
  // The service's own logger (its redaction, its request lines), writing into `logs`.
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      logs.push(chunk.toString());
      callback();
    },
  });
  const logger = options.captureLogs ? createLogger({ LOG_LEVEL: options.logLevel ?? "debug" }, { destination: sink, pretty: options.prettyLogs }) : pino({ level: "silent" });
  const configured = createAgentFromConfig(config, { logger });
  const { storage, llmCache, documents } = configured;
  const deps = await createServerDeps({
    agent: options.agent?.(storage) ?? configured.agent,
    storage,
    logger,
    corsOrigins: config.CORS_ORIGINS,
    allowedHosts: config.ALLOWED_HOSTS,
    apiKeys: config.apiKeys ? apiKeys(config.apiKeys) : undefined,
    metricsToken: config.METRICS_TOKEN,
    cronPollMs: config.CRON_POLL_MS,
    storeSweepMs: config.STORE_SWEEP_MS,
    llmCache,
    documents,
    documentMaxBytes: config.DOCUMENT_MAX_BYTES,
    streamBufferBytes: config.STREAM_BUFFER_BYTES,
    webhooks: { allowPrivate: config.WEBHOOK_ALLOW_PRIVATE, resolve: options.resolve },
    threadTtlMinutes: config.THREAD_TTL,
    threadTtlSweepMs: config.THREAD_TTL_SWEEP_MS,
    titleGeneration: config.TITLE_GENERATION === "on",
  });
  const app = createApp(deps);
  const server: Server = app.listen(0, "127.0.0.1");
  serveUpgrades(server, app);
  await once(server, "listening");
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // No client-side retries (a test must see the first answer), and no client-side queue (the SDK
  // allows 4 requests at once by default): concurrency tests need real parallel requests.
  const client = new Client({ apiUrl: baseUrl, apiKey: options.apiKey ?? null, callerOptions: { maxRetries: 0, maxConcurrency: 64 } });
  return {
    baseUrl,
    client,
    deps,
    dataDir,
    logs,
    async request(path, init = {}) {
      const response = await fetch(`${baseUrl}${path}`, {
        method: init.method ?? (init.body === undefined && init.raw === undefined ? "GET" : "POST"),
        headers: { "content-type": "application/json", ...init.headers },
        body: init.raw ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
      });
      const text = await response.text();
      let body: unknown = text;
      try {
        body = text === "" ? undefined : JSON.parse(text);
      } catch {
        // not JSON: keep the text
      }
      return { status: response.status, body, headers: response.headers };
    },
    async close({ keepData = false } = {}) {
      await deps.crons?.stop();
      await deps.runs.shutdown(0);
      await deps.monitor?.stop();
      await deps.sweeper?.stop();
      await deps.storeSweeper?.stop();
      closeSockets(server);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (schema && !keepData) await dropSchema((storage.checkpointer as PostgresCheckpointer).database.pool, schema);
      await storage.close();
      if (!keepData) removeDir(dataDir);
    },
  };
}
