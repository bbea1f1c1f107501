/**
 * One owner's view of the store. With API keys, every owner's items live in one store, each under
 * a prefix of its own (`["owners", <owner>, ...namespace]`; without keys, `["local", ...namespace]`):
 * the view adds the prefix to every namespace it is given, takes it off every namespace it
 * returns, and lists and searches only inside it. So a caller never reaches another owner's items,
 * whatever namespace it names, and sees its own as if the store were its alone.
 */
import {
  BaseStore,
  type Item,
  type ListNamespacesOperation,
  type MatchCondition,
  type Operation,
  type OperationResults,
} from "@langchain/langgraph-checkpoint";

/** The top label of the namespaces the server's runs and API use when authentication is off. */
export const LOCAL_SCOPE = "local";
/** The top label under which each API key owner's namespaces live. */
export const OWNERS_SCOPE = "owners";

/**
 * An owner's name as one namespace label: stores refuse labels with dots or colons (and SQL
 * stores may join labels with dots), so those are percent-encoded, as is `%` itself, which
 * keeps two different owners on two different labels.
 */
const ownerLabel = (owner: string) => encodeURIComponent(owner).replace(/\./g, "%2E");

/** The namespace prefix that holds `owner`'s items (the local one without an owner). */
export function ownerPrefix(owner: string | undefined): string[] {
  return owner === undefined ? [LOCAL_SCOPE] : [OWNERS_SCOPE, ownerLabel(owner)];
}

const isGet = (operation: Operation) => "key" in operation && !("value" in operation);
const isPut = (operation: Operation) => "value" in operation;
const isSearch = (operation: Operation) => "namespacePrefix" in operation;

/** A view of `store` confined to `owner`'s prefix; `store` itself is never reached outside it. */
class ScopedStore extends BaseStore {
  readonly #store: BaseStore;
  readonly #prefix: string[];

  constructor(store: BaseStore, owner: string | undefined) {
    super();
    this.#store = store;
    this.#prefix = ownerPrefix(owner);
  }

  async batch<Op extends Operation[]>(operations: Op): Promise<OperationResults<Op>> {
    // Spread, so that what a store reads beyond BaseStore's fields (ttl, refreshTtl) goes through.
    const scoped = operations.map((operation) => {
      if (isSearch(operation)) return { ...operation, namespacePrefix: this.#in((operation as { namespacePrefix: string[] }).namespacePrefix) };
      if (isGet(operation) || isPut(operation)) return { ...operation, namespace: this.#in((operation as { namespace: string[] }).namespace) };
      return this.#listing(operation as ListNamespacesOperation);
    });
    const results = (await this.#store.batch(scoped)) as unknown[];
    return operations.map((operation, index) => {
      const result = results[index];
      if (isSearch(operation)) return (result as Item[]).map((item) => this.#item(item));
      if (isGet(operation)) return result ? this.#item(result as Item) : null;
      if (isPut(operation)) return result;
      return (result as string[][]).map((namespace) => this.#out(namespace));
    }) as OperationResults<Op>;
  }

  /** A listing inside the prefix: prefix conditions start after it, and one is added when none was given. */
  #listing(operation: ListNamespacesOperation): ListNamespacesOperation {
    const conditions: MatchCondition[] = (operation.matchConditions ?? []).map((condition) =>
      condition.matchType === "prefix" ? { ...condition, path: this.#in(condition.path) } : condition,
    );
    if (!conditions.some((condition) => condition.matchType === "prefix")) conditions.unshift({ matchType: "prefix", path: this.#prefix });
    return {
      ...operation,
      matchConditions: conditions,
      ...(operation.maxDepth === undefined ? {} : { maxDepth: operation.maxDepth + this.#prefix.length }),
    };
  }

  #in(namespace: string[]): string[] {
    return [...this.#prefix, ...namespace];
  }

  #out(namespace: string[]): string[] {
    return namespace.slice(this.#prefix.length);
  }

  #item<T extends Item>(item: T): T {
    return { ...item, namespace: this.#out(item.namespace) };
  }

  // The view neither starts nor stops the shared store: its owner (the storage) does.
  override start(): void {}
  override stop(): void {}
}

/**
 * `store` as `owner` sees it (see the module comment); `undefined` is the one local user of a
 * server without API keys, and of the agent used in code.
 */
export function scopedStore(store: BaseStore, owner: string | undefined): BaseStore {
  return new ScopedStore(store, owner);
}
