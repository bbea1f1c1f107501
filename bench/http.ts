/**
 * The HTTP path: `runs.wait` through the server and the official SDK client (latency on one
 * thread, throughput with 16 threads), and the time to the first streamed token over the model's
 * own delay, with ChatOpenAI talking to the test stub. The server runs here; the client runs in
 * a child process, as a real client would, so the two do not share one event loop.
 */
import { execFile } from "node:child_process";
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { loadConfig } from "../src/config.js";
import { createAgent } from "../src/graph/agent.js";
import { createAgentFromConfig } from "../src/composition/agent-from-config.js";
import { type AppDeps, createApp, createServerDeps } from "../src/server/create-app.js";
import { startOpenAiStub } from "../tests/support/openai-stub.js";
import { instantModel } from "./workloads.js";
import { SqliteDatabase } from "../src/storage/sqlite/database.js";
import { sqliteStorage } from "../src/storage/sqlite/storage.js";

const run = promisify(execFile);
const CLIENT = new URL("./http-client.ts", import.meta.url).pathname;

/** Runs the benchmark client against `apiUrl` in its own process and returns what it printed. */
async function client<T>(apiUrl: string, ...args: string[]): Promise<T> {
  const { stdout } = await run(process.execPath, ["--import", import.meta.resolve("tsx"), CLIENT, apiUrl, ...args], { maxBuffer: 1 << 20 });
  return JSON.parse(stdout) as T;
}

async function serve(deps: AppDeps): Promise<{ apiUrl: string; close: () => Promise<void> }> {
  const server: Server = createApp(deps).listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      await deps.crons?.stop();
      await deps.runs.shutdown(0);
      await deps.monitor?.stop();
      await deps.sweeper?.stop();
      await deps.storeSweeper?.stop();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export async function httpBench(dir: string) {
  const storage = sqliteStorage(new SqliteDatabase(join(dir, "http.sqlite")));
  const agent = createAgent({ model: instantModel(), checkpointer: storage.checkpointer, contextTokens: 128_000 });
  const { apiUrl, close } = await serve(await createServerDeps({ agent, storage, logger: pino({ level: "silent" }) }));
  const latency = await client<{ mean: number; p50: number; p95: number }>(apiUrl, "latency");
  const { turns_per_s: throughput } = await client<{ turns_per_s: number }>(apiUrl, "throughput");
  await close();
  await storage.close();
  return { latency_1_thread_ms: latency, throughput_16_threads_turns_per_s: throughput };
}

/** Time from sending a streamed run to its first token, less the delay the model itself takes. */
export async function firstTokenBench(dir: string) {
  const stub = await startOpenAiStub();
  const delayMs = 50;
  stub.respondWith(() => "Here is something worth knowing");
  const config = loadConfig({ OPENAI_BASE_URL: stub.baseUrl, OPENAI_API_KEY: "bench", DATA_DIR: join(dir, "first-token"), MODEL_MAX_RETRIES: "0", LOG_LEVEL: "silent" });
  const { agent, storage } = createAgentFromConfig(config);
  const { apiUrl, close } = await serve(await createServerDeps({ agent, storage, logger: pino({ level: "silent" }) }));
  stub.delayEveryReply(delayMs);
  const overhead = await client<{ mean: number; max: number }>(apiUrl, "first-token", String(delayMs));
  const protocol = await client<{ mean: number; max: number }>(apiUrl, "first-token-protocol", String(delayMs));
  await close();
  await storage.close();
  await stub.close();
  // The same measure both ways: /runs/stream (streamMode messages-tuple) and the agent streaming protocol (ThreadStream).
  return { stub_delay_ms: delayMs, first_token_overhead_ms: overhead, protocol_first_token_overhead_ms: protocol };
}
