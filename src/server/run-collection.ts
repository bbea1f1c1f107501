/**
 * The document collection a run searches. It can be named in four places; the first that
 * names one decides, and the others are ignored:
 *
 * 1. `context.collection_id`
 * 2. `config.configurable.collection_id`
 * 3. the same two of the run's assistant (its defaults, under the run's own)
 * 4. the thread's metadata `collection_id` (a thread bound to a collection)
 *
 * (context before config, as for every other key the graph reads.) A non-empty string names a
 * collection; `null`, `""` or no key leave the choice to the next place. The run manager checks that the caller owns the one chosen, and the graph is
 * given that one and no other (see `bindCollection`), so the search tool can only ever use a
 * collection that was checked.
 */
import { ValidationError } from "../errors.js";
import type { DocumentIndex } from "../retrieval/document-index.js";
import type { RunCreate } from "./schemas.js";

/** A collection id named in `record`, if any; throws ValidationError for a value that is not one. */
function namedIn(record: Record<string, unknown> | null | undefined, field: string): string | undefined {
  const value = record?.collection_id;
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string") throw new ValidationError(`${field} must be a collection id (a string)`);
  return value;
}

/** The collection the run's request names (context, then config), not counting its thread's. */
export function requestedCollection(body: Pick<RunCreate, "config" | "context">): string | undefined {
  return namedIn(body.context, "context.collection_id") ?? namedIn(body.config?.configurable, "config.configurable.collection_id");
}

/** The collection an assistant's settings name (context, then config), if any. */
export function assistantCollection(assistant: { config: Record<string, unknown>; context: Record<string, unknown> }): string | undefined {
  return namedIn(assistant.context, "the assistant's context.collection_id") ?? namedIn(assistant.config.configurable as Record<string, unknown> | undefined, "the assistant's config.configurable.collection_id");
}

/**
 * The collection a run of `assistant` on a thread with `threadMetadata` searches, by the
 * precedence above. The thread's metadata is free-form: a value there that is not a string names nothing.
 */
export function resolveRunCollection(
  body: Pick<RunCreate, "config" | "context">,
  threadMetadata: Record<string, unknown> = {},
  assistant: { config: Record<string, unknown>; context: Record<string, unknown> } = { config: {}, context: {} },
): string | undefined {
  const bound = threadMetadata.collection_id;
  return requestedCollection(body) ?? assistantCollection(assistant) ?? (typeof bound === "string" && bound !== "" ? bound : undefined);
}

/**
 * `body` with `collectionId` as its only collection: in `config.configurable`, and removed from
 * `context`, so that whatever reads the request later (the graph's config, the run's record)
 * finds the checked collection and nothing else.
 */
export function bindCollection(body: RunCreate, collectionId: string | undefined): RunCreate {
  const { collection_id: _fromConfig, ...configurable } = body.config?.configurable ?? {};
  const { collection_id: _fromContext, ...context } = body.context ?? {};
  return {
    ...body,
    config: { ...body.config, configurable: { ...configurable, ...(collectionId === undefined ? {} : { collection_id: collectionId }) } },
    ...(body.context ? { context } : {}),
  };
}

/** Throws NotFoundError unless `collectionId` (when there is one) is `owner`'s; checks nothing without `documents`. */
export async function requireCollection(
  documents: Pick<DocumentIndex, "requireCollection"> | undefined,
  collectionId: string | undefined,
  owner: string | undefined,
): Promise<void> {
  if (collectionId !== undefined) await documents?.requireCollection(collectionId, owner);
}
