import { v7 as uuid7 } from "@langchain/core/utils/uuid";
import { type Response, Router } from "express";
import { AppError, NotFoundError } from "../../errors.js";
import { parseRunSettings } from "../../graph/run-settings.js";
import type { Assistant } from "../../storage/assistants.js";
import type { AppDeps } from "../app-deps.js";
import { GRAPH_ID, assistantIdOf, assistantToWire, assistantVersionToWire, ensureSystemAssistant, graphSchemas, requireAssistant } from "../assistants.js";
import { ownerOf } from "../auth.js";
import { assistantCollection, requireCollection } from "../run-collection.js";
import {
  AssistantCount,
  AssistantCreate,
  AssistantDeleteQuery,
  AssistantLatestVersion,
  AssistantPatch,
  AssistantSearch,
  AssistantVersions,
  GraphQuery,
  SubgraphsQuery,
  parseInput,
} from "../schemas.js";

/** The assistant id is taken, or the assistant is one the server made and keeps as it is. */
class AssistantConflictError extends AppError {
  override readonly status = 409;
}

/** Threads deleted per query when an assistant is deleted with its threads. */
const THREAD_BATCH = 100;

/** Refuses a graph the server does not serve, as the official server does (404). */
function requireGraph(graphId: string): void {
  if (graphId !== GRAPH_ID) throw new NotFoundError(`Graph "${graphId}" not found; this server serves "${GRAPH_ID}"`);
}


