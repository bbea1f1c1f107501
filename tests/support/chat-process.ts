/**
 * The terminal chat (`src/cli/chat.ts`) in a process of its own, with piped stdin: what a user
 * sees, read as it arrives.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { PROCESS_WAIT_MS, spawnTs } from "./spawn.js";
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

/** Starts the chat with `args`, exactly `env` (plus PATH), in `cwd` (a temp dir: no `.env` leaks in). */
export function startChat(args: string[], env: Record<string, string>, cwd: string): ChatProcess {
  const child = spawnTs("src/cli/chat.ts", env, cwd, args);
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  let closed = false;
  child.once("close", () => (closed = true));
  // A chat that exited early would make writes fail with EPIPE; the exit code tells the story.
  child.stdin.on("error", () => undefined);
  // "close", not "exit": by then everything it printed has been read.
  const exited = once(child, "close").then(([code, signal]) => (code as number | null) ?? (signal as string | null));
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
    async waitForOutput(text, timeoutMs = PROCESS_WAIT_MS) {
      const seen = () => (typeof text === "string" ? stdout.includes(text) : text.test(stdout));
      // A chat that ended (and closed its output) will print nothing more: no use waiting.
      await until(() => seen() || closed, timeoutMs).catch(() => undefined);
      if (!seen()) throw new Error(`chat never printed ${String(text)}${closed ? ` (it exited: ${child.exitCode ?? child.signalCode})` : ""}\nstdout: ${stdout}\nstderr: ${stderr}`);
    },
    exited,
  };
}

/** Runs a chat on `input` (all of it at once, then end of input) and returns how it ended. */
export async function runChat(args: string[], env: Record<string, string>, cwd: string, input: string, timeoutMs = PROCESS_WAIT_MS) {
  const chat = startChat(args, env, cwd);
  chat.write(input);
  chat.end();
  const timer = setTimeout(() => chat.child.kill("SIGKILL"), timeoutMs);
  const code = await chat.exited;
  clearTimeout(timer);
  return { code, stdout: chat.stdout, stderr: chat.stderr };
}
