/**
 * Every process a test starts goes through here, so that every one dies with its test: each is
 * tracked (and recorded in the run's folder, see `global-setup.ts`), the hooks of
 * `process-cleanup.ts` kill what a test or a file left running, and the global teardown fails the
 * run if anything survived even that.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { expect, inject } from "vitest";
import { REPO_ROOT, RUN_MARKER, type TestRun } from "./test-run.js";

export { REPO_ROOT };
const TSX_LOADER = import.meta.resolve("tsx");

/** Undefined when the suite runs under a config without the global setup (then only the hooks guard). */
const testRun = (): TestRun | undefined => inject("testRun");

/** The environment entry that marks a process as this run's, for a child to inherit. */
export const runMarkerEnv = (): Record<string, string> => {
  const run = testRun();
  return run ? { [RUN_MARKER]: run.id } : {};
};

/** Whether a process was started by a test (and dies after it) or by a file's `beforeAll` (and dies after the file). */
type Scope = "test" | "file";
let scope: Scope = "file";
const running = new Map<ChildProcessWithoutNullStreams, Scope>();

/** Called by `process-cleanup.ts` around each test. */
export const enterScope = (next: Scope): void => {
  scope = next;
};

/** Tracks `child` until it exits; kill it with `killStartedProcesses`. */
function track(child: ChildProcessWithoutNullStreams, description: string): void {
  const { pid } = child;
  if (pid === undefined) return; // did not start: its "error" event says why
  running.set(child, scope);
  const run = testRun();
  const pidFile = run ? join(run.pidDir, String(pid)) : undefined;
  if (pidFile) {
    const { testPath, currentTestName } = expect.getState();
    const startedBy = [testPath ? relative(REPO_ROOT, testPath) : undefined, currentTestName].filter(Boolean).join(" > ");
    writeFileSync(pidFile, JSON.stringify({ description: `${description} (started by ${startedBy || "a test"})` }));
  }
  child.once("exit", () => {
    running.delete(child);
    if (pidFile) rmSync(pidFile, { force: true });
  });
}

const hasExited = (child: ChildProcessWithoutNullStreams) => child.exitCode !== null || child.signalCode !== null;

/**
 * Kills (SIGKILL) the processes started in `scope` (or all) that are still running, and waits
 * until they are gone.
 */
export async function killStartedProcesses(which: Scope | "all" = "all"): Promise<void> {
  const victims = [...running].filter(([child, started]) => (which === "all" || started === which) && !hasExited(child)).map(([child]) => child);
  await Promise.all(
    victims.map(async (child) => {
      const exited = once(child, "exit");
      child.kill("SIGKILL");
      await exited;
    }),
  );
}

/**
 * Runs a TypeScript file of this repo in a new Node process, in `cwd` (a temp dir, so that no
 * developer's `.env` leaks in), with exactly `env` plus PATH and the run's marker. Node runs the
 * file as compiled for this run (`compile-for-processes.ts`), or else with tsx's loader: node
 * itself either way, so that there is no wrapper process whose child could outlive it.
 */
export function spawnTs(file: string, env: Record<string, string>, cwd: string, args: string[] = []): ChildProcessWithoutNullStreams {
  const compiledRoot = testRun()?.compiledRoot;
  const compiled = compiledRoot ? join(compiledRoot, file.replace(/\.ts$/, ".js")) : undefined;
  const entry = compiled && existsSync(compiled) ? [compiled] : ["--import", TSX_LOADER, join(REPO_ROOT, file)];
  return spawnNode([...entry, ...args], env, cwd, [file, ...args].join(" "));
}

/**
 * Runs plain Node (this one's binary, no loader) with `args`, in `cwd`, with exactly `env` plus
 * PATH and the run's marker; tracked like `spawnTs`'s processes. `description` names it in reports.
 */
export function spawnNode(args: string[], env: Record<string, string>, cwd: string, description = args.join(" ")): ChildProcessWithoutNullStreams {
  const child = spawn(process.execPath, args, {
    cwd,
    env: { PATH: process.env.PATH ?? "", ...runMarkerEnv(), ...env },
    stdio: "pipe",
  });
  track(child, description);
  return child;
}

/**
 * How long a child may take for anything a test waits on (starting, answering, exiting): a bound
 * for when something is broken, not an expectation; generous, as the machine may be busy.
 */
export const PROCESS_WAIT_MS = 120_000;

/** Test and hook timeouts for files that start processes: above every wait on a child. */
export const PROCESS_TEST_TIMEOUTS = { testTimeout: 300_000, hookTimeout: 300_000 };

/** Waits for the process (just started) to exit; returns its exit code and everything it printed. Kills it after `timeoutMs`. */
export async function finished(child: ChildProcessWithoutNullStreams, timeoutMs = PROCESS_WAIT_MS) {
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  // "close", not "exit": by then everything it printed has been read.
  const [code] = (await once(child, "close")) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
