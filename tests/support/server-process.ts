import { Client } from "@langchain/langgraph-sdk";
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { once } from "node:events";
import { spawnTs } from "./spawn.js";

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
}

/** Starts `src/main.ts` with exactly `env` (plus PORT=0), in `cwd`, and waits until it listens. */
export async function startServerProcess(env: Record<string, string>, cwd: string, clientOptions: { apiKey?: string } = {}): Promise<ServerProcess> {
  // The port and the lines tests look for are read from the info-level log.
  const child = spawnTs("src/main.ts", { PORT: "0", ...env, LOG_LEVEL: "info" }, cwd);
  const logs: Array<Record<string, unknown>> = [];
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = once(child, "exit").then(([code, signal]) => (code as number | null) ?? (signal as string | null));
  let buffered = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in time: ${stderr}`)), 20_000);
    void exited.then((code) => reject(new Error(`server exited (${code}) before listening: ${stderr}`)));
    child.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.startsWith("{")) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (typeof entry.port === "number" && entry.msg?.toString().startsWith("listening")) {
          clearTimeout(timer);
          resolve(entry.port);
        }
      }
    });
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  return { child, port, baseUrl, client: new Client({ apiUrl: baseUrl, apiKey: clientOptions.apiKey ?? null, callerOptions: { maxRetries: 0 } }), logs, exited };
}
