/**
 * The official server's e2e tests of assistants (langgraphjs `libs/langgraph-api/tests/api.test.mts`,
 * `describe("assistants")`), with the same substance, adapted to this server: its one graph
 * `agent` (the official tests use several graphs, and one whose config comes from the
 * environment), its JSON `{"detail"}` errors, and the stub model.
 */
import type { Client } from "@langchain/langgraph-sdk";
import { describe, expect, it } from "vitest";
import { ASSISTANT_ID } from "../../src/server/assistants.js";
import { testBackends } from "../support/server.js";
import { useStubAndServer } from "../support/use-server.js";

/** The SDK's error for a 404 from this server about an assistant. */
const ASSISTANT_NOT_FOUND = /HTTP 404: .*Assistant .*not found/;

describe.each(await testBackends())("official assistants tests on %s", (backend) => {
  const fixture = useStubAndServer(backend);
  const client = (): Client => fixture.server.client;

  it("create read update delete", async () => {
    const graphId = "agent";
    const config = { configurable: { model_name: "gpt" } };

    let res = await client().assistants.create({ graphId, config, description: "foo" });
    expect(res).toMatchObject({ graph_id: graphId, config, description: "foo" });

    const metadata = { name: "woof" };
    await client().assistants.update(res.assistant_id, { graphId, metadata, description: "bar" });

    res = await client().assistants.get(res.assistant_id);
    expect(res).toMatchObject({ graph_id: graphId, config, metadata, description: "bar" });

    await client().assistants.delete(res.assistant_id);
    await expect(client().assistants.get(res.assistant_id)).rejects.toThrow(ASSISTANT_NOT_FOUND);
  });

  it("delete assistant and threads", async () => {
    const config = { configurable: { model_name: "gpt" } };
    const assistant = await client().assistants.create({ graphId: "agent", config, description: "foo" });
    const assistantId = assistant.assistant_id;

    const thread = await client().threads.create({ metadata: { name: "test_thread", assistant_id: assistantId } });
    const threadId = thread.thread_id;

    await client().assistants.delete(assistantId, { deleteThreads: true });
    await expect(client().assistants.get(assistantId)).rejects.toThrow(ASSISTANT_NOT_FOUND);
    await expect(client().threads.get(threadId)).rejects.toThrow(`HTTP 404: {"detail":"Thread ${threadId} not found"}`);
  });

  it("schemas", async () => {
    const config = { configurable: { model: "openai" } };
    let res = await client().assistants.create({ graphId: "agent", config });
    expect(res).toMatchObject({ graph_id: "agent", config });

    res = await client().assistants.get(res.assistant_id);
    expect(res).toMatchObject({ graph_id: "agent", config });

    // This graph: trim, then the model, which may call the search tool, which goes back through trim.
    const graph = await client().assistants.getGraph(res.assistant_id);
    expect(graph).toMatchObject({
      nodes: expect.arrayContaining([
        expect.objectContaining({ id: "__start__", type: "schema" }),
        expect.objectContaining({ id: "model", type: "runnable" }),
        expect.objectContaining({ id: "tools", type: "runnable" }),
        expect.objectContaining({ id: "__end__", type: "schema" }),
      ]),
      edges: expect.arrayContaining([
        expect.objectContaining({ source: "__start__", target: "trim" }),
        expect.objectContaining({ source: "trim", target: "model" }),
        expect.objectContaining({ source: "model", target: "tools", conditional: true }),
        expect.objectContaining({ source: "tools", target: "trim" }),
        expect.objectContaining({ source: "model", target: "__end__" }),
      ]),
    });

    const schemas = await client().assistants.getSchemas(res.assistant_id);
    expect(schemas.input_schema).not.toBe(null);
    expect(schemas.output_schema).not.toBe(null);
    expect(schemas.config_schema).toMatchObject({ type: "object", properties: { system_prompt: { type: "string" } } });
    expect(schemas.state_schema).toMatchObject({ type: "object", properties: { messages: { type: "array" } } });

    await client().assistants.delete(res.assistant_id);
    await expect(client().assistants.get(res.assistant_id)).rejects.toThrow(ASSISTANT_NOT_FOUND);
  });

  it("list assistants", async () => {
    let search = await client().assistants.search();
    expect(search.length).toBeGreaterThanOrEqual(1);

    const create = await client().assistants.create({ graphId: "agent" });
    search = await client().assistants.search();
    expect(search.length).toBeGreaterThanOrEqual(2);

    search = await client().assistants.search({ graphId: "agent" });
    expect(search.length).toBeGreaterThanOrEqual(2);
    expect(search.every((item) => item.graph_id === "agent")).toBe(true);

    search = await client().assistants.search({ metadata: { created_by: "system" } });
    expect(search.length).toBeGreaterThanOrEqual(1);
    expect(search.every((item) => item.assistant_id !== create.assistant_id)).toBe(true);

    // The official server finds its graph `simple_runtime` by name; here an assistant of that name.
    await client().assistants.create({ graphId: "agent", name: "simple_runtime" });
    for (const part of ["SIMPLE_runtime", "SIMPLE_", "_runtime", "PLE_run"]) {
      search = await client().assistants.search({ name: part });
      expect(search.length).toEqual(1);
      expect(search[0]!.name.toLowerCase().includes(part.toLowerCase())).toBe(true);
    }
  });

  it("count assistants", async () => {
    const before = await client().assistants.count();
    // The system assistant at least, as the official server has one per graph.
    expect(before).toBeGreaterThanOrEqual(1);
    await client().assistants.create({ graphId: "agent" });
    expect(await client().assistants.count()).toBe(before + 1);
    expect(await client().assistants.count()).toBe((await client().assistants.search({ limit: 1000 })).length);
  });

  it("get assistant versions", async () => {
    const assistant = await client().assistants.create({ graphId: "agent" });

    // (1) initial version
    expect(await client().assistants.getVersions(assistant.assistant_id)).toMatchObject([{ version: 1 }]);

    // (2) update and create a new version
    await client().assistants.update(assistant.assistant_id, { config: { configurable: { foo: "bar" } } });
    expect(await client().assistants.getVersions(assistant.assistant_id)).toMatchObject([{ version: 2, config: { configurable: { foo: "bar" } } }, { version: 1 }]);

    // limit and offset, newest first
    expect(await client().assistants.getVersions(assistant.assistant_id, { limit: 1 })).toMatchObject([{ version: 2 }]);
    expect(await client().assistants.getVersions(assistant.assistant_id, { offset: 1 })).toMatchObject([{ version: 1 }]);

    // (3) a version with metadata
    await client().assistants.update(assistant.assistant_id, { metadata: { foo: "baz" } });
    expect(await client().assistants.getVersions(assistant.assistant_id, { metadata: { foo: "baz" } })).toMatchObject([{ version: 3 }]);

    // (4) a no-op update is a version too
    await client().assistants.update(assistant.assistant_id, {});
    expect(await client().assistants.getVersions(assistant.assistant_id)).toMatchObject([{ version: 4 }, { version: 3 }, { version: 2 }, { version: 1 }]);

    await client().assistants.delete(assistant.assistant_id);
    await expect(client().assistants.getVersions(assistant.assistant_id)).rejects.toThrow("HTTP 404");
  });

  it("set latest version", async () => {
    const created = await client().assistants.create({ graphId: "agent" });
    const updated = await client().assistants.update(created.assistant_id, {});
    expect(updated.version).toBe(2);

    const changed = await client().assistants.setLatest(created.assistant_id, 1);
    expect(changed.version).toBe(1);

    const updatedAgain = await client().assistants.update(created.assistant_id, {});
    expect(updatedAgain.version).toBe(3);
    await expect(client().assistants.setLatest(created.assistant_id, 4)).rejects.toThrow();
  });

  it("system assistant config", async () => {
    // The official server takes the system assistant's config from LANGGRAPH_CONFIG; this one has
    // none to take, so the system assistant runs with the server's settings.
    const search = await client().assistants.search({ graphId: "agent", metadata: { created_by: "system" } });
    expect(search.length).toBe(1);
    expect(search[0]).toMatchObject({ assistant_id: ASSISTANT_ID, config: {}, context: {} });
  });

  it("assistant name", async () => {
    let search = await client().assistants.search({ graphId: "agent", metadata: { created_by: "system" } });
    expect(search.length).toBe(1);
    expect(search[0]!.name).toBe("agent");

    const assistant = await client().assistants.create({ graphId: "agent", name: "woof" });
    expect(assistant.name).toBe("woof");

    search = (await client().assistants.search({ graphId: "agent", limit: 100 })).filter((item) => item.name === "woof");
    expect(search.length).toBe(1);
    expect(search[0]!.name).toBe("woof");
  });
});
