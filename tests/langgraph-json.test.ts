/**
 * langgraph.json, as `langgraph dev` (@langchain/langgraph-cli) reads it: every path it names
 * resolves, and the graph export is what the dev server's loader accepts. The dev server then
 * replaces the graph's checkpointer and store with its own; the graph must still run after that.
 * The CLI itself is not needed (nor installed) to run this.
 */
import { HumanMessage } from "@langchain/core/messages";
import { MemorySaver } from "@langchain/langgraph";
import { InMemoryStore } from "@langchain/langgraph-checkpoint";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { memoryWritesSettled } from "../src/graph/agent.js";
import { DEFAULT_USER, memoryNamespace } from "../src/graph/long-term-memory.js";
import { makeTempDir, removeDir } from "./support/fixtures.js";
import { type OpenAiStub, isExtractionRequest, startOpenAiStub } from "./support/openai-stub.js";
import { REPO_ROOT } from "./support/spawn.js";

interface Manifest {
  node_version: string;
  graphs: Record<string, string>;
  env?: string;
  dependencies?: string[];
}
const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "langgraph.json"), "utf8")) as Manifest;
const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { engines: { node: string } };

/** What the dev server's loader (langgraph-api `resolveGraph`) checks an export with. */
const isCompiledGraph = (value: unknown): value is CompiledLike =>
  typeof value === "object" && value !== null && "builder" in value && typeof (value as { builder: unknown }).builder === "object";
interface CompiledLike {
  checkpointer: unknown;
  store: unknown;
  getGraph(): { nodes: Record<string, unknown>; edges: { source: string; target: string }[] };
  getGraphAsync(options?: { xray?: boolean | number }): Promise<{ nodes: Record<string, unknown> }>;
  invoke(input: unknown, config: unknown): Promise<{ messages: { content: unknown }[] }>;
}

let stub: OpenAiStub;
const dataDir = makeTempDir();
beforeAll(async () => {
  stub = await startOpenAiStub();
});
afterAll(async () => {
  // Test files share a process (see vitest.config.ts): the next ones must not see this test's variables.
  vi.unstubAllEnvs();
  await stub.close();
  removeDir(dataDir);
});

describe("langgraph.json", () => {
  it("declares graph `agent` for the Node version package.json requires", () => {
    expect(Object.keys(manifest.graphs)).toEqual(["agent"]);
    expect(manifest.node_version).toBe("20");
    expect(packageJson.engines.node).toBe(`>=${manifest.node_version}`);
  });

  it("names an env file that .env.example documents and git ignores (the CLI runs without it)", () => {
    expect(manifest.env).toBe(".env");
    expect(existsSync(join(REPO_ROOT, `${manifest.env}.example`))).toBe(true);
    const ignored = readFileSync(join(REPO_ROOT, ".gitignore"), "utf8").split("\n");
    expect(ignored).toContain(manifest.env);
    // The dev server keeps its threads here, and adds it to .gitignore itself when it is missing.
    expect(ignored).toContain(".langgraph_api");
  });

  it("lists dependencies that are package folders", () => {
    for (const dependency of manifest.dependencies ?? []) {
      expect(statSync(join(REPO_ROOT, dependency)).isDirectory()).toBe(true);
      expect(existsSync(join(REPO_ROOT, dependency, "package.json"))).toBe(true);
    }
  });

  it.each(Object.entries(manifest.graphs))("%s points at a file that exports a compiled graph, which runs on the dev server's checkpointer", async (_id, target) => {
    const [file, exportName] = target.split(":") as [string, string | undefined];
    const path = join(REPO_ROOT, file);
    expect(existsSync(path)).toBe(true);
    // The module reads its config when imported, as it does under `langgraph dev`: the model is
    // the stub, and its database stays out of the repository.
    for (const [name, value] of Object.entries({ DATA_DIR: dataDir, OPENAI_BASE_URL: stub.baseUrl, OPENAI_API_KEY: "test-key", MODEL_MAX_RETRIES: "0" })) vi.stubEnv(name, value);
    const module = (await import(path)) as Record<string, unknown>;
    const graph = module[exportName ?? "default"];
    expect(isCompiledGraph(graph)).toBe(true);
    if (!isCompiledGraph(graph)) return;

    const drawable = graph.getGraph();
    expect(Object.keys(drawable.nodes)).toEqual(["__start__", "trim", "summarize", "model", "tools", "__end__"]);
    expect(drawable.edges.map((edge) => `${edge.source} -> ${edge.target}`).sort()).toEqual([
      "__start__ -> trim",
      "model -> __end__",
      "model -> tools",
      "summarize -> model",
      "tools -> trim",
      "trim -> model",
      "trim -> summarize",
    ]);
    expect(Object.keys((await graph.getGraphAsync({ xray: true })).nodes)).toHaveLength(6);
    expect(existsSync(join(dataDir, "stateful-agent.sqlite"))).toBe(true);

    // What the dev server does before every run (langgraph-api `getGraph`): its own savers.
    graph.checkpointer = new MemorySaver();
    const store = new InMemoryStore();
    graph.store = store;
    const config = { configurable: { thread_id: crypto.randomUUID() } };
    await graph.invoke({ messages: [new HumanMessage("My name is Ada")] }, config);
    const result = await graph.invoke({ messages: [new HumanMessage("What is my name?")] }, config);
    expect(result.messages.map((message) => message.content)).toEqual(["My name is Ada", "Nice to meet you, Ada!", "What is my name?", "Your name is Ada."]);
    // The dev server's store gives the graph long-term memory: the name was kept for the user.
    await memoryWritesSettled(graph);
    expect(stub.requests.filter((request) => !isExtractionRequest(request.body))).toHaveLength(2);
    expect(stub.requests.filter((request) => isExtractionRequest(request.body))).toHaveLength(1);
    expect((await store.get(memoryNamespace(DEFAULT_USER), "name"))?.value).toEqual({ text: "The user's name is Ada." });
  });
});
