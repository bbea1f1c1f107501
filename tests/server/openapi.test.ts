/**
 * /openapi.json describes the server as it is: every route the app registers is in the document
 * and every operation of the document is a route, each with a request and response schema; the
 * document is well-formed OpenAPI 3.1; the server's answers match its response schemas; and /docs
 * renders it from same-origin files only, open without a key.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/server/create-app.js";
import { type OpenAiStub, startOpenAiStub } from "../support/openai-stub.js";
import { type TestServer, startServer } from "../support/server.js";

const API_KEY = "alice-key-0123456789abcdef";
const HTTP_METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

type Json = Record<string, unknown>;
interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[] };
  slash: boolean;
}

/** `method path` of every route in the app's router stacks (`all` for router.all), paths as OpenAPI writes them. */
function registeredRoutes(stack: Layer[]): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
      const methods = Object.keys(layer.route.methods).filter((method) => layer.route?.methods[method]);
      return paths.flatMap((path) => methods.map((method) => `${method === "_all" ? "all" : method} ${path.replace(/:(\w+)/g, "{$1}")}`));
    }
    if (!layer.handle.stack) return [];
    // A router mounted under a prefix would need the prefix added: say so rather than miss routes.
    expect(layer.slash, "routers are mounted at /").toBe(true);
    return registeredRoutes(layer.handle.stack);
  });
}