/** Assistants: create, get, change (a new version each time), delete, search, count, versions, graph, schemas. */
export function assistantsRouter(deps: AppDeps): Router {
  const { storage, runs, checkpointer } = deps;
  const { assistants } = storage;
  const router = Router();

  const refuseSystem = (assistant: Assistant, what: string) => {
    if (assistant.system) {
      throw new AssistantConflictError(`Assistant "${assistant.assistantId}" is the system assistant of graph "${assistant.graphId}" and cannot be ${what}`);
    }
  };
  const find = (id: string, response: Response) => requireAssistant(assistants, id, ownerOf(response));
  /**
   * Throws unless the settings an assistant gives its runs are valid (422): its `configurable`
   * and `context` as a run sees them (context over config), and the collection they name, which
   * must be the caller's (404), as for a run. Checked before anything is kept.
   */
  const checkSettings = async (config: Record<string, unknown>, context: Record<string, unknown>, response: Response) => {
    const configurable = (config.configurable ?? {}) as Record<string, unknown>;
    parseRunSettings({ ...configurable, ...context });
    await requireCollection(deps.documents, assistantCollection({ config, context }), ownerOf(response));
  };

  router.post("/assistants", async (request, response) => {
    const body = parseInput(AssistantCreate, request.body);
    requireGraph(body.graph_id);
    const config = body.config ?? {};
    const context = body.context ?? {};
    await checkSettings(config, context, response);
    const assistantId = body.assistant_id ?? uuid7();
    const owner = ownerOf(response);
    await ensureSystemAssistant(assistants);
    const created = await assistants.create({
      assistantId,
      owner,
      graphId: body.graph_id,
      name: body.name ?? "Untitled",
      description: body.description ?? null,
      config,
      context,
      metadata: body.metadata ?? {},
    });
    if (created) {
      response.json(assistantToWire(created));
      return;
    }
    // Taken: with do_nothing the caller gets the assistant if they may see it; otherwise 409.
    const existing = body.if_exists === "do_nothing" ? await assistants.get(assistantId, owner) : null;
    if (!existing) throw new AssistantConflictError(`Assistant "${assistantId}" already exists`);
    response.json(assistantToWire(existing));
  });

  router.post("/assistants/search", async (request, response) => {
    const body = parseInput(AssistantSearch, request.body);
    await ensureSystemAssistant(assistants);
    const found = await assistants.search({
      owner: ownerOf(response),
      graphId: body.graph_id ?? undefined,
      name: body.name ?? undefined,
      metadata: body.metadata ?? undefined,
      limit: body.limit,
      offset: body.offset,
      sortBy: body.sort_by,
      sortOrder: body.sort_order,
    });
    const items = found.map((assistant) => {
      const item: Record<string, unknown> = assistantToWire(assistant);
      return body.select ? Object.fromEntries(Object.entries(item).filter(([key]) => body.select?.includes(key as never))) : item;
    });
    // As the official server: a full page says there may be more.
    const next = body.offset + items.length;
    if (items.length === body.limit) response.setHeader("X-Pagination-Next", String(next));
    response.setHeader("X-Pagination-Total", String(items.length === body.limit ? next + 1 : next));
    response.json(items);
  });

  router.post("/assistants/count", async (request, response) => {
    const body = parseInput(AssistantCount, request.body);
    await ensureSystemAssistant(assistants);
    response.json(
      await assistants.count({ owner: ownerOf(response), graphId: body.graph_id ?? undefined, name: body.name ?? undefined, metadata: body.metadata ?? undefined }),
    );
  });

  router.get("/assistants/:assistant_id", async (request, response) => {
    response.json(assistantToWire(await find(request.params.assistant_id, response)));
  });

  router.patch("/assistants/:assistant_id", async (request, response) => {
    const body = parseInput(AssistantPatch, request.body);
    const current = await find(request.params.assistant_id, response);
    refuseSystem(current, "changed");
    if (body.graph_id) requireGraph(body.graph_id);
    await checkSettings(body.config ?? current.config, body.context ?? current.context, response);
    const updated = await assistants.update(
      current.assistantId,
      {
        graphId: body.graph_id ?? undefined,
        name: body.name ?? undefined,
        description: body.description ?? undefined,
        config: body.config ?? undefined,
        context: body.context ?? undefined,
        metadata: body.metadata ?? undefined,
      },
      ownerOf(response),
    );
    if (!updated) throw new NotFoundError(`Assistant "${request.params.assistant_id}" not found`);
    response.json(assistantToWire(updated));
  });

  router.delete("/assistants/:assistant_id", async (request, response) => {
    const { delete_threads } = parseInput(AssistantDeleteQuery, request.query, "query");
    const owner = ownerOf(response);
    const assistant = await find(request.params.assistant_id, response);
    refuseSystem(assistant, "deleted");
    // The assistant goes first, so that no new run can start with it while its threads go.
    if (!(await assistants.delete(assistant.assistantId, owner))) throw new NotFoundError(`Assistant "${request.params.assistant_id}" not found`);
    if (delete_threads) {
      const filter = { owner, metadata: { assistant_id: assistant.assistantId } };
      for (;;) {
        const threads = await storage.threads.searchThreads({ ...filter, limit: THREAD_BATCH, offset: 0, sortBy: "created_at", sortOrder: "asc" });
        if (threads.length === 0) break;
        for (const thread of threads) {
          // As DELETE /threads/{id}: the row first, then its runs are cancelled, then its checkpoints.
          await storage.threads.deleteThread(thread.threadId);
          await runs.cancelThread(thread.threadId);
          await checkpointer.deleteThread(thread.threadId);
        }
      }
    }
    response.status(204).end();
  });

  router.get("/assistants/:assistant_id/graph", async (request, response) => {
    await find(request.params.assistant_id, response);
    const { xray } = parseInput(GraphQuery, request.query, "query");
    const drawable = await deps.agent.getGraphAsync({ xray: xray === false || xray === 0 ? undefined : xray });
    response.json(drawable.toJSON());
  });

  router.get("/assistants/:assistant_id/schemas", async (request, response) => {
    await find(request.params.assistant_id, response);
    response.json(graphSchemas(deps.agent));
  });

  router.get(["/assistants/:assistant_id/subgraphs", "/assistants/:assistant_id/subgraphs/:namespace"], async (request, response) => {
    await find(request.params.assistant_id as string, response);
    // Clients may ask ?recurse=true (the SDK, Studio); the agent has no subgraphs at any depth.
    parseInput(SubgraphsQuery, request.query, "query");
    response.json({});
  });

  router.post("/assistants/:assistant_id/latest", async (request, response) => {
    const { version } = parseInput(AssistantLatestVersion, request.body);
    const assistant = await find(request.params.assistant_id, response);
    // The system assistant has one version: setting it again changes nothing, any other is unknown.
    const result = assistant.system && version === assistant.version ? assistant : await setVersion(assistant, version, response);
    response.json(assistantToWire(result));
  });

  const setVersion = async (assistant: Assistant, version: number, response: Response): Promise<Assistant> => {
    const result = assistant.system ? "no-version" : await assistants.setVersion(assistant.assistantId, version, ownerOf(response));
    if (result === "no-version") throw new NotFoundError(`Version ${version} of assistant "${assistant.assistantId}" not found`);
    if (!result) throw new NotFoundError(`Assistant "${assistant.assistantId}" not found`);
    return result;
  };

  router.post("/assistants/:assistant_id/versions", async (request, response) => {
    const body = parseInput(AssistantVersions, request.body);
    const id = assistantIdOf(request.params.assistant_id);
    await ensureSystemAssistant(assistants);
    const versions = await assistants.listVersions(id, { metadata: body.metadata ?? undefined, limit: body.limit, offset: body.offset }, ownerOf(response));
    if (!versions) throw new NotFoundError(`Assistant "${request.params.assistant_id}" not found`);
    response.json(versions.map(assistantVersionToWire));
  });

  return router;
}
