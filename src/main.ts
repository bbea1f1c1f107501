/**
 * Starts the service: reads the environment (and `.env`), opens the SQLite database in
 * `DATA_DIR`, listens on `HOST:PORT`, and shuts down cleanly on SIGTERM / SIGINT.
 */
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { loadConfigOrExit } from "./config.js";
import { DatabaseInUseError } from "./errors.js";
import { createAgentFromConfig } from "./composition/agent-from-config.js";
import { MODEL_NOT_CONFIGURED_MESSAGE } from "./graph/model-node.js";
import { createLogger } from "./logger.js";
import { apiKeys } from "./server/auth.js";
import { createApp, createServerDeps } from "./server/create-app.js";
import { createHttpServer } from "./server/http-server.js";
import { Readiness } from "./server/readiness.js";
import { shutDown } from "./server/shutdown.js";

/** Whether `host` only accepts connections from this machine. */
const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.");

async function start(): Promise<void> {
  const config = loadConfigOrExit();
  // A person at a terminal reads coloured lines; anything else (a pipe, a file, a collector) gets JSON.
  const logger = createLogger(config, { pretty: process.stdout.isTTY === true });
  const { agent, storage, hasModel, llmCache, documents } = createAgentFromConfig(config, { logger });
  if (!hasModel) logger.warn(`${MODEL_NOT_CONFIGURED_MESSAGE}. The server runs, but runs will fail until then.`);

  const keys = config.apiKeys ? apiKeys(config.apiKeys) : undefined;
  if (keys) logger.info({ owners: keys.entries.length }, "API keys are on: every endpoint but /ok and /ready needs a key");
  else if (isLoopback(config.HOST)) logger.info({ host: config.HOST }, `API_KEYS is not set: authentication is off, so the server listens on ${config.HOST} only`);
  else logger.warn({ host: config.HOST }, `API_KEYS is not set but HOST is ${config.HOST}: anyone who can reach this port can read every thread`);

  // Listening before storage is set up: /ok answers at once (the process lives), /ready and the
  // API answer 503 until the app is served.
  const readiness = new Readiness();
  const http = createHttpServer(readiness);
  const { server } = http;
  server.on("error", (error) => {
    logger.fatal({ err: error }, "server failed");
    process.exit(1);
  });
  server.listen(config.PORT, config.HOST);
  let deps;
  try {
    deps = await createServerDeps({
      agent,
      storage,
      logger,
      readiness,
      corsOrigins: config.CORS_ORIGINS,
      allowedHosts: config.ALLOWED_HOSTS,
      apiKeys: keys,
      metricsToken: config.METRICS_TOKEN,
      heartbeatMs: config.INSTANCE_HEARTBEAT_MS,
      cronPollMs: config.CRON_POLL_MS,
      storeSweepMs: config.STORE_SWEEP_MS,
      llmCache,
      documents,
      documentMaxBytes: config.DOCUMENT_MAX_BYTES,
      streamBufferBytes: config.STREAM_BUFFER_BYTES,
      webhooks: { allowPrivate: config.WEBHOOK_ALLOW_PRIVATE },
      threadTtlMinutes: config.THREAD_TTL,
      threadTtlSweepMs: config.THREAD_TTL_SWEEP_MS,
      titleGeneration: config.TITLE_GENERATION === "on",
    });
  } catch (error) {
    // That message already names the folder and says what to do.
    if (error instanceof DatabaseInUseError) logger.fatal(error.message);
    else logger.fatal({ err: error }, `Cannot open ${storage.location}: ${(error as Error).message}`);
    await storage.close().catch(() => undefined);
    process.exit(1);
  }
  // The agent streaming protocol's WebSocket: upgrades go through the app's checks too.
  http.serve(createApp(deps));
  if (!server.listening) await once(server, "listening");
  // Said once ready (what scripts and tests wait for), not when the socket opened.
  const { address, port } = server.address() as AddressInfo;
  logger.info({ address, port, model: config.MODEL, dataDir: config.DATA_DIR, llmCache: llmCache?.mode ?? "off" }, `listening on http://${address}:${port}`);

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    void shutDown(server, deps, { graceMs: config.SHUTDOWN_GRACE_MS, logger })
      .catch((error: unknown) => logger.error({ err: error }, "shutdown did not complete cleanly"))
      .then(() => process.exit(0));
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

await start();
