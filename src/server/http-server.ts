/**
 * The HTTP server `main.ts` listens with: it answers health checks from the moment it listens
 * (`/ok` 200, `/ready` and everything else 503, see readiness.ts), and serves the app once the
 * app is built (after storage is set up).
 */
import type { Express } from "express";
import { type Server, createServer } from "node:http";
import { type Readiness, startingListener } from "./readiness.js";
import { serveUpgrades } from "./protocol/websocket.js";

/** The server, and how to hand it the app. */
export interface HttpServer {
  server: Server;
  /** From now on requests (and WebSocket upgrades) go to `app`. */
  serve(app: Express): void;
}

/** A server answering as a starting one until `serve(app)`; listen with `server.listen`. */
export function createHttpServer(readiness: Readiness): HttpServer {
  const starting = startingListener(readiness);
  const server = createServer(starting);
  return {
    server,
    serve(app) {
      // Swapped, not wrapped: the app's requests pay for no indirection.
      server.removeListener("request", starting);
      server.on("request", app);
      serveUpgrades(server, app);
    },
  };
}
