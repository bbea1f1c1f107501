/**
 * The code that tests run in processes of their own (`src/`, `tests/support/`), compiled once per
 * test run to plain JavaScript in a folder of the run, laid out as in the repository (other
 * files copied, `package.json` and `node_modules` linked), so that relative paths, `.js` import
 * specifiers and `import.meta.url` resolve as they do under tsx.
 *
 * Why: with tsx's loader every module a process imports goes through loader hooks on another
 * thread, which more than doubles the start of each process (about 3.5 s of CPU instead of 1.3 s
 * for the terminal chat); the suite starts some twenty of them on two cores. The compiler is
 * esbuild, file by file, as tsx runs the code (`npm run dev`); the project compiles with
 * `isolatedModules`, so file by file is exact. (`npm start` runs tsc's build in dist/, which
 * tests/release/compiled-package.int.test.ts checks on its own.) TypeScript's own `transpileModule`
 * did the same in some 5 s (more on a busy machine) before any test could start; esbuild takes a
 * fraction of a second. `spawnTs` falls back to tsx for anything not compiled here.
 */
import { transform } from "esbuild";
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { REPO_ROOT } from "./test-run.js";

/** The folders of the repository whose files processes run. */
const COMPILED_FOLDERS = ["src", "tests/support"];

/** As tsconfig.json: ES2022 (so class fields are defined as the language defines them), imports kept as written. */
const TSCONFIG = { compilerOptions: { target: "ES2022", useDefineForClassFields: true, verbatimModuleSyntax: true } } as const;

/** Compiles into `outDir` (made here); resolves with it. */
export async function compileForProcesses(outDir: string): Promise<string> {
  const writes: Array<Promise<void>> = [];
  for (const folder of COMPILED_FOLDERS) {
    for (const file of filesUnder(join(REPO_ROOT, folder))) {
      const relativePath = file.slice(REPO_ROOT.length);
      const target = join(outDir, relativePath);
      mkdirSync(dirname(target), { recursive: true });
      if (file.endsWith(".ts") && !file.endsWith(".d.ts")) {
        writes.push(
          transform(readFileSync(file, "utf8"), { loader: "ts", format: "esm", target: "es2022", sourcefile: file, tsconfigRaw: TSCONFIG }).then(({ code }) =>
            writeFileSync(target.replace(/\.ts$/, ".js"), code),
          ),
        );
      } else {
        copyFileSync(file, target);
      }
    }
  }
  await Promise.all(writes);
  symlinkSync(join(REPO_ROOT, "node_modules"), join(outDir, "node_modules"), "dir");
  symlinkSync(join(REPO_ROOT, "package.json"), join(outDir, "package.json"), "file");
  return outDir;
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}
