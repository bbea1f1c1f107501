/**
 * The LangGraph Store (`BaseStore`) as the storage layer keeps it: what both backends share
 * (validation, TTL options, embedding before SQL runs) above the SQL each writes
 * (src/storage/sqlite/store.ts, src/storage/postgres/store.ts).
 */
import type { EmbeddingsInterface } from "@langchain/core/embeddings";
import {
  BaseStore,
  type GetOperation,
  type Item,
  type ListNamespacesOperation,
  type Operation,
  type OperationResults,
  type PutOperation,
  type SearchItem,
  type SearchOperation,
  validateNamespace,
} from "@langchain/langgraph-checkpoint";
import { ModelProviderError, ValidationError } from "../errors.js";
import { type FilterCondition, type NamespaceListing, decodeNamespace, encodeNamespace, literalPrefix, namespaceRange, parseFilter, searchableText, storeQueryTerms, textsAtPath } from "./store-values.js";

/** Semantic search, as LangGraph's `IndexConfig`: the embeddings model, and which fields of a value it embeds. */
export interface StoreIndexConfig {
  embeddings: EmbeddingsInterface;
  /** The model's dimensions; a vector of another length is an error. Any length when unset. */
  dims?: number;
  /** LangGraph field paths embedded by default ("$", the whole value as JSON, when unset). */
  fields?: string[];
  /** Told when embedding a search's query fails: the search then uses full-text alone. */
  onSearchFallback?: (error: unknown) => void;
}

/** What a store is built with besides its database. */
export interface StoreOptions {
  /** Semantic search: without it `query` is full-text search. */
  index?: StoreIndexConfig;
  /** The time used for timestamps and expiry (tests move it); the database's clock by default. */
  clock?: { now(): Date };
  /** Whether reads extend an item's TTL unless they say otherwise (LangGraph's default: yes). */
  refreshOnRead?: boolean;
}

/** `ttl`: minutes until the item expires, counted again on each read that refreshes it; none (null or absent) keeps it. */
export interface StorePutOptions {
  ttl?: number | null;
}

/** `refreshTtl`: whether this read extends the TTL of what it returns (the store's default when absent). */
export interface StoreReadOptions {
  refreshTtl?: boolean;
}

export type StoreGetOperation = GetOperation & StoreReadOptions;
export type StoreSearchOperation = SearchOperation & StoreReadOptions;
export type StorePutOperation = PutOperation & StorePutOptions;

/** The store of `Storage.store`: LangGraph's `BaseStore` with TTL on put and refresh on read, expired items swept. */
export type StorageStore = BaseStore & {
  put(namespace: string[], key: string, value: Record<string, unknown>, index?: false | string[], options?: StorePutOptions): Promise<void>;
  get(namespace: string[], key: string, options?: StoreReadOptions): Promise<Item | null>;
  search(namespacePrefix: string[], options?: { filter?: Record<string, unknown>; limit?: number; offset?: number; query?: string } & StoreReadOptions): Promise<SearchItem[]>;
  /** Deletes every expired item, in one statement (instances sweeping at once delete each item once); returns how many. */
  sweepExpired(): Promise<number>;
  /** Creates or migrates the tables; idempotent. */
  setup(): Promise<void>;
};

/** One operation, validated and embedded, as a backend runs it. Namespaces are encoded (store-values.ts). */
export type PreparedOperation =
  | { kind: "get"; namespace: string; key: string; refreshTtl: boolean }
  | { kind: "put"; namespace: string; key: string; value: string; text: string; ttlMinutes: number | null; vectors: Array<{ field: string; embedding: Float32Array }> }
  | { kind: "delete"; namespace: string; key: string }
  | {
      kind: "search";
      range: ReturnType<typeof namespaceRange>;
      conditions: FilterCondition[];
      limit: number;
      offset: number;
      /** Full-text words of the query (none: the query matches nothing); undefined without a query. */
      terms: string[] | undefined;
      /** The query's embedding when semantic search answers. */
      embedding: Float32Array | undefined;
      refreshTtl: boolean;
    }
  | { kind: "list"; listing: NamespaceListing; range: ReturnType<typeof namespaceRange> };

/** A row as both backends return it. */
export interface StoreRow {
  namespace: string;
  key: string;
  value: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  score?: number;
}

const checkNamespace = (namespace: unknown, options: { allowEmpty?: boolean; allowReservedRoot?: boolean }): string[] => {
  if (!Array.isArray(namespace)) throw new ValidationError("A namespace is a list of labels");
  try {
    validateNamespace(namespace, options);
  } catch (error) {
    throw new ValidationError((error as Error).message, { cause: error });
  }
  return namespace;
};

