import { Router } from "express";
import { createRequire } from "node:module";
import { NotReadyError } from "../../errors.js";
import type { LlmCache } from "../../storage/llm-cache.js";
import type { Metrics } from "../metrics.js";
import type { Readiness } from "../readiness.js";
import { docsRouter } from "../openapi/docs-page.js";
import { openApiDocument } from "../openapi/document.js";

const require = createRequire(import.meta.url);
const VERSION = (require("../../../package.json") as { version: string }).version;
const LANGGRAPH_VERSION = (require("@langchain/langgraph/package.json") as { version: string }).version;

/**
 * Health (`/ok`: the process lives; `/ready`: it takes traffic), metrics, version information
 * (with the response cache's counters), the API description and its interactive reference.
 */
export function metaRouter(deps: { llmCache?: LlmCache; metrics: Metrics; readiness: Readiness }): Router {
  const router = Router();
  router.get("/ok", (_request, response) => {
    response.json({ ok: true });
  });
  router.get("/ready", (_request, response) => {
    const reason = deps.readiness.reason;
    if (reason !== undefined) throw new NotReadyError(reason);
    response.json({ ok: true });
  });
  router.get("/metrics", async (_request, response) => {
    const text = await deps.metrics.text();
    response.setHeader("content-type", deps.metrics.contentType);
    response.send(text);
  });
  router.get("/info", async (_request, response) => {
    const llmCache = deps.llmCache ? await deps.llmCache.stats() : { mode: "off" };
    response.json({
      version: VERSION,
      langgraph_js_version: LANGGRAPH_VERSION,
      context: "stateful-agent",
      flags: { assistants: true, crons: true, langsmith: false, langsmith_tracing: false },
      llm_cache: llmCache,
    });
  });
  router.get("/openapi.json", (_request, response) => {
    response.json(openApiDocument(VERSION));
  });
  router.use(docsRouter());
  return router;
}
