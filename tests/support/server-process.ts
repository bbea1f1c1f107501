import { Client } from "@langchain/langgraph-sdk";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { PROCESS_WAIT_MS, spawnNode, spawnTs } from "./spawn.js";
import { until } from "./until.js";

/** The service running as `src/main.ts` in a process of its own. */
export interface ServerProcess {
  child: ChildProcessWithoutNullStreams;
  port: number;
  baseUrl: string;
  client: Client;
  /** Every JSON log line printed so far. */
  logs: Array<Record<string, unknown>>;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<number | string | null>;
  /** Waits until a log line matches `predicate`; fails (with the logs) after a generous bound. */
  waitForLog(predicate: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
}

/**
 * Starts `src/main.ts` (or `options.script`, a JavaScript file run by plain Node, such as a
 * build's `dist/main.js`) with exactly `env` (plus PORT=0), in `cwd`, and waits until it says it
 * listens (the port is read from that line). A server that does not start is killed.
 */
export async function startServerProcess(env: Record<string, string>, cwd: string, options: { apiKey?: string; script?: string } = {}): Promise<ServerProcess> {
  // The port and the lines tests look for are read from the info-level log.
  const serverEnv = { PORT: "0", ...env, LOG_LEVEL: "info" };
  const child = options.script ? spawnNode([options.script], serverEnv, cwd) : spawnTs("src/main.ts", serverEnv, cwd);
  const logs: Array<Record<string, unknown>> = [];
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  // "close", not "exit": by then every line it printed has been read.
  const exited = once(child, "close").then(([code, signal]) => (code as number | null) ?? (signal as string | null));
  let closed = false;
  void exited.then(() => (closed = true));
  let buffered = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) if (line.startsWith("{")) logs.push(JSON.parse(line) as Record<string, unknown>);
  });
  const waitForLog = async (predicate: (line: Record<string, unknown>) => boolean) => {
    // A server that ended (and closed its output) will log nothing more: no use waiting.
    await until(() => logs.some(predicate) || closed, PROCESS_WAIT_MS).catch(() => undefined);
    const line = logs.find(predicate);
    if (line) return line;
    throw new Error(`the server never logged what the test waits for${closed ? ` (it exited: ${child.exitCode ?? child.signalCode})` : ""}\nlogs: ${logs.map((entry) => JSON.stringify(entry)).join("\n")}\nstderr: ${stderr}`);
  };
  let port: number;
  try {
    const listening = await waitForLog((line) => typeof line.port === "number" && String(line.msg).startsWith("listening"));
    port = listening.port as number;
  } catch (error) {
    child.kill("SIGKILL");
    throw new Error(`server did not start: ${(error as Error).message}`);
  }
  const baseUrl = `http://127.0.0.1:${port}`;
  return { child, port, baseUrl, client: new Client({ apiUrl: baseUrl, apiKey: options.apiKey ?? null, callerOptions: { maxRetries: 0 } }), logs, exited, waitForLog };
}
