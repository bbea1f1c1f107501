/**
 * The server's orderly stop (SIGTERM, SIGINT): not ready at once, no new connections, running
 * runs given `graceMs` to finish and cancelled after it (keeping their input), then the
 * background work stopped and the database closed.
 */
import type { Server } from "node:http";
import { memoryWritesSettled } from "../graph/agent.js";
import type { Logger } from "../logger.js";
import type { AppDeps } from "./app-deps.js";
import { closeSockets } from "./protocol/websocket.js";

/** Stops `server` and everything in `deps`, closing the storage last; resolves when done. */
export async function shutDown(server: Server, deps: AppDeps, options: { graceMs: number; logger: Logger }): Promise<void> {
  const { graceMs, logger } = options;
  // First: a load balancer polling /ready on a connection still open stops sending work here.
  deps.readiness.markStopping();
  // Stop accepting; idle keep-alive sockets would hold close() open, active requests finish.
  server.close();
  server.closeIdleConnections();
  closeSockets(server);
  // No cron starts a run once shutting down has begun.
  await deps.crons?.stop();
  const cancelled = await deps.runs.shutdown(graceMs);
  if (cancelled > 0) logger.warn({ cancelled }, "cancelled runs still going after the grace period");
  server.closeAllConnections();
  await Promise.all([deps.monitor?.stop(), deps.sweeper?.stop(), deps.storeSweeper?.stop()]);
  // Memories being extracted after the last turns are written before the database closes (within the grace period).
  await Promise.race([memoryWritesSettled(deps.agent), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
  await deps.storage.close();
}
