/**
 * Starts the service: reads the environment (and `.env`), opens the SQLite database in
 * `DATA_DIR`, listens on `HOST:PORT`, and shuts down cleanly on SIGTERM / SIGINT.
 */
import type { AddressInfo } from "node:net";
import { loadConfigOrExit } from "./config.js";
import { DatabaseInUseError } from "./errors.js";
import { createAgentFromConfig } from "./composition/agent-from-config.js";
import { memoryWritesSettled } from "./graph/agent.js";
import { MODEL_NOT_CONFIGURED_MESSAGE } from "./graph/model-node.js";
import { createLogger } from "./logger.js";
import { apiKeys } from "./server/auth.js";
import { createApp, createServerDeps } from "./server/create-app.js";
import { closeSockets, serveUpgrades } from "./server/protocol/websocket.js";

/** Whether `host` only accepts connections from this machine. */
const isLoopback = (host: string) => host === "localhost" || host === "::1" || host.startsWith("127.");

async function start(): Promise<void> {
  const config = loadConfigOrExit();
  // A person at a terminal reads coloured lines; anything else (a pipe, a file, a collector) gets JSON.
  const logger = createLogger(config, { pretty: process.stdout.isTTY === true });
  const { agent, storage, hasModel, llmCache, documents } = createAgentFromConfig(config, { logger });
  if (!hasModel) logger.warn(`${MODEL_NOT_CONFIGURED_MESSAGE}. The server runs, but runs will fail until then.`);

  const keys = config.apiKeys ? apiKeys(config.apiKeys) : undefined;
  if (keys) logger.info({ owners: keys.entries.length }, "API keys are on: every endpoint but /ok needs a key");
  else if (isLoopback(config.HOST)) logger.info({ host: config.HOST }, `API_KEYS is not set: authentication is off, so the server listens on ${config.HOST} only`);
  else logger.warn({ host: config.HOST }, `API_KEYS is not set but HOST is ${config.HOST}: anyone who can reach this port can read every thread`);
  let deps;
  try {
    deps = await createServerDeps({
      agent,
      storage,
      logger,
      corsOrigins: config.CORS_ORIGINS,
      allowedHosts: config.ALLOWED_HOSTS,
      apiKeys: keys,
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
  const app = createApp(deps);
  const server = app.listen(config.PORT, config.HOST);
  // The agent streaming protocol's WebSocket: upgrades go through the app's checks too.
  serveUpgrades(server, app);
  server.on("listening", () => {
    const { address, port } = server.address() as AddressInfo;
    logger.info({ address, port, model: config.MODEL, dataDir: config.DATA_DIR, llmCache: llmCache?.mode ?? "off" }, `listening on http://${address}:${port}`);
  });
  server.on("error", (error) => {
    logger.fatal({ err: error }, "server failed");
    process.exit(1);
  });

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, "shutting down");
    // Stop accepting; idle keep-alive sockets would hold close() open, active requests finish.
    server.close();
    server.closeIdleConnections();
    closeSockets(server);
    // No cron starts a run once shutting down has begun.
    void (deps.crons?.stop() ?? Promise.resolve())
      .then(() => deps.runs.shutdown(config.SHUTDOWN_GRACE_MS))
      .then((cancelled) => {
        if (cancelled > 0) logger.warn({ cancelled }, "cancelled runs still going after the grace period");
        server.closeAllConnections();
        return Promise.all([deps.monitor?.stop(), deps.sweeper?.stop(), deps.storeSweeper?.stop()]);
      })
      // Memories being extracted after the last turns are written before the database closes (within the grace period).
      .then(() => Promise.race([memoryWritesSettled(agent), new Promise((resolve) => setTimeout(resolve, config.SHUTDOWN_GRACE_MS).unref())]))
      .then(() => storage.close())
      .catch((error: unknown) => logger.error({ err: error }, "shutdown did not complete cleanly"))
      .then(() => process.exit(0));
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

await start();
