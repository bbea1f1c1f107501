import express, { type Express } from "express";
import { pinoHttp } from "pino-http";
import type { Agent } from "../graph/agent.js";
import type { Logger } from "../logger.js";
import { errorHandler, notFound } from "./error-handler.js";

/** Everything the HTTP app needs; the factory reads no environment and opens no socket. */
export interface AppDeps {
  agent: Agent;
  logger: Logger;
}

/** Builds the Express app; `main.ts` (or a test) decides where it listens. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable("x-powered-by");
  app.use(pinoHttp({ logger: deps.logger, autoLogging: { ignore: (request) => request.url === "/ok" } }));
  app.use(express.json({ limit: "1mb" }));
  app.get("/ok", (_request, response) => {
    response.json({ ok: true });
  });
  app.use(notFound, errorHandler);
  return app;
}
