/**
 * The compiled release: `scripts/build.mjs` (`npm run build`, `prepare`) builds the package into
 * a temporary `node_modules/stateful-agent` (the repository's own dist/ is never touched, so two
 * runs of the suite do not race), and then, with plain Node and no TypeScript loader, a consumer's
 * `.mjs` imports "stateful-agent" and holds a conversation that remembers, a consumer's `.ts`
 * type-checks against the shipped declarations, and the compiled server (`npm start`'s
 * `dist/main.js`) serves the API, the web page with its libraries, the API reference and PDFs:
 * the files the code loads beside itself were copied.
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makePdf, textPage } from "../support/pdf.js";
import { startServerProcess } from "../support/server-process.js";
import { REPO_ROOT, finished, spawnNode } from "../support/spawn.js";
import { useProcessFixture } from "../support/use-process-fixture.js";
import { makeTempDir, removeDir } from "../support/fixtures.js";

const fixture = useProcessFixture({ dataDir: "test" });

/** A bound for the build (tsc over all of src/), generous for a busy machine; within the hook's timeout. */
const BUILD_WAIT_MS = 240_000;
const packageJson = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string };

/** Every file under `dir`, relative to it. */
function filesUnder(dir: string, root = dir): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path, root) : [relative(root, path)];
  });
}

let projectDir: string;
let packageDir: string;

beforeAll(async () => {
  // A consumer's project: the package installed in its node_modules, as `npm install` puts it.
  projectDir = makeTempDir();
  packageDir = join(projectDir, "node_modules", "stateful-agent");
  mkdirSync(packageDir, { recursive: true });
  const build = await finished(spawnNode([join(REPO_ROOT, "scripts", "build.mjs"), "--out-dir", join(packageDir, "dist")], {}, projectDir), BUILD_WAIT_MS);
  expect(build.code, `${build.stdout}\n${build.stderr}`).toBe(0);
  copyFileSync(join(REPO_ROOT, "package.json"), join(packageDir, "package.json"));
  // The package's dependencies, where npm would put them for it.
  symlinkSync(join(REPO_ROOT, "node_modules"), join(packageDir, "node_modules"), "dir");
});
afterAll(() => removeDir(projectDir));

describe("the compiled package", () => {
  it("holds JavaScript, declarations and every file of src/ the code loads as it is", () => {
    const dist = join(packageDir, "dist");
    for (const file of ["index.js", "index.d.ts", "main.js", "cli/chat.js"]) expect(existsSync(join(dist, file)), file).toBe(true);
    const built = new Set(filesUnder(dist));
    const assets = filesUnder(join(REPO_ROOT, "src")).filter((file) => !file.endsWith(".ts"));
    expect(assets).toEqual(expect.arrayContaining(["web/index.html", "server/openapi/docs-init.js", "retrieval/document-worker.mjs"]));
    for (const asset of assets) expect(built.has(asset), asset).toBe(true);
    // Nothing to run through a TypeScript loader.
    expect([...built].filter((file) => file.endsWith(".ts") && !file.endsWith(".d.ts"))).toEqual([]);
  });

  it('runs under plain Node: a consumer\'s script imports "stateful-agent" and the second turn remembers the first', async () => {
    const script = join(projectDir, "two-turns.mjs");
    writeFileSync(
      script,
      `import { createAgentFromConfig, loadConfig } from "stateful-agent";

const { agent, storage } = createAgentFromConfig(loadConfig());
const config = { configurable: { thread_id: "release-check" } };
for (const text of ["Hi, my name is Ada", "What is my name?"]) {
  const state = await agent.invoke({ messages: [{ role: "user", content: text }] }, config);
  console.log(state.messages.at(-1).content);
}
await storage.close();
`,
    );
    const run = await finished(spawnNode([script], fixture.env(), projectDir));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split("\n")).toEqual(["Nice to meet you, Ada!", "Your name is Ada."]);
    // The model was sent the first turn again with the second: the thread's memory, from the compiled code.
    const second = fixture.stub.requests.at(-1)!.body.messages.filter((message) => message.role !== "system");
    expect(second.map((message) => [message.role, message.content])).toEqual([
      ["user", "Hi, my name is Ada"],
      ["assistant", "Nice to meet you, Ada!"],
      ["user", "What is my name?"],
    ]);
  });

  it("type-checks a TypeScript consumer against the shipped declarations", async () => {
    const consumer = join(projectDir, "consumer");
    mkdirSync(consumer);
    writeFileSync(
      join(consumer, "consumer.ts"),
      `import { type Config, createAgent, loadConfig } from "stateful-agent";

const config: Config = loadConfig({ MODEL: "gpt-4o-mini" });
const port: number = config.PORT;
// @ts-expect-error the budget is a number: the package's types are real, not \`any\`
createAgent({ contextTokens: "many" });
export { port };
`,
    );
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { module: "NodeNext", moduleResolution: "NodeNext", target: "ES2022", strict: true, noEmit: true, skipLibCheck: true, types: ["node"], typeRoots: [join(REPO_ROOT, "node_modules", "@types")] },
        files: ["consumer.ts"],
      }),
    );
    // The project's consumer is an ES module, as the package is.
    writeFileSync(join(consumer, "package.json"), JSON.stringify({ type: "module" }));
    const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
    const check = await finished(spawnNode([tsc, "-p", join(consumer, "tsconfig.json")], {}, consumer), BUILD_WAIT_MS);
    expect(check.code, `${check.stdout}\n${check.stderr}`).toBe(0);
  });

  it("serves from dist/main.js: the API, the web page and its libraries, the API reference, and PDFs", async () => {
    const server = await startServerProcess(fixture.env(), projectDir, { script: join(packageDir, "dist", "main.js") });
    expect(await (await fetch(`${server.baseUrl}/ok`)).json()).toEqual({ ok: true });
    // The version is read from package.json beside dist/.
    expect(await (await fetch(`${server.baseUrl}/info`)).json()).toMatchObject({ version: packageJson.version });

    const page = await fetch(`${server.baseUrl}/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<script type="module" src="/web/app.js">');
    for (const path of ["/web/app.js", "/web/chat.css", "/web/vendor/marked.js", "/web/vendor/highlight/core.js", "/docs/assets/init.js"]) {
      const asset = await fetch(`${server.baseUrl}${path}`);
      expect(asset.status, path).toBe(200);
    }

    // A PDF is read by document-worker.mjs, a process started from beside the compiled code.
    const created = await fetch(`${server.baseUrl}/collections`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Manuals" }) });
    const { collection_id: collectionId } = (await created.json()) as { collection_id: string };
    const upload = await fetch(`${server.baseUrl}/collections/${collectionId}/documents`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ source: "warranty.pdf", content_base64: makePdf([textPage(["The warranty lasts 24 months."])]).toString("base64") }),
    });
    expect(upload.status, await upload.clone().text()).toBe(201);
    const search = await fetch(`${server.baseUrl}/collections/${collectionId}/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: "warranty", k: 1 }) });
    expect(((await search.json()) as { results: Array<{ text: string }> }).results.map((result) => result.text)).toEqual(["The warranty lasts 24 months."]);

    server.child.kill("SIGTERM");
    expect(await server.exited).toBe(0);
  });
});
