/**
 * The import rules `npm test` enforces (`.dependency-cruiser.cjs`, run by `npm run lint:deps`):
 * on a copy of src/ with backward imports and a circle put in, dependency-cruiser names each one
 * under its rule, and on the untouched copy it finds nothing. Guards the rules against going blind
 * (a path pattern that no longer matches, type-only imports no longer counted).
 */
import { cruise, type ICruiseResult, type IViolation } from "dependency-cruiser";
import extractDepcruiseConfig from "dependency-cruiser/config-utl/extract-depcruise-config";
import extractTSConfig from "dependency-cruiser/config-utl/extract-ts-config";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeTempDir, removeDir } from "./support/fixtures.js";
import { REPO_ROOT } from "./support/spawn.js";

/** A copy of src/ and tsconfig.json in a temporary folder. */
function copySources(): string {
  const dir = makeTempDir();
  cpSync(join(REPO_ROOT, "src"), join(dir, "src"), { recursive: true });
  cpSync(join(REPO_ROOT, "tsconfig.json"), join(dir, "tsconfig.json"));
  return dir;
}

/** Replaces `from` in a copied file, failing loudly when the file no longer has it. */
function edit(dir: string, file: string, from: string, to: string): void {
  const path = join(dir, file);
  const text = readFileSync(path, "utf8");
  if (!text.includes(from)) throw new Error(`${file} no longer contains ${JSON.stringify(from)}; update this test`);
  writeFileSync(path, text.replace(from, to));
}

/** Puts an import at the top of a copied file. */
function prepend(dir: string, file: string, line: string): void {
  const path = join(dir, file);
  writeFileSync(path, `${line}\n${readFileSync(path, "utf8")}`);
}

/** Violations of the project's rules in `dir`'s src/. */
async function violations(dir: string): Promise<Array<{ rule: string; from: string; to: string }>> {
  const config = await extractDepcruiseConfig(join(REPO_ROOT, ".dependency-cruiser.cjs"));
  const result = await cruise(
    ["src"],
    { ...config.options, ruleSet: { forbidden: config.forbidden }, baseDir: dir, validate: true },
    undefined,
    { tsConfig: extractTSConfig(join(dir, "tsconfig.json")) },
  );
  const found = (result.output as ICruiseResult).summary.violations;
  return found.map((violation: IViolation) => ({ rule: violation.rule.name, from: violation.from, to: violation.to }));
}

describe("import rules", () => {
  let clean: string;
  let broken: string;
  beforeAll(() => {
    clean = copySources();
    broken = copySources();
    // A route takes AppDeps from create-app again, type-only: the circle issue 17 removed.
    edit(broken, "src/server/routes/threads.ts", 'from "../app-deps.js"', 'from "../create-app.js"');
    // Graph logic naming a backend, a type from the server, and main.
    prepend(broken, "src/graph/trim-node.ts", 'import type { SqliteCheckpointer } from "../storage/sqlite/checkpointer.js";');
    prepend(broken, "src/graph/state.ts", 'import type { AppDeps } from "../server/app-deps.js";');
    prepend(broken, "src/server/auth.ts", 'import "../main.js";');
    // The server naming a backend, one backend reaching into the other, and a storage type reaching up.
    prepend(broken, "src/server/cors.ts", 'import type { PostgresDatabase } from "../storage/postgres/database.js";');
    prepend(broken, "src/storage/postgres/llm-cache.ts", 'import type { SqliteDatabase } from "../sqlite/database.js";');
    prepend(broken, "src/storage/threads.ts", 'import type { SqliteDatabase } from "./sqlite/database.js";');
  });
  afterAll(() => {
    removeDir(clean);
    removeDir(broken);
  });

  it("finds nothing in src/ as it is", async () => {
    expect(await violations(clean)).toEqual([]);
  });

  it("names a type-only import circle and each backward import under its rule", async () => {
    const found = await violations(broken);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ rule: "no-circular", to: expect.stringMatching(/^src\/server\/(create-app|routes\/threads)\.ts$/) }),
        { rule: "domain-not-to-backends-or-above", from: "src/graph/trim-node.ts", to: "src/storage/sqlite/checkpointer.ts" },
        { rule: "server-cli-name-no-backend", from: "src/server/cors.ts", to: "src/storage/postgres/database.ts" },
        { rule: "backends-not-each-other", from: "src/storage/postgres/llm-cache.ts", to: "src/storage/sqlite/database.ts" },
        { rule: "storage-types-import-no-implementation", from: "src/storage/threads.ts", to: "src/storage/sqlite/database.ts" },
        { rule: "graph-retrieval-not-to-server-cli", from: "src/graph/state.ts", to: "src/server/app-deps.ts" },
        { rule: "no-import-of-main", from: "src/server/auth.ts", to: "src/main.ts" },
      ]),
    );
  });
});