/** The value at a local `$ref` (`#/a/b`), or undefined. */
function resolve(document: Json, reference: string): Json | undefined {
  let value: unknown = document;
  for (const part of reference.slice(2).split("/")) {
    value = (value as Json | undefined)?.[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return value as Json | undefined;
}

/** Every `$ref` in the document. */
function references(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(references);
  if (typeof value !== "object" || value === null) return [];
  return Object.entries(value).flatMap(([key, item]) => (key === "$ref" && typeof item === "string" ? [item] : references(item)));
}

const isType = (value: unknown, type: string) =>
  type === "null" ? value === null
  : type === "array" ? Array.isArray(value)
  : type === "object" ? typeof value === "object" && value !== null && !Array.isArray(value)
  : type === "integer" ? Number.isInteger(value)
  : typeof value === type;

/**
 * Where `value` departs from `schema`: types, enums, required keys, and keys the schema does not
 * document (strict: a schema with `properties` and no `additionalProperties` lists every key).
 */
function violations(document: Json, schema: Json, value: unknown, at = "body"): string[] {
  if (typeof schema.$ref === "string") return violations(document, resolve(document, schema.$ref) ?? {}, value, at);
  const found: string[] = [];
  if (Array.isArray(schema.anyOf) && !schema.anyOf.some((branch: Json) => violations(document, branch, value, at).length === 0)) {
    found.push(`${at}: ${JSON.stringify(value)?.slice(0, 80)} matches no branch of anyOf`);
  }
  for (const part of (schema.allOf ?? []) as Json[]) found.push(...violations(document, part, value, at));
  if (schema.const !== undefined && value !== schema.const) found.push(`${at}: not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) found.push(`${at}: ${JSON.stringify(value)} not in ${schema.enum.join("|")}`);
  const types = schema.type === undefined ? [] : ([] as string[]).concat(schema.type as string);
  if (types.length > 0 && !types.some((type) => isType(value, type))) return [...found, `${at}: ${JSON.stringify(value)?.slice(0, 80)} is not ${types.join("|")}`];
  if (Array.isArray(value) && schema.items) value.forEach((item, index) => found.push(...violations(document, schema.items as Json, item, `${at}[${index}]`)));
  if (isType(value, "object") && (schema.properties || schema.additionalProperties !== undefined)) {
    const record = value as Json;
    const properties = (schema.properties ?? {}) as Record<string, Json>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in record)) found.push(`${at}.${key}: missing`);
    for (const [key, item] of Object.entries(record)) {
      const property = properties[key] ?? (typeof schema.additionalProperties === "object" ? (schema.additionalProperties as Json) : undefined);
      if (property) found.push(...violations(document, property, item, `${at}.${key}`));
      else if (schema.additionalProperties === undefined || schema.additionalProperties === false) found.push(`${at}.${key}: not in the schema`);
    }
  }
  return found;
}

describe("the OpenAPI document and /docs", () => {
  let stub: OpenAiStub;
  let server: TestServer;
  let document: Json;
  let paths: Record<string, Record<string, Json>>;
  const withKey = { "x-api-key": API_KEY };
  const operations = () =>
    Object.entries(paths).flatMap(([path, item]) => Object.keys(item).filter((method) => HTTP_METHODS.includes(method)).map((method) => ({ path, method, operation: item[method]! })));

  beforeAll(async () => {
    stub = await startOpenAiStub();
    server = await startServer(stub, { env: { API_KEYS: `alice:${API_KEY}` }, apiKey: API_KEY });
    const response = await server.request("/openapi.json", { headers: withKey });
    expect(response.status).toBe(200);
    document = response.body as Json;
    paths = document.paths as typeof paths;
  });
  afterAll(async () => {
    await server?.close();
    await stub?.close();
  });

  it("lists every route the server answers, and no operation the server does not answer", () => {
    const app = createApp(server.deps) as unknown as { router: { stack: Layer[] } };
    const routes = new Set(registeredRoutes(app.router.stack));
    const documented = new Set(operations().map(({ path, method }) => `${method} ${path}`));
    expect(routes.size).toBeGreaterThan(50);

    const undocumented = [...routes].filter((route) => {
      const [method, path] = route.split(" ") as [string, string];
      return method === "all" ? Object.keys(paths[path] ?? {}).length === 0 : !documented.has(route);
    });
    expect(undocumented, "routes missing from /openapi.json").toEqual([]);

    const answered = (operation: string) => routes.has(operation) || routes.has(`all ${operation.split(" ")[1]}`);
    const unanswered = [...documented].filter((operation) => !answered(operation));
    expect(unanswered, "operations of /openapi.json that no route answers").toEqual([]);
  });

  it("gives every operation a non-empty success schema, and every body a schema", () => {
    const problems: string[] = [];
    for (const { path, method, operation } of operations()) {
      const name = `${method} ${path}`;
      const responses = operation.responses as Record<string, Json>;
      const successes = Object.entries(responses).filter(([status]) => /^2\d\d$/.test(status));
      if (successes.length === 0) problems.push(`${name}: no 2xx response`);
      for (const [status, response] of successes) {
        const content = response.content as Record<string, { schema?: Json }> | undefined;
        // 202 and 204 answer with no body (cancel, delete): that is the whole answer.
        if (status === "202" || status === "204") {
          if (content) problems.push(`${name} ${status}: a bodiless status with content`);
          continue;
        }
        const schemas = Object.values(content ?? {}).map((media) => media.schema);
        if (schemas.length === 0 || schemas.some((schema) => !schema || Object.keys(schema).length === 0)) problems.push(`${name} ${status}: empty schema`);
      }
      const body = operation.requestBody as { content?: Record<string, { schema?: Json }> } | undefined;
      if (body && !body.content?.["application/json"]?.schema) problems.push(`${name}: request body without schema`);
    }
    expect(problems).toEqual([]);
    // Request schemas come from the routes' zod schemas: what the server checks is what the document says.
    const runCreate = resolve(document, "#/components/schemas/RunCreate")!;
    expect(runCreate.required).toEqual(["assistant_id"]);
    expect((runCreate.properties as Record<string, Json>).multitask_strategy!.enum).toEqual(["reject", "enqueue", "interrupt", "rollback"]);
    expect(resolve(document, "#/components/schemas/RunBatch")).toMatchObject({ type: "array", maxItems: 100, items: { $ref: "#/components/schemas/RunCreate" } });
  });

  it("is well-formed OpenAPI 3.1: unique operation ids, declared path parameters, known tags, references that resolve", () => {
    expect(document.openapi).toMatch(/^3\.1\.\d+$/);
    expect(document.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
    const tags = new Set((document.tags as { name: string }[]).map((tag) => tag.name));
    const schemes = Object.keys((document.components as { securitySchemes: Json }).securitySchemes);
    const problems: string[] = [];
    const ids = new Set<string>();
    for (const { path, method, operation } of operations()) {
      const name = `${method} ${path}`;
      if (!path.startsWith("/")) problems.push(`${path}: does not start with /`);
      if (typeof operation.operationId !== "string" || ids.has(operation.operationId)) problems.push(`${name}: operationId missing or repeated`);
      ids.add(operation.operationId as string);
      const parameters = (operation.parameters ?? []) as Json[];
      const inPath = parameters.filter((parameter) => parameter.in === "path").map((parameter) => parameter.name);
      const templated = [...path.matchAll(/\{(\w+)\}/g)].map(([, parameter]) => parameter);
      if (JSON.stringify(inPath) !== JSON.stringify(templated)) problems.push(`${name}: path parameters ${inPath} for ${templated}`);
      for (const parameter of parameters) {
        if (!["path", "query", "header", "cookie"].includes(parameter.in as string) || !parameter.schema) problems.push(`${name}: bad parameter ${parameter.name}`);
        if (parameter.in === "path" && parameter.required !== true) problems.push(`${name}: path parameter ${parameter.name} not required`);
      }
      for (const tag of operation.tags as string[]) if (!tags.has(tag)) problems.push(`${name}: undeclared tag ${tag}`);
      for (const requirement of (operation.security ?? document.security) as Json[]) {
        for (const scheme of Object.keys(requirement)) if (!schemes.includes(scheme)) problems.push(`${name}: unknown security scheme ${scheme}`);
      }
    }
    for (const reference of references(document)) {
      if (!reference.startsWith("#/") || resolve(document, reference) === undefined) problems.push(`unresolved $ref ${reference}`);
    }
    expect(problems).toEqual([]);
    expect(references(document).length).toBeGreaterThan(100);
  });

  it("matches what the server answers, response by response", async () => {
    const thread = await server.request("/threads", { body: { metadata: { topic: "openapi" } }, headers: withKey });
    const threadId = (thread.body as { thread_id: string }).thread_id;
    const collection = await server.request("/collections", { body: { name: "notes" }, headers: withKey });
    const collectionId = (collection.body as { collection_id: string }).collection_id;
    const stored = await server.request("/store/items", { method: "PUT", body: { namespace: ["notes"], key: "ada", value: { text: "Ada" } }, headers: withKey });
    expect(stored.status).toBe(204);
    const input = { messages: [{ role: "user", content: "My name is Ada" }] };
    const calls: { method?: string; path: string; template: string; body?: unknown }[] = [
      { path: "/ok", template: "/ok" },
      { path: "/info", template: "/info" },
      { path: "/threads", template: "/threads", body: {} },
      { path: `/threads/${threadId}/runs/wait`, template: "/threads/{thread_id}/runs/wait", body: { assistant_id: "agent", input } },
      { path: `/threads/${threadId}`, template: "/threads/{thread_id}" },
      { path: `/threads/${threadId}/state`, template: "/threads/{thread_id}/state" },
      { path: `/threads/${threadId}/state`, template: "/threads/{thread_id}/state", body: { values: { messages: [{ type: "ai", content: "Noted" }] } } },
      { path: `/threads/${threadId}/history`, template: "/threads/{thread_id}/history", body: { limit: 3 } },
      { path: `/threads/${threadId}/runs`, template: "/threads/{thread_id}/runs" },
      { path: "/threads/search", template: "/threads/search", body: {} },
      { path: "/threads/count", template: "/threads/count", body: {} },
      { path: "/runs", template: "/runs", body: { assistant_id: "agent", input } },
      { path: "/assistants/agent", template: "/assistants/{assistant_id}" },
      { path: "/assistants/search", template: "/assistants/search", body: {} },
      { path: "/assistants/agent/graph", template: "/assistants/{assistant_id}/graph" },
      { path: "/assistants/agent/schemas", template: "/assistants/{assistant_id}/schemas" },
      { path: "/assistants/agent/subgraphs", template: "/assistants/{assistant_id}/subgraphs" },
      { path: `/collections/${collectionId}/documents`, template: "/collections/{collection_id}/documents", body: { source: "ada.md", content: "# Ada\nAda Lovelace wrote the first program." } },
      { path: `/collections/${collectionId}`, template: "/collections/{collection_id}" },
      { path: `/collections/${collectionId}/search`, template: "/collections/{collection_id}/search", body: { query: "first program" } },
      { path: "/store/namespaces", template: "/store/namespaces", body: {} },
      { path: "/store/items/search", template: "/store/items/search", body: {} },
      { path: "/store/items?namespace=notes&key=ada", template: "/store/items" },
      { path: "/store/items?namespace=notes&key=nobody", template: "/store/items" },
      { path: "/runs/crons/search", template: "/runs/crons/search", body: {} },
    ];
    const problems: string[] = [];
    for (const call of calls) {
      const method = call.method ?? (call.body === undefined ? "get" : "post");
      const response = await server.request(call.path, { method: method.toUpperCase(), body: call.body, headers: withKey });
      const reply = (paths[call.template]?.[method]?.responses as Record<string, Json> | undefined)?.[String(response.status)];
      const schema = (reply?.content as Record<string, { schema: Json }> | undefined)?.["application/json"]?.schema;
      if (!schema) problems.push(`${method} ${call.template} answered ${response.status}, which the document does not describe`);
      else problems.push(...violations(document, schema, response.body, `${method} ${call.template}`));
    }
    expect(problems).toEqual([]);
  });

  it("serves /docs without a key, from same-origin files only, that load; the document still needs the key", async () => {
    expect((await server.request("/openapi.json")).status).toBe(401);
    const page = await fetch(`${server.baseUrl}/docs`);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await page.text();
    // Offline, and within helmet's Content-Security-Policy: no URL elsewhere, no inline script or handler.
    expect(html).not.toMatch(/https?:|\/\/[a-z]/i);
    expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>|\son\w+=/i);
    const policy = page.headers.get("content-security-policy") ?? "";
    expect(policy).toMatch(/script-src 'self'(;|$)/);
    const urls = [...html.matchAll(/\s(?:src|href)="([^"]+)"/g)].map(([, url]) => url as string);
    for (const url of urls) expect(url, "same-origin path").toMatch(/^\/[^/]/);
    // What the page loads (scripts, stylesheets, icons); the link to /openapi.json is for a person.
    const assets = [...html.matchAll(/<(?:script|link)\s[^>]*(?:src|href)="([^"]+)"/g)].map(([, url]) => url as string);
    expect(assets).toEqual(expect.arrayContaining(["/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js", "/docs/assets/init.js"]));
    const expectedType = { css: /^text\/css/, js: /^(application|text)\/javascript/, png: /^image\/png/ };
    for (const asset of assets) {
      const response = await fetch(`${server.baseUrl}${asset}`);
      expect(response.status, asset).toBe(200);
      expect(response.headers.get("content-type"), asset).toMatch(expectedType[asset.split(".").pop() as keyof typeof expectedType]);
      const text = await response.text();
      expect(text.length, asset).toBeGreaterThan(100);
      if (asset === "/docs/assets/init.js") {
        expect(text).toContain('url: "/openapi.json"');
        expect(text).toContain("validatorUrl: null");
      }
    }
    // swagger-ui-dist's demo files load the Petstore example from the internet: not served.
    for (const file of ["index.html", "swagger-initializer.js", "../package.json"]) {
      expect((await fetch(`${server.baseUrl}/docs/assets/${file}`)).status, file).toBe(404);
    }
  });
});
