/**
 * The terminal chat (`src/cli/chat.ts`) in a process of its own, with piped stdin: what a user
 * sees, read as it arrives.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { spawnTs } from "./spawn.js";
import { until } from "./until.js";

/** A running chat. */
export interface ChatProcess {
  child: ChildProcessWithoutNullStreams;
  /** Everything printed on stdout so far. */
  readonly stdout: string;
  /** Everything printed on stderr so far. */
  readonly stderr: string;
  /** Writes `text` to the chat's stdin as is (add the newlines). */
  write(text: string): void;
  /** Closes stdin: what Ctrl-D does at a terminal. */
  end(): void;
  /** Waits until stdout holds `text`; fails after `timeoutMs` with what was printed. */
  waitForOutput(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Resolves with the exit code (or the signal's name) when the process ends. */
  exited: Promise<number | string | null>;
}

/** Every chat started, so that teardown can kill what a failed test left running. */
const started = new Set<ChildProcessWithoutNullStreams>();

/** Starts the chat with `args`, exactly `env` (plus PATH), in `cwd` (a temp dir: no `.env` leaks in). */
export function startChat(args: string[], env: Record<string, string>, cwd: string): ChatProcess {
  const child = spawnTs("src/cli/chat.ts", env, cwd, args);
  started.add(child);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  // A chat that exited early would make writes fail with EPIPE; the exit code tells the story.
  child.stdin.on("error", () => undefined);
  const exited = once(child, "exit").then(([code, signal]) => {
    started.delete(child);
    return (code as number | null) ?? (signal as string | null);
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    write: (text) => void child.stdin.write(text),
    end: () => child.stdin.end(),
    async waitForOutput(text, timeoutMs = 15_000) {
      const seen = () => (typeof text === "string" ? stdout.includes(text) : text.test(stdout));
      await until(seen, timeoutMs).catch(() => {
        throw new Error(`chat never printed ${String(text)}\nstdout: ${stdout}\nstderr: ${stderr}`);
      });
    },
    exited,
  };
}

/** Runs a chat on `input` (all of it at once, then end of input) and returns how it ended. */
export async function runChat(args: string[], env: Record<string, string>, cwd: string, input: string, timeoutMs = 20_000) {
  const chat = startChat(args, env, cwd);
  chat.write(input);
  chat.end();
  const timer = setTimeout(() => chat.child.kill("SIGKILL"), timeoutMs);
  const code = await chat.exited;
  clearTimeout(timer);
  return { code, stdout: chat.stdout, stderr: chat.stderr };
}

/** Kills every chat still running (for `afterEach`). */
export async function killChats(): Promise<void> {
  const running = [...started];
  for (const child of running) child.kill("SIGKILL");
  await Promise.all(running.map((child) => (child.exitCode === null && child.signalCode === null ? once(child, "exit") : undefined)));
}
