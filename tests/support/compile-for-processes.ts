/**
 * The code that tests run in processes of their own (`src/`, `tests/support/`), compiled once per
 * test run to plain JavaScript in a folder of the run, laid out as in the repository (other
 * files copied, `package.json` and `node_modules` linked), so that relative paths, `.js` import
 * specifiers and `import.meta.url` resolve as they do under tsx.
 *
 * Why: with tsx's loader every module a process imports goes through loader hooks on another
 * thread, which more than doubles the start of each process (about 3.5 s of CPU instead of 1.3 s
 * for the terminal chat); the suite starts some fifty of them on two cores. The compiler is
 * TypeScript's own, file by file (the project compiles with `isolatedModules`, so this is exact);
 * `spawnTs` falls back to tsx for anything not compiled here.
 */
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import ts from "typescript";
import { REPO_ROOT } from "./test-run.js";

/** The folders of the repository whose files processes run. */
const COMPILED_FOLDERS = ["src", "tests/support"];

const COMPILER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ES2022,
  verbatimModuleSyntax: true,
  isolatedModules: true,
  esModuleInterop: true,
};

/** Compiles into `outDir` (made here); returns it. */
export function compileForProcesses(outDir: string): string {
  for (const folder of COMPILED_FOLDERS) {
    for (const file of filesUnder(join(REPO_ROOT, folder))) {
      const relativePath = file.slice(REPO_ROOT.length);
      const target = join(outDir, relativePath);
      mkdirSync(dirname(target), { recursive: true });
      if (file.endsWith(".ts") && !file.endsWith(".d.ts")) {
        const { outputText } = ts.transpileModule(readFileSync(file, "utf8"), { compilerOptions: COMPILER_OPTIONS, fileName: file });
        writeFileSync(target.replace(/\.ts$/, ".js"), outputText);
      } else {
        copyFileSync(file, target);
      }
    }
  }
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
