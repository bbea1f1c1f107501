/**
 * The store's operations as this service extends LangGraph's `BaseStore` (whose JS operations
 * have no time to live): a put may carry `ttl` (minutes, as in LangGraph's Python store and the
 * API's `PUT /store/items`), and a get or search may ask that the items it reads live `ttl`
 * minutes longer from now (`refreshTtl`). A store that keeps no TTL ignores both fields; one
 * that does reads them from the operations `batch` receives.
 */
import type { BaseStore, GetOperation, PutOperation, SearchOperation } from "@langchain/langgraph-checkpoint";

/** A put (or, with `value: null`, a delete) whose item expires `ttl` minutes after it is written or refreshed; none when null or unset. */
export interface TtlPutOperation extends PutOperation {
  ttl?: number | null;
}

/** A get that, with `refreshTtl`, restarts the item's time to live (unset: the store's default). */
export interface RefreshingGetOperation extends GetOperation {
  refreshTtl?: boolean;
}

/** A search that, with `refreshTtl`, restarts the time to live of the items it returns (unset: the store's default). */
export interface RefreshingSearchOperation extends SearchOperation {
  refreshTtl?: boolean;
}

/** The service's store: a LangGraph `BaseStore`, and the sweep of expired items when it keeps TTLs. */
export interface ServiceStore extends BaseStore {
  /** Deletes the items whose time to live has passed; returns how many. Safe when several instances sweep at once. */
  sweepExpired?(): Promise<number>;
}
