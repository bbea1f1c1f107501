/**
 * The OpenAPI 3.1 document served at /openapi.json: the operations of operations.ts, their
 * request shapes converted from the routes' own zod schemas, and the response schemas of
 * components.ts.
 */
import { z } from "zod";
import * as schemas from "../schemas.js";
import { type JsonSchema, SCHEMAS, ref } from "./components.js";
import { OPERATIONS, type Operation, type Shape, type Tag } from "./operations.js";

const TAGS: Record<Tag, string> = {
  Meta: "Health, version, this reference",
  Assistants: "The graph's assistants",
  Threads: "Conversations with durable state",
  "Thread runs": "Runs of the agent on a thread: in the background, streamed, or waited for",
  "Stateless runs": "Runs on a temporary thread",
  Crons: "Scheduled runs",
  Collections: "Documents the agent can search (retrieval)",
  Store: "The key-value store (LangGraph's BaseStore): each API key owner's namespaces are its own",
  Protocol:
    "The agent streaming protocol (`@langchain/protocol`) that `@langchain/react`'s useStream, the SDK's threads.stream and " +
    "RemoteGraph.streamEvents v3 speak: commands, and a thread's events over SSE or one WebSocket",
};

const isZod = (shape: Shape): shape is z.ZodType => "_zod" in shape;

/** Schemas of schemas.ts that other request schemas are made of: written once, referenced. */
const BUILDING_BLOCKS: z.ZodType[] = [schemas.MessageIn, schemas.StateValues, schemas.Command, schemas.CheckpointRef, schemas.RunConfig];

/**
 * The request schemas (bodies, queries and their building blocks), converted from zod under their
 * names in schemas.ts, as `components.schemas` entries that refer to each other by `$ref`.
 * `io: "input"` describes what a client sends: defaults are optional, transforms show their input.
 */
function requestSchemas(): { schemas: Record<string, JsonSchema>; nameOf: Map<z.ZodType, string> } {
  const names = new Map<unknown, string>(Object.entries(schemas).map(([name, value]) => [value, name]));
  const registry = z.registry<{ id: string }>();
  const nameOf = new Map<z.ZodType, string>();
  const register = (schema: z.ZodType) => {
    const name = names.get(schema);
    if (!name) throw new Error("A request schema of the OpenAPI document is not exported by schemas.ts");
    if (name in SCHEMAS) throw new Error(`${name} names both a request schema and a response schema`);
    if (!nameOf.has(schema)) registry.add(schema, { id: name });
    nameOf.set(schema, name);
  };
  for (const schema of BUILDING_BLOCKS) register(schema);
  for (const operation of OPERATIONS) {
    for (const shape of [operation.body, operation.query]) if (shape && isZod(shape)) register(shape);
  }
  const converted = z.toJSONSchema(registry, { io: "input", unrepresentable: "any", uri: (id) => `#/components/schemas/${id}` });
  const clean = Object.entries(converted.schemas).map(([name, { $id: _id, $schema: _dialect, ...schema }]) => [name, schema as JsonSchema]);
  return { schemas: Object.fromEntries(clean), nameOf };
}

/** Path parameters the routes validate, by name; the others are described here. */
const PATH_SCHEMAS: z.ZodObject[] = [schemas.ThreadPath, schemas.RunPath, schemas.CheckpointPath, schemas.StatelessRunPath, schemas.CollectionPath, schemas.DocumentPath];
const OTHER_PATH_PARAMETERS: Record<string, JsonSchema> = {
  assistant_id: { type: "string", description: "The assistant's id, or its graph id (`agent`)" },
  cron_id: { type: "string", format: "uuid" },
  namespace: { type: "string", description: "A subgraph namespace" },
};

function pathParameter(name: string): JsonSchema {
  const owner = PATH_SCHEMAS.find((schema) => name in schema.shape);
  const schema = owner ? inline(owner.shape[name] as z.ZodType) : OTHER_PATH_PARAMETERS[name];
  if (!schema) throw new Error(`No schema for path parameter ${name}: add it to OTHER_PATH_PARAMETERS`);
  return { name, in: "path", required: true, schema };
}

/** A schema converted on its own (path parameters: a string each, nothing to refer to). */
function inline(schema: z.ZodType): JsonSchema {
  const { $schema: _dialect, ...converted } = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  return converted;
}

