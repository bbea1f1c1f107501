/**
 * Assistants: a graph with its settings (`config`, `context`), kept in versions. Each change
 * makes a new version; the assistant's own record holds the version in use, which runs take.
 */

/** What one version of an assistant holds. */
export interface AssistantContent {
  graphId: string;
  name: string;
  description: string | null;
  /** The run config defaults (`configurable`, `tags`, `recursion_limit`, ...). */
  config: Record<string, unknown>;
  /** The run context defaults. */
  context: Record<string, unknown>;
  metadata: Record<string, unknown>;
}

/** An assistant as it is now: the content of the version in use. */
export interface Assistant extends AssistantContent {
  assistantId: string;
  /** Who created it, when API keys are on; `null` for assistants created without authentication and for system ones. */
  owner: string | null;
  /** A graph's own assistant, made by the server: every owner sees it, nobody changes it. */
  system: boolean;
  /** The version in use. */
  version: number;
  createdAt: Date;
  updatedAt: Date;
}

/** One version, as it was made. */
export interface AssistantVersion extends AssistantContent {
  assistantId: string;
  version: number;
  createdAt: Date;
}

export type AssistantSortField = "assistant_id" | "graph_id" | "name" | "created_at" | "updated_at";

/** Filters of search and count; every given filter must match. */
export interface AssistantFilter {
  /** Only this owner's assistants and the system ones; undefined means every assistant (authentication off). */
  owner?: string;
  graphId?: string;
  /** A substring of the name, any case. */
  name?: string;
  /** Each key must equal the given JSON value in the assistant's metadata (a missing key matches null). */
  metadata?: Record<string, unknown>;
}

export interface AssistantSearch extends AssistantFilter {
  limit: number;
  offset: number;
  sortBy: AssistantSortField;
  sortOrder: "asc" | "desc";
}

/** What a change replaces: the fields given; `metadata` is merged into the current one. */
export type AssistantPatch = Partial<AssistantContent>;

/**
 * Where assistants and their versions live. Every call taking `owner` sees only that owner's
 * assistants and the system ones (all, when `owner` is undefined); lookups return `null` for
 * what the caller cannot see, and the route decides whether that means 404.
 */
export interface AssistantRepository {
  /** Creates or migrates the tables; idempotent. */
  setup(): Promise<void>;
  /** Inserts an assistant at version 1; returns `null` when the id is taken (by anyone). */
  create(assistant: AssistantContent & { assistantId: string; owner?: string; system?: boolean }): Promise<Assistant | null>;
  get(assistantId: string, owner?: string): Promise<Assistant | null>;
  /** Makes a new version (the highest so far plus one) from the current one and `patch`, and puts it in use. */
  update(assistantId: string, patch: AssistantPatch, owner?: string): Promise<Assistant | null>;
  /** Puts `version` in use; `"no-version"` when the assistant has no such version. */
  setVersion(assistantId: string, version: number, owner?: string): Promise<Assistant | "no-version" | null>;
  /** Deletes the assistant and its versions; returns whether it existed. */
  delete(assistantId: string, owner?: string): Promise<boolean>;
  search(search: AssistantSearch): Promise<Assistant[]>;
  count(filter: AssistantFilter): Promise<number>;
  /** Versions, newest first, whose metadata matches; `null` when the assistant cannot be seen. */
  listVersions(
    assistantId: string,
    options: { metadata?: Record<string, unknown>; limit: number; offset: number },
    owner?: string,
  ): Promise<AssistantVersion[] | null>;
}

/** `patch` applied to `current`: given fields replace, metadata merges (as the official server does). */
export function patchedContent(current: AssistantContent, patch: AssistantPatch): AssistantContent {
  return {
    graphId: patch.graphId ?? current.graphId,
    name: patch.name ?? current.name,
    description: patch.description ?? current.description,
    config: patch.config ?? current.config,
    context: patch.context ?? current.context,
    metadata: patch.metadata ? { ...current.metadata, ...patch.metadata } : current.metadata,
  };
}
