/**
 * Once per run of the suite: a folder of its own under the system's temp dir, holding every
 * temporary folder the tests make (TMPDIR, which the test workers inherit), the code that tests
 * run in processes of their own, compiled, and a file per running process a test started. At the
 * end the run FAILS, naming them, if any such process is still alive (they are killed first), or
 * if a test wrote a file into the repository.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import type { TestProject } from "vitest/node";
import { compileForProcesses } from "./compile-for-processes.js";
import { REPO_ROOT, RUN_MARKER } from "./test-run.js";

/** A process the tests left behind. */
interface Leftover {
  pid: number;
  description: string;
}

export default async function setup(project: TestProject): Promise<() => void> {
  const runDir = mkdtempSync(join(tmpdir(), "stateful-agent-run-"));
  const pidDir = join(runDir, "pids");
  const tempDir = join(runDir, "tmp");
  mkdirSync(pidDir);
  mkdirSync(tempDir);
  const id = basename(runDir);
  const compiledRoot = await compileForProcesses(join(runDir, "compiled"));
  project.provide("testRun", { id, pidDir, compiledRoot });
  // Set before the workers start, so that os.tmpdir() is this folder in every test file.
  process.env.TMPDIR = tempDir;
  // In watch mode people edit files while tests run: only a single run checks the repository.
  const watching = project.vitest.config.watch;
  const filesBefore = watching ? undefined : repositoryFiles();

  return () => {
    const leftovers = leftoverProcesses(id, pidDir);
    for (const { pid } of leftovers) killQuietly(pid);
    rmSync(runDir, { recursive: true, force: true });
    const problems: string[] = [];
    if (leftovers.length > 0) {
      problems.push(`${leftovers.length} process(es) started by tests were still running (now killed):\n${leftovers.map(({ pid, description }) => `  ${pid}: ${description}`).join("\n")}`);
    }
    if (filesBefore) {
      const written = [...repositoryFiles()].filter((file) => !filesBefore.has(file));
      if (written.length > 0) problems.push(`tests wrote into the repository (use a temporary folder):\n${written.map((file) => `  ${file}`).join("\n")}`);
    }
    if (problems.length === 0) return;
    // A throwing teardown is only reported by vitest; the exit code is what makes the run fail.
    process.exitCode = 1;
    throw new Error(problems.join("\n"));
  };
}

/**
 * The processes still alive that a test started: those whose pid file is still there, and (on
 * Linux) any process carrying this run's marker in its environment, which also finds the
 * children of children and the browser's helpers.
 */
function leftoverProcesses(id: string, pidDir: string): Leftover[] {
  const found = new Map<number, string>();
  const marker = `${RUN_MARKER}=${id}`;
  const procfs = existsSync("/proc/self/environ");
  for (const name of readdirSync(pidDir)) {
    const pid = Number(name);
    // A pid can be reused: on Linux only a process with this run's marker counts.
    if (!isAlive(pid) || (procfs && !hasMarker(pid, marker))) continue;
    found.set(pid, (JSON.parse(readFileSync(join(pidDir, name), "utf8")) as { description: string }).description);
  }
  if (procfs) {
    for (const name of readdirSync("/proc")) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid || found.has(pid) || !hasMarker(pid, marker)) continue;
      found.set(pid, commandLine(pid));
    }
  }
  return [...found].map(([pid, description]) => ({ pid, description }));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function hasMarker(pid: number, marker: string): boolean {
  try {
    return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(marker);
  } catch {
    return false; // gone, or someone else's
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "(exited)";
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/** Every file in the repository but dependencies and git's own. */
function repositoryFiles(): Set<string> {
  const files = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name === "node_modules" || entry.name === ".git") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else files.add(relative(REPO_ROOT, path));
    }
  };
  walk(REPO_ROOT);
  return files;
}
