/**
 * The terminal chat run by tests, with piped input: what a user sees, read as it arrives. Either
 * the real CLI (`src/cli/chat.ts`) in a process of its own (`startChat`, `runChat`), or the same
 * command in the test's own process on streams the test holds (`startChatInProcess`,
 * `runChatInProcess`): the chat, its backends and its exit codes without the second or two a
 * process takes to load the agent. A file keeps a few process tests (signals, exit codes,
 * memory across processes) and runs the rest in process.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { EventEmitter, once } from "node:events";
import { PassThrough, Writable } from "node:stream";
import { loadConfig } from "../../src/config.js";
import { runChatCommand } from "../../src/cli/chat-command.js";
import { PROCESS_WAIT_MS, spawnTs } from "./spawn.js";
import { until } from "./until.js";

/** A running chat. */
export interface Chat {
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
  /** Resolves with the exit code (or, for a process, the signal's name) when the chat ends. */
  exited: Promise<number | string | null>;
}

/** A chat in a process of its own. */
export interface ChatProcess extends Chat {
  child: ChildProcessWithoutNullStreams;
}

/** A chat in the test's process. */
export interface ChatInProcess extends Chat {
  /** What SIGINT (Ctrl-C on a pipe) does to the CLI. */
  interrupt(): void;
  /** What SIGTERM does to the CLI. */
  terminate(): void;
}

/** How a chat run on a whole input ended. */
export interface ChatResult {
  code: number | string | null;
  stdout: string;
  stderr: string;
}

/** What a chat printed, and a wait on it, whichever way it runs; `watch` its end. */
function transcript() {
  let stdout = "";
  let stderr = "";
  /** How the chat ended, once it has. */
  let end: string | undefined;
  return {
    watch<T>(exited: Promise<T>): Promise<T> {
      void exited.then(
        (code) => (end = String(code)),
        (error: unknown) => (end = `threw ${String(error)}`),
      );
      return exited;
    },
    addStdout: (text: string) => void (stdout += text),
    addStderr: (text: string) => void (stderr += text),
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    async waitForOutput(text: string | RegExp, timeoutMs = PROCESS_WAIT_MS) {
      const seen = () => (typeof text === "string" ? stdout.includes(text) : text.test(stdout));
      // A chat that ended (and closed its output) will print nothing more: no use waiting.
      await until(() => seen() || end !== undefined, timeoutMs).catch(() => undefined);
      if (!seen()) throw new Error(`chat never printed ${String(text)}${end === undefined ? "" : ` (it exited: ${end})`}\nstdout: ${stdout}\nstderr: ${stderr}`);
    },
  };
}

/** Starts the chat with `args`, exactly `env` (plus PATH), in `cwd` (a temp dir: no `.env` leaks in). */
export function startChat(args: string[], env: Record<string, string>, cwd: string): ChatProcess {
  const child = spawnTs("src/cli/chat.ts", env, cwd, args);
  // "close", not "exit": by then everything it printed has been read.
  const printed = transcript();
  const exited = printed.watch(once(child, "close").then(([code, signal]) => (code as number | null) ?? (signal as string | null)));
  child.stdout.on("data", (chunk: Buffer) => printed.addStdout(chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => printed.addStderr(chunk.toString()));
  // A chat that exited early would make writes fail with EPIPE; the exit code tells the story.
  child.stdin.on("error", () => undefined);
  return {
    child,
    get stdout() {
      return printed.stdout;
    },
    get stderr() {
      return printed.stderr;
    },
    write: (text) => void child.stdin.write(text),
    end: () => child.stdin.end(),
    waitForOutput: (text, timeoutMs) => printed.waitForOutput(text, timeoutMs),
    exited,
  };
}

/** Runs a chat on `input` (all of it at once, then end of input) and returns how it ended. */
export async function runChat(args: string[], env: Record<string, string>, cwd: string, input: string, timeoutMs = PROCESS_WAIT_MS): Promise<ChatResult> {
  const chat = startChat(args, env, cwd);
  chat.write(input);
  chat.end();
  const timer = setTimeout(() => chat.child.kill("SIGKILL"), timeoutMs);
  const code = await chat.exited;
  clearTimeout(timer);
  return { code, stdout: chat.stdout, stderr: chat.stderr };
}

/**
 * Runs the chat's command (`runChatCommand`, what `src/cli/chat.ts` runs) with `args` in this
 * process, configured by exactly `env` (no `.env`, no `process.env`). Not at a terminal, unless
 * `interactive`: then readline reads the input as keys typed at one (Ctrl-C is "\u0003").
 */
export function startChatInProcess(args: string[], env: Record<string, string>, options: { interactive?: boolean } = {}): ChatInProcess {
  const input = new PassThrough();
  const interruption = new AbortController();
  const interrupts = new EventEmitter();
  const printed = transcript();
  const sink = (add: (text: string) => void) =>
    new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        add(chunk.toString());
        callback();
      },
    });
  const exited = printed.watch(
    runChatCommand({
      argv: args,
      loadConfig: () => loadConfig(env),
      input,
      output: sink(printed.addStdout),
      errors: sink(printed.addStderr),
      interactive: options.interactive ?? false,
      signal: interruption.signal,
      interrupts,
    }),
  );
  return {
    get stdout() {
      return printed.stdout;
    },
    get stderr() {
      return printed.stderr;
    },
    write: (text) => void input.write(text),
    end: () => void input.end(),
    waitForOutput: (text, timeoutMs) => printed.waitForOutput(text, timeoutMs),
    interrupt: () => void interrupts.emit("interrupt"),
    terminate: () => interruption.abort(),
    exited,
  };
}

/** Runs the chat's command in this process on `input` (all of it at once, then end of input); see `startChatInProcess`. */
export async function runChatInProcess(args: string[], env: Record<string, string>, input: string): Promise<ChatResult> {
  const chat = startChatInProcess(args, env);
  chat.write(input);
  chat.end();
  const code = await chat.exited;
  return { code, stdout: chat.stdout, stderr: chat.stderr };
}
