import { Router } from "express";
import { createRequire } from "node:module";
import { docsPage, openApiDocument } from "../openapi.js";

const require = createRequire(import.meta.url);
const VERSION = (require("../../../package.json") as { version: string }).version;
const LANGGRAPH_VERSION = (require("@langchain/langgraph/package.json") as { version: string }).version;

/** Health, version information and the API description. */
export function metaRouter(): Router {
  const router = Router();
  router.get("/ok", (_request, response) => {
    response.json({ ok: true });
  });
  router.get("/info", (_request, response) => {
    response.json({
      version: VERSION,
      langgraph_js_version: LANGGRAPH_VERSION,
      context: "stateful-agent",
      flags: { assistants: true, crons: false, langsmith: false, langsmith_tracing: false },
    });
  });
  router.get("/openapi.json", (_request, response) => {
    response.json(openApiDocument(VERSION));
  });
  router.get("/docs", (_request, response) => {
    response.type("html").send(docsPage(VERSION));
  });
  return router;
}