/** Builds the operations' objects against the converted request schemas. */
class OperationWriter {
  constructor(private readonly requests: ReturnType<typeof requestSchemas>) {}

  /** The JSON Schema of a shape: a `$ref` to its component when it is a zod schema. */
  private schemaOf(shape: Shape): { reference: JsonSchema; resolved: JsonSchema } {
    if (!isZod(shape)) return { reference: shape, resolved: shape };
    const name = this.requests.nameOf.get(shape)!;
    return { reference: { $ref: `#/components/schemas/${name}` }, resolved: this.requests.schemas[name]! };
  }

  private parameters(operation: Operation): JsonSchema[] {
    const parameters = [...operation.path.matchAll(/\{(\w+)\}/g)].map(([, name]) => pathParameter(name as string));
    if (operation.query) {
      const { resolved } = this.schemaOf(operation.query);
      const properties = (resolved.properties ?? {}) as Record<string, JsonSchema>;
      const required = new Set((resolved.required ?? []) as string[]);
      for (const [name, schema] of Object.entries(properties)) parameters.push({ name, in: "query", required: required.has(name), schema });
    }
    if (operation.resumable) {
      parameters.push({ name: "Last-Event-ID", in: "header", required: false, schema: { type: "string" }, description: "Resume after this event" });
    }
    return parameters;
  }

  private requestBody(body: Shape): JsonSchema {
    const { reference, resolved } = this.schemaOf(body);
    // An object whose fields are all optional may be left out: the route reads a missing body as {}.
    const required = resolved.type !== "object" || ((resolved.required as string[] | undefined)?.length ?? 0) > 0;
    return { required, content: { "application/json": { schema: reference } } };
  }

  private responses(operation: Operation): JsonSchema {
    const responses: JsonSchema = {};
    for (const reply of operation.replies) {
      responses[String(reply.status)] =
        reply.media === undefined
          ? { description: reply.description }
          : { description: reply.status === 201 ? "Created" : "OK", content: { [reply.media]: { schema: reply.schema } } };
    }
    responses["4XX"] = { $ref: "#/components/responses/Error" };
    responses["5XX"] = { $ref: "#/components/responses/Error" };
    return responses;
  }

  operation(operation: Operation): JsonSchema {
    const parameters = this.parameters(operation);
    return {
      operationId: operationId(operation),
      tags: [operation.tag],
      summary: operation.summary,
      ...(parameters.length > 0 ? { parameters } : {}),
      ...(operation.body ? { requestBody: this.requestBody(operation.body) } : {}),
      responses: this.responses(operation),
      ...(operation.open ? { security: [] } : {}),
    };
  }
}

/** `post /threads/{thread_id}/runs` → `postThreadsThreadIdRuns`. */
const operationId = (operation: Operation) =>
  operation.method +
  operation.path
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((word) => word[0]!.toUpperCase() + word.slice(1))
    .join("");

let built: { version: string; document: JsonSchema } | undefined;

/** Builds the OpenAPI 3.1 document (once per version: the operations do not change at run time). */
export function openApiDocument(version: string): JsonSchema {
  if (built?.version === version) return built.document;
  const requests = requestSchemas();
  const writer = new OperationWriter(requests);
  const paths: Record<string, Record<string, JsonSchema>> = {};
  for (const operation of OPERATIONS) (paths[operation.path] ??= {})[operation.method] = writer.operation(operation);
  const document = {
    openapi: "3.1.0",
    info: {
      title: "stateful-agent",
      version,
      description:
        "LangGraph-compatible API of a chat agent with durable per-thread memory. Works with `@langchain/langgraph-sdk`. " +
        'Errors are JSON `{"detail": "..."}`. With `API_KEYS` set, every request but `/ok`, `/ready`, `/` and `/docs` needs a key (`/metrics` also takes `METRICS_TOKEN`).',
    },
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    // A key in either header; or none, when the server runs without API_KEYS.
    security: [{ ApiKey: [] }, { Bearer: [] }, {}],
    paths,
    components: {
      // Response schemas, then the request schemas of schemas.ts under their own names.
      schemas: { ...SCHEMAS, ...requests.schemas },
      responses: { Error: { description: "Error", content: { "application/json": { schema: ref("Error") } } } },
      securitySchemes: {
        ApiKey: { type: "apiKey", in: "header", name: "x-api-key" },
        Bearer: { type: "http", scheme: "bearer" },
      },
    },
  };
  built = { version, document };
  return document;
}
