/**
 * The key-value store (`/store`), as the official server and the SDK's `StoreClient` have it:
 * put, get and delete an item, search items, list namespaces. Each request sees its owner's view
 * of the store (`scopedStore`): with API keys, one owner never reaches another's items, whatever
 * namespace it names. Items are JSON objects; `ttl` (minutes) and `refresh_ttl` reach the store
 * as the operations' `ttl` and `refreshTtl` (see storage/store-operations.ts).
 */
import { type Response, Router } from "express";
import { scopedStore } from "../../storage/scoped-store.js";
import type { RefreshingGetOperation, RefreshingSearchOperation, TtlPutOperation } from "../../storage/store-operations.js";
import type { AppDeps } from "../app-deps.js";
import { ownerOf } from "../auth.js";
import { StoreItemDelete, StoreItemPut, StoreItemQuery, StoreItemSearch, StoreNamespaceSearch, parseInput } from "../schemas.js";
import { storeItemToWire } from "../wire.js";
import type { Item, SearchItem } from "@langchain/langgraph-checkpoint";

/** The store's routes. */
export function storeRouter(deps: AppDeps): Router {
  const router = Router();
  const storeOf = (response: Response) => scopedStore(deps.storage.store, ownerOf(response));

  router.put("/store/items", async (request, response) => {
    const body = parseInput(StoreItemPut, request.body);
    const put: TtlPutOperation = {
      namespace: body.namespace,
      key: body.key,
      value: body.value,
      ...(body.index == null ? {} : { index: body.index }),
      // Unset and null differ: unset leaves the store's default, null means no expiry.
      ...(body.ttl === undefined ? {} : { ttl: body.ttl }),
    };
    await storeOf(response).batch([put]);
    response.status(204).end();
  });

  router.get("/store/items", async (request, response) => {
    const query = parseInput(StoreItemQuery, request.query, "query");
    const get: RefreshingGetOperation = { namespace: query.namespace, key: query.key, ...(query.refresh_ttl === undefined ? {} : { refreshTtl: query.refresh_ttl }) };
    const [item] = (await storeOf(response).batch([get])) as [Item | null];
    response.json(item ? storeItemToWire(item) : null);
  });

  router.delete("/store/items", async (request, response) => {
    const body = parseInput(StoreItemDelete, request.body);
    await storeOf(response).delete(body.namespace, body.key);
    response.status(204).end();
  });

  router.post("/store/items/search", async (request, response) => {
    const body = parseInput(StoreItemSearch, request.body);
    const search: RefreshingSearchOperation = {
      namespacePrefix: body.namespace_prefix,
      limit: body.limit,
      offset: body.offset,
      ...(body.filter ? { filter: body.filter } : {}),
      ...(body.query ? { query: body.query } : {}),
      ...(body.refresh_ttl == null ? {} : { refreshTtl: body.refresh_ttl }),
    };
    const [items] = (await storeOf(response).batch([search])) as [SearchItem[]];
    response.json({ items: items.map(storeItemToWire) });
  });

  router.post("/store/namespaces", async (request, response) => {
    const body = parseInput(StoreNamespaceSearch, request.body);
    const namespaces = await storeOf(response).listNamespaces({
      prefix: body.prefix ?? undefined,
      suffix: body.suffix ?? undefined,
      maxDepth: body.max_depth ?? undefined,
      limit: body.limit,
      offset: body.offset,
    });
    response.json({ namespaces });
  });

  return router;
}
