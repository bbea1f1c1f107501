/**
 * The part of the LangGraph API this service does not offer: the key-value store (`/store`,
 * Studio's memory tab). The agent keeps its memory in threads and uses no store, so
 * the store is always empty: reads answer as an empty store does on the official server (no
 * namespaces, no items, `null` for an item), which clients such as LangGraph Studio show as
 * "nothing here". Writes would be lost, so they are refused with 501 instead of pretending.
 */
import { Router } from "express";
import { NotOfferedError } from "../../errors.js";
import { StoreItemDelete, StoreItemQuery, StoreItemSearch, StoreNamespaceSearch, parseInput } from "../schemas.js";

/** Empty answers for store reads, 501 for writes. */
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

  return router;
}
