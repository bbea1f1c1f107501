/**
 * Starts the service: reads the environment (and `.env`), opens the SQLite database in
 * `DATA_DIR`, listens on `HOST:PORT`, and shuts down cleanly on SIGTERM / SIGINT.
 */
import type { AddressInfo } from "node:net";
import { loadConfig, loadDotEnv } from "./config.js";
import { ConfigError } from "./errors.js";
import { createAgentFromConfig } from "./graph/from-config.js";
import { MODEL_NOT_CONFIGURED_MESSAGE } from "./graph/model-node.js";
import { createLogger } from "./logger.js";
import { createApp, createServerDeps } from "./server/create-app.js";

async function start(): Promise<void> {
  loadDotEnv();
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    process.exit(1);
  }
  const logger = createLogger(config);
  const { agent, checkpointer, hasModel } = createAgentFromConfig(config);
  if (!hasModel) logger.warn(`${MODEL_NOT_CONFIGURED_MESSAGE}. The server runs, but runs will fail until then.`);

  const deps = await createServerDeps({ agent, checkpointer, logger, corsOrigins: config.CORS_ORIGINS });
  const server = createApp(deps).listen(config.PORT, config.HOST);
  server.on("listening", () => {
    const { address, port } = server.address() as AddressInfo;
    logger.info({ address, port, model: config.MODEL, dataDir: config.DATA_DIR }, `listening on http://${address}:${port}`);
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
    void deps.runs
      .shutdown(config.SHUTDOWN_GRACE_MS)
      .then((cancelled) => {
        if (cancelled > 0) logger.warn({ cancelled }, "cancelled runs still going after the grace period");
        server.closeAllConnections();
        return checkpointer.close();
      })
      .then(() => process.exit(0));
  };
  process.on("SIGTERM", shutdown);
  process.on("SIGINT", shutdown);
}

await start();
