import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";

/** The repository root, whatever the working directory of the test run. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX_LOADER = import.meta.resolve("tsx");

/**
 * Runs a TypeScript file of this repo in a new Node process, in `cwd` (a temp dir, so that no
 * developer's `.env` leaks in), with exactly `env` plus PATH.
 */
export function spawnTs(file: string, env: Record<string, string>, cwd: string, args: string[] = []): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, ["--import", TSX_LOADER, new URL(file, `file://${REPO_ROOT}`).pathname, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? "", ...env },
    stdio: "pipe",
  });
}

/** Waits for the process to exit; returns its exit code and everything it printed. */
export async function finished(child: ChildProcessWithoutNullStreams, timeoutMs = 20_000) {
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  const [code] = (await once(child, "exit")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
