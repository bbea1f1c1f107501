import { Router } from "express";
import { AppError, NotFoundError } from "../../errors.js";
import type { AppDeps } from "../app-deps.js";
import { ASSISTANT_ID, GRAPH_ID, assistantToWire, graphSchemas, resolveAssistantId } from "../assistants.js";
import { AssistantCount, AssistantLatestVersion, AssistantSearch, AssistantVersions, GraphQuery, SubgraphsQuery, parseInput } from "../schemas.js";

/** Creating, changing or deleting assistants is not offered: the graph has one system assistant. */
class AssistantsReadOnlyError extends AppError {
  override readonly status = 405;
}

const matches = (filter: { graph_id?: string; name?: string; metadata?: Record<string, unknown> }) => {
  const assistant = assistantToWire();
  if (filter.graph_id !== undefined && filter.graph_id !== GRAPH_ID) return false;
  if (filter.name !== undefined && !assistant.name.toLowerCase().includes(filter.name.toLowerCase())) return false;
  const metadata: Record<string, unknown> = assistant.metadata;
  return Object.entries(filter.metadata ?? {}).every(([key, value]) => JSON.stringify(metadata[key]) === JSON.stringify(value));
};

/** The system assistant of graph `agent`: search, count, get, graph, schemas, subgraphs, versions, latest. */
export function assistantsRouter(deps: AppDeps): Router {
  const router = Router();

  router.post("/assistants/search", (request, response) => {
    const body = parseInput(AssistantSearch, request.body);
    const found = matches(body) && body.offset === 0 ? [assistantToWire()] : [];
    const items = found.map((item) =>
      body.select ? Object.fromEntries(Object.entries(item).filter(([key]) => body.select?.includes(key))) : item,
    );
    response.setHeader("X-Pagination-Total", String(body.offset + items.length));
    response.json(items);
  });

  router.post("/assistants/count", (request, response) => {
    response.json(matches(parseInput(AssistantCount, request.body)) ? 1 : 0);
  });

  router.get("/assistants/:assistant_id", (request, response) => {
    resolveAssistantId(request.params.assistant_id);
    response.json(assistantToWire());
  });

  router.get("/assistants/:assistant_id/graph", async (request, response) => {
    resolveAssistantId(request.params.assistant_id);
    const { xray } = parseInput(GraphQuery, request.query, "query");
    const drawable = await deps.agent.getGraphAsync({ xray: xray === false || xray === 0 ? undefined : xray });
    response.json(drawable.toJSON());
  });

  router.get("/assistants/:assistant_id/schemas", (request, response) => {
    resolveAssistantId(request.params.assistant_id);
    response.json(graphSchemas(deps.agent));
  });

  router.get(["/assistants/:assistant_id/subgraphs", "/assistants/:assistant_id/subgraphs/:namespace"], (request, response) => {
    resolveAssistantId(request.params.assistant_id as string);
    // Clients may ask ?recurse=true (the SDK, Studio); the agent has no subgraphs at any depth.
    parseInput(SubgraphsQuery, request.query, "query");
    response.json({});
  });

  // Versions cannot be made, so version 1 is always the latest; setting it again changes nothing.
  router.post("/assistants/:assistant_id/latest", (request, response) => {
    resolveAssistantId(request.params.assistant_id);
    const { version } = parseInput(AssistantLatestVersion, request.body);
    if (version !== 1) throw new NotFoundError(`Version ${version} of assistant ${ASSISTANT_ID} not found; it has only version 1`);
    response.json(assistantToWire());
  });

  router.post("/assistants/:assistant_id/versions", (request, response) => {
    resolveAssistantId(request.params.assistant_id);
    const body = parseInput(AssistantVersions, request.body);
    response.json(body.offset === 0 ? [{ ...assistantToWire(), version: 1 }] : []);
  });

  const readOnly = () => {
    throw new AssistantsReadOnlyError(
      `This server serves one system assistant per graph (${GRAPH_ID}: ${ASSISTANT_ID}); assistants cannot be created, changed or deleted`,
    );
  };
  router.post("/assistants", readOnly);
  router.patch("/assistants/:assistant_id", readOnly);
  router.delete("/assistants/:assistant_id", readOnly);

  return router;
}
