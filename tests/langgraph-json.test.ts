import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "./support/fixtures.js";
import { REPO_ROOT } from "./support/spawn.js";

const manifest = JSON.parse(readFileSync(join(REPO_ROOT, "langgraph.json"), "utf8")) as {
  graphs: Record<string, string>;
  node_version: string;
};
const dataDir = makeTempDir();
afterAll(() => removeDir(dataDir));

describe("langgraph.json", () => {
  it("declares graph `agent` for Node 20", () => {
    expect(Object.keys(manifest.graphs)).toEqual(["agent"]);
    expect(manifest.node_version).toBe("20");
  });

  it.each(Object.entries(manifest.graphs))("%s points at a file that exports a compiled graph", async (_id, target) => {
    const [file, exportName] = target.split(":") as [string, string];
    const path = join(REPO_ROOT, file);
    expect(existsSync(path)).toBe(true);
    // The module reads its config when imported; keep its database out of the repository.
    process.env.DATA_DIR = dataDir;
    const module = (await import(path)) as Record<string, { getGraph: () => { nodes: Record<string, unknown> } }>;
    const graph = module[exportName];
    expect(graph).toBeDefined();
    expect(Object.keys(graph!.getGraph().nodes)).toEqual(["__start__", "trim", "model", "__end__"]);
    expect(existsSync(join(dataDir, "stateful-agent.sqlite"))).toBe(true);
  });
});