const checkCount = (value: unknown, name: string, fallback: number): number => {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0) throw new ValidationError(`${name} must be a whole number, 0 or more`);
  return value;
};

const checkKey = (key: unknown): string => {
  if (typeof key !== "string" || key === "") throw new ValidationError("An item's key must be a non-empty string");
  return key;
};

/**
 * What both backends share: the methods of `BaseStore` (which validate and call `batch`) with
 * LangGraph's validation as `ValidationError`s (422 on the HTTP API), TTL and refresh options,
 * and `batch` turning operations into `PreparedOperation`s (embedding first, so the SQL runs in
 * one transaction with nothing to wait for). Results are as LangGraph's: `get` null when missing
 * or expired, `search` newest first (by score when a query ranks them), namespaces in label order.
 */
export abstract class DatabaseStore extends BaseStore {
  protected readonly index: StoreIndexConfig | undefined;
  readonly #refreshOnRead: boolean;

  constructor(options: StoreOptions = {}) {
    super();
    this.index = options.index;
    this.#refreshOnRead = options.refreshOnRead ?? true;
  }

  abstract setup(): Promise<void>;
  abstract sweepExpired(): Promise<number>;
  /** Runs the prepared operations in one transaction, each result in place. */
  protected abstract execute(operations: PreparedOperation[]): Promise<unknown[]>;

  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    return (await this.execute(await this.#prepare(operations as Array<Operation & StoreReadOptions & StorePutOptions>))) as OperationResults<Op>;
  }

  override async get(namespace: string[], key: string, options: StoreReadOptions = {}): Promise<Item | null> {
    const [item] = await this.batch([{ namespace, key, ...options } as StoreGetOperation]);
    return item as Item | null;
  }

  /** Refuses the root label "langgraph" as LangGraph's `put` does (a `batch` may write there). */
  override async put(namespace: string[], key: string, value: Record<string, unknown>, index?: false | string[], options: StorePutOptions = {}): Promise<void> {
    checkNamespace(namespace, {});
    await this.batch([{ namespace, key, value, index, ...options } as StorePutOperation]);
  }

  override async delete(namespace: string[], key: string): Promise<void> {
    await this.batch([{ namespace, key, value: null }]);
  }

  override async search(
    namespacePrefix: string[],
    options: { filter?: Record<string, unknown>; limit?: number; offset?: number; query?: string } & StoreReadOptions = {},
  ): Promise<SearchItem[]> {
    const [items] = await this.batch([{ namespacePrefix, ...options } as StoreSearchOperation]);
    return items as SearchItem[];
  }

  override async listNamespaces(options: { prefix?: string[]; suffix?: string[]; maxDepth?: number; limit?: number; offset?: number } = {}): Promise<string[][]> {
    const matchConditions: ListNamespacesOperation["matchConditions"] = [];
    if (options.prefix) matchConditions.push({ matchType: "prefix", path: options.prefix });
    if (options.suffix) matchConditions.push({ matchType: "suffix", path: options.suffix });
    const [namespaces] = await this.batch([{ matchConditions, maxDepth: options.maxDepth, limit: options.limit ?? 100, offset: options.offset ?? 0 }]);
    return namespaces as string[][];
  }

  async #prepare(operations: Array<Operation & StoreReadOptions & StorePutOptions>): Promise<PreparedOperation[]> {
    if (!Array.isArray(operations)) throw new ValidationError("A batch is a list of operations");
    const prepared = operations.map((operation) => this.#prepareOne(operation));
    await this.#embed(operations, prepared);
    return prepared;
  }

  #prepareOne(operation: Operation & StoreReadOptions & StorePutOptions): PreparedOperation {
    const refreshTtl = typeof operation.refreshTtl === "boolean" ? operation.refreshTtl : this.#refreshOnRead;
    if ("namespacePrefix" in operation) {
      const query = operation.query;
      if (query !== undefined && query !== null && typeof query !== "string") throw new ValidationError("A search's query must be a string");
      return {
        kind: "search",
        range: namespaceRange(checkNamespace(operation.namespacePrefix, { allowEmpty: true, allowReservedRoot: true })),
        conditions: parseFilter(operation.filter),
        limit: checkCount(operation.limit, "limit", 10),
        offset: checkCount(operation.offset, "offset", 0),
        terms: query ? storeQueryTerms(query) : undefined,
        embedding: undefined,
        refreshTtl,
      };
    }
    if ("value" in operation) {
      const key = checkKey(operation.key);
      if (operation.value === null) return { kind: "delete", namespace: encodeNamespace(checkNamespace(operation.namespace, { allowEmpty: true, allowReservedRoot: true })), key };
      const namespace = encodeNamespace(checkNamespace(operation.namespace, { allowReservedRoot: true }));
      const value: unknown = operation.value;
      if (value === null || typeof value !== "object" || Array.isArray(value)) throw new ValidationError("An item's value must be a JSON object");
      let json: string;
      try {
        json = JSON.stringify(value);
      } catch (error) {
        throw new ValidationError(`An item's value must be JSON: ${(error as Error).message}`, { cause: error });
      }
      const ttl = operation.ttl;
      if (ttl !== undefined && ttl !== null && (typeof ttl !== "number" || !Number.isFinite(ttl) || ttl <= 0)) throw new ValidationError("ttl is a number of minutes above 0");
      return { kind: "put", namespace, key, value: json, text: searchableText(JSON.parse(json)), ttlMinutes: ttl ?? null, vectors: [] };
    }
    if ("key" in operation) {
      return { kind: "get", namespace: encodeNamespace(checkNamespace(operation.namespace, { allowEmpty: true, allowReservedRoot: true })), key: checkKey(operation.key), refreshTtl };
    }
    if ("limit" in operation || "matchConditions" in operation) {
      for (const condition of operation.matchConditions ?? []) {
        if (condition.matchType !== "prefix" && condition.matchType !== "suffix") throw new ValidationError(`Unknown namespace match type ${String(condition.matchType)}`);
        checkNamespace(condition.path.filter((label) => label !== "*"), { allowEmpty: true, allowReservedRoot: true });
      }
      const maxDepth = operation.maxDepth === undefined || operation.maxDepth === null ? undefined : checkCount(operation.maxDepth, "maxDepth", 0);
      if (maxDepth === 0) throw new ValidationError("maxDepth must be 1 or more");
      const listing: NamespaceListing = { matchConditions: operation.matchConditions, maxDepth, limit: checkCount(operation.limit, "limit", 100), offset: checkCount(operation.offset, "offset", 0) };
      return { kind: "list", listing, range: namespaceRange(literalPrefix(listing)) };
    }
    throw new ValidationError(`Unknown store operation ${JSON.stringify(operation)}`);
  }

