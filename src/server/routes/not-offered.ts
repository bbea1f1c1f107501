/**
 * The parts of the LangGraph API this service does not offer: the key-value store (`/store`,
 * Studio's memory tab) and crons. The agent keeps its memory in threads and uses no store, so
 * the store is always empty: reads answer as an empty store does on the official server (no
 * namespaces, no items, `null` for an item), which clients such as LangGraph Studio show as
 * "nothing here". Writes would be lost, so they are refused with 501 instead of pretending.
 * Likewise there are no crons (`/info` says `crons: false`): searches are empty, creating one is
 * a 501, and any cron id is unknown.
 */
import { Router } from "express";
import { NotFoundError, NotOfferedError } from "../../errors.js";
import { CronSearch, StoreItemDelete, StoreItemQuery, StoreItemSearch, StoreNamespaceSearch, ThreadPath, parseInput } from "../schemas.js";

/** Empty answers for store and cron reads, 501 for writes, 404 for any cron id. */
export function notOfferedRouter(): Router {
  const router = Router();

  router.post("/store/namespaces", (request, response) => {
    parseInput(StoreNamespaceSearch, request.body);
    response.json({ namespaces: [] });
  });
  router.post("/store/items/search", (request, response) => {
    parseInput(StoreItemSearch, request.body);
    response.json({ items: [] });
  });
  router.get("/store/items", (request, response) => {
    parseInput(StoreItemQuery, request.query, "query");
    response.json(null);
  });
  router.delete("/store/items", (request, response) => {
    parseInput(StoreItemDelete, request.body);
    // Nothing is ever stored, so whatever was named is already gone.
    response.status(204).end();
  });
  router.put("/store/items", () => {
    throw new NotOfferedError("This server has no key-value store (/store): the agent keeps its memory in threads. Nothing was stored");
  });

  router.post("/runs/crons/search", (request, response) => {
    parseInput(CronSearch, request.body);
    response.json([]);
  });
  router.post("/runs/crons/count", (_request, response) => {
    response.json(0);
  });
  const noCrons = () => {
    throw new NotOfferedError("This server runs no crons (/info says crons: false); schedule runs from outside, e.g. with after_seconds or a system scheduler");
  };
  router.post("/runs/crons", noCrons);
  router.post("/threads/:thread_id/runs/crons", (request) => {
    parseInput(ThreadPath, request.params, "path");
    noCrons();
  });
  router.all("/runs/crons/:cron_id", (request) => {
    throw new NotFoundError(`Cron ${request.params.cron_id} not found: this server runs no crons`);
  });

  return router;
}
