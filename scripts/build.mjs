#!/usr/bin/env node
/**
 * `npm run build` (and `prepare`, so `npm install` leaves a runnable package): compiles src/ to
 * dist/ with TypeScript (tsconfig.build.json: JavaScript, declarations, source maps), then copies
 * beside the compiled files every file of src/ that is not TypeScript, since the code loads them
 * at run time by paths relative to itself (`new URL(..., import.meta.url)`): the web page
 * (src/web/), the API reference's script (src/server/openapi/docs-init.js), the document worker
 * (src/retrieval/document-worker.mjs). dist/ mirrors src/ folder for folder, so those paths, and
 * `../../../package.json` from src/server/routes/meta.ts, resolve from dist/ as they do from src/.
 *
 * The output folder is emptied first, so nothing of an earlier build survives. Plain JavaScript
 * with no dependency but TypeScript, so it runs wherever `npm install` does.
 *
 * Usage: node scripts/build.mjs [--out-dir <folder>]   (default: dist/ in the repository; a
 * relative folder is taken from the current directory). Tests build into a temporary folder.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SOURCE = join(ROOT, "src");

const { values } = parseArgs({ options: { "out-dir": { type: "string" } } });
const outDir = values["out-dir"] ? resolve(values["out-dir"]) : join(ROOT, "dist");
/** Whether `folder` is `outDir` or inside it. */
const holds = (folder) => {
  const path = relative(outDir, folder);
  return !path.startsWith("..") && !isAbsolute(path);
};
// The folder is deleted whole: never one that holds the repository.
if (holds(ROOT)) {
  console.error(`build: refusing to empty ${outDir}: it holds the repository`);
  process.exit(1);
}

let tsc;
try {
  tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
} catch {
  console.error("build: TypeScript is not installed. Run `npm install` (with the devDependencies) first.");
  process.exit(1);
}

rmSync(outDir, { recursive: true, force: true });
// tsc in this Node process's own binary: no shell, no PATH lookup, the same on every platform.
const compiled = spawnSync(process.execPath, [tsc, "-p", join(ROOT, "tsconfig.build.json"), "--outDir", outDir], { stdio: "inherit" });
if (compiled.status !== 0) process.exit(compiled.status ?? 1);

let copied = 0;
for (const file of filesUnder(SOURCE)) {
  // TypeScript (declarations included) is what tsc compiled or only type-checks; anything else is loaded as it is.
  if (file.endsWith(".ts")) continue;
  const target = join(outDir, relative(SOURCE, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
  copied += 1;
}
console.log(`build: compiled src/ to ${relative(process.cwd(), outDir) || "."} and copied ${copied} other files`);

/** Every file under `dir`, in all its subfolders. */
function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(path) : [path];
  });
}