  /** Embeds what the puts index and what the searches ask, each text once, before any SQL runs. */
  async #embed(operations: Array<Operation & StorePutOptions>, prepared: PreparedOperation[]): Promise<void> {
    const index = this.index;
    if (!index) return;
    const wanted: Array<{ target: Array<{ field: string; embedding: Float32Array }>; field: string; text: string }> = [];
    prepared.forEach((operation, at) => {
      if (operation.kind !== "put") return;
      const fields = (operations[at] as PutOperation).index;
      if (fields === false) return;
      const value = JSON.parse(operation.value) as unknown;
      for (const path of fields ?? index.fields ?? ["$"]) {
        const texts = textsAtPath(value, path);
        texts.forEach((text, which) => wanted.push({ target: operation.vectors, field: texts.length > 1 ? `${path}.${which}` : path, text }));
      }
    });
    if (wanted.length > 0) {
      const unique = [...new Set(wanted.map((entry) => entry.text))];
      let vectors: number[][];
      try {
        vectors = await index.embeddings.embedDocuments(unique);
      } catch (error) {
        throw new ModelProviderError(`The embeddings model failed, so the item was not stored: ${(error as Error).message}`, { cause: error });
      }
      const byText = new Map(unique.map((text, at) => [text, this.#vector(vectors[at])]));
      for (const entry of wanted) entry.target.push({ field: entry.field, embedding: byText.get(entry.text) as Float32Array });
    }
    for (const [at, operation] of prepared.entries()) {
      const query = (operations[at] as SearchOperation).query;
      if (operation.kind !== "search" || !query) continue;
      try {
        operation.embedding = this.#vector(await index.embeddings.embedQuery(query));
      } catch (error) {
        // Full-text alone answers rather than no answer at all.
        index.onSearchFallback?.(error);
      }
    }
  }

  #vector(values: number[] | undefined): Float32Array {
    const dims = this.index?.dims;
    if (!values || (dims !== undefined && values.length !== dims)) throw new ModelProviderError(`The embeddings model returned ${values?.length ?? "no"} dimensions where ${dims} were configured`);
    return Float32Array.from(values);
  }
}

/** A stored row as LangGraph's `Item` (with `score` when the search ranked it). */
export function toItem(row: StoreRow): SearchItem {
  const item: SearchItem = { namespace: decodeNamespace(row.namespace), key: row.key, value: row.value, createdAt: row.createdAt, updatedAt: row.updatedAt };
  if (row.score !== undefined && row.score !== null) item.score = Number(row.score);
  return item;
}
